"""Colour that holds: the grade moves a picture's colour statistics to its class's, never flattens its
contrast, and a preset's class colour is checked like every other value."""

import numpy as np
import pytest
import torch

from performer.dream import grade


def colourfulness(x: torch.Tensor) -> float:  # Hasler and Suesstrunk, as ../shared/picture_metrics.py
    a = x[0].permute(1, 2, 0).numpy() * 255.0
    rg = a[..., 0] - a[..., 1]
    yb = 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def pastel(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = 0.5 + 0.08 * (torch.rand(1, 3, 60, 100, generator=g) - 0.5)
    return x.contiguous(memory_format=torch.channels_last)


def vivid() -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.random((60, 100, 3)) ** 2 * 255).astype(np.uint8)


def test_the_hold_brings_a_faded_picture_back_to_its_class_colours():
    hold = grade.ColourHold()
    hold.aim(vivid(), grade.parse_colour("#e0282e"))
    x = pastel()
    start = colourfulness(x)
    for _ in range(30):
        x = hold.hold(x, 0.5, 0.2)
    assert colourfulness(x) > 4 * start
    now = grade.stats_of(x)
    assert now.mean[1] > 0.1  # red-green mean: red, as the class colour asks


def test_the_hold_never_lowers_contrast():
    flat = grade.stats_of(pastel())
    rng = np.random.default_rng(2)
    busy = torch.from_numpy(rng.random((1, 3, 60, 100)).astype(np.float32))
    before = grade.stats_of(busy)
    m, b = grade.correction(before, flat, 1.0)
    after = grade.stats_of(grade.apply(busy, m, b))
    assert after.std[0] >= before.std[0] * 0.98
    assert after.std[1] < before.std[1]  # the chroma spread does go down to the target


def test_without_a_target_or_strength_the_picture_is_untouched():
    x = pastel()
    assert grade.ColourHold().hold(x, 0.5, 0.2) is x
    hold = grade.ColourHold()
    hold.aim(vivid(), None)
    assert hold.hold(x, 0.0, 0.2) is x


@pytest.mark.parametrize("text", ["red", "#12345", "#gg0000", "", "12345678"])
def test_a_bad_colour_names_the_value_and_what_is_allowed(text):
    with pytest.raises(ValueError) as e:
        grade.parse_colour(text)
    assert repr(text) in str(e.value) and "#rrggbb" in str(e.value)


def test_a_preset_class_colour_is_checked(tmp_path):
    from performer.errors import PresetError
    from performer.presets import load_preset

    p = tmp_path / "p.toml"
    p.write_text('format = 1\nname = "p"\n[classes.siren]\ncolour = "scarlet"\n')
    with pytest.raises(PresetError) as e:
        load_preset(p)
    assert "classes.siren.colour" in str(e.value) and "'scarlet'" in str(e.value) and "#rrggbb" in str(e.value)
    p.write_text('format = 1\nname = "p"\n[classes.siren]\ncolour = "#d02030"\n')
    assert load_preset(p).classes["siren"]["colour"] == "#d02030"
