"""A small, fast engine configuration shared by the engine and control tests."""

from __future__ import annotations

from performer.params import ParamStore
from performer.presets import Preset


def small_store() -> ParamStore:
    store = ParamStore()
    return store


SMALL = {"dream.width": 64, "dream.height": 64, "dream.iterations": 1, "output.fps": 8.0,
         "classifier.window": 0.5, "classifier.hop": 0.1, "classifier.smoothing": 0.0,
         "classifier.hold": 0.0, "classifier.hysteresis": 0.1}


def small_preset(**extra) -> Preset:
    return Preset(name="test", params={**SMALL, **extra})
