"""The "none of these" class on screen: the composite's bars, the preview and control pages, the engine panel."""

from __future__ import annotations

import numpy as np

from performer.outputs import FrameInfo
from performer.outputs.layout import _BAR, _BAR_TOP, _NONE, _NONE_TOP, Layout
from performer.outputs.preview.control_page import control_page
from performer.outputs.preview.page import page
from performer.outputs.preview.panel import engine_panel
from performer.params import REGISTRY

CLASSES = ("dog_bark", "siren", "none")


def composite(probs: tuple[float, ...], top: str) -> np.ndarray:
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[..., 2] = 255  # a blue dream: none of the bar colours
    info = FrameInfo(1, 0.1, top, max(probs), CLASSES, np.array(probs, np.float32))
    return Layout("composite", 640, 360)(frame, info)


def pixels(img: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(img == np.array(colour, np.uint8), axis=-1).sum())


def test_the_composite_draws_none_in_grey_and_never_as_the_winning_colour():
    room = composite((0.1, 0.1, 0.8), "none")
    assert pixels(room, _NONE_TOP) > 500 and pixels(room, _BAR_TOP) == 0
    dog = composite((0.7, 0.1, 0.2), "dog_bark")
    assert pixels(dog, _BAR_TOP) > 500 and pixels(dog, _NONE) > 50 and pixels(dog, _BAR) > 20
    assert pixels(dog, _NONE_TOP) == 0


def test_the_pages_style_the_none_row_and_the_top_line():
    for html, name in ((page(), "name"), (control_page(REGISTRY), "cname")):
        assert f'.row[data-class="none"] .{name}' in html and '#top[data-class="none"]' in html
        assert "__NONE__" not in html


def test_the_panel_says_which_class_the_dream_holds_while_none_wins():
    status = {"top_class": "none", "confidence": 0.91, "dream_class": "dog_bark", "level_db": -20.0}
    [sound] = [r["value"] for r in engine_panel(status)["rows"] if r["label"] == "Sound"]
    assert sound.startswith("none") and "the dream holds dog bark" in sound
    status = {"top_class": "siren", "confidence": 0.8, "dream_class": "siren"}
    [sound] = [r["value"] for r in engine_panel(status)["rows"] if r["label"] == "Sound"]
    assert "holds" not in sound
    assert not [r for r in engine_panel(status)["rows"] if r["label"] == "Dream class"]  # a known key, in its row
