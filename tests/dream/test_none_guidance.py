"""The dream side of "none of these": it never steers the guidance and has no portrait."""

from __future__ import annotations

import pytest

from performer.dream.guidance import GuideMix
from performer.dream.portraits import IDLE, load_portrait, portrait_path
from performer.engine.scene import class_image


def test_none_takes_no_share_of_the_guide_mix_and_the_rest_is_renormalised():
    mix = GuideMix()
    mix.jump((("dog_bark", (207,), 0.3), ("none", (1, 2), 0.6), ("siren", (407,), 0.1)))
    assert mix.weights == pytest.approx({"dog_bark": 0.75, "siren": 0.25})
    assert "none" not in mix.targets and mix.top() == "dog_bark"
    mix.update((("none", (1,), 1.0),), dt=10.0, crossfade=1.0)  # none alone: an empty goal, the picture holds
    assert mix.weights == pytest.approx({"dog_bark": 0.75, "siren": 0.25})
    assert all(targets != (1, 2) and targets != (1,) for targets, _ in mix.groups())


def test_none_has_no_portrait_even_when_a_file_is_named_after_it(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8), (255, 0, 0)).save(portrait_path("none", tmp_path))
    Image.new("RGB", (8, 8), (0, 255, 0)).save(portrait_path("dog_bark", tmp_path))
    assert load_portrait("none", tmp_path) is None
    assert load_portrait("dog_bark", tmp_path) is not None
    assert class_image("none", {}) is load_portrait(IDLE)  # a lookup never fails: the idle dream
