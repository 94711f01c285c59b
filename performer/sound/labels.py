"""Class names with a meaning of their own, and UrbanSound8K's.

A classifier may have, besides the classes of its data set, the class :data:`NONE_CLASS`: "none of these",
trained on background sound (music, voices, the room) that is none of its classes. When it wins, the engine
keeps the dream's picture instead of following it. This module imports nothing, so every stage may use it.
"""

from __future__ import annotations

NONE_CLASS = "none"

US8K_CLASSES = (
    "air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
    "engine_idling", "gun_shot", "jackhammer", "siren", "street_music",
)
"""UrbanSound8K's ten classes, in its class-ID order: what the data set loader names and the shipped model knows."""


def is_none(name: str | None) -> bool:
    """Whether ``name`` is the "none of these" class."""
    return name == NONE_CLASS


def without_none(classes: list[str] | tuple[str, ...]) -> list[str]:
    """``classes`` less :data:`NONE_CLASS`, in order."""
    return [c for c in classes if not is_none(c)]


def fast_classes_fit(fast: list[str] | tuple[str, ...], main: list[str] | tuple[str, ...]) -> bool:
    """Whether a fast-path model with classes ``fast`` may serve beside a main model with classes ``main``: the
    same classes in the same order, or the same less ``none`` (the fast path never names ``none``, see
    :meth:`performer.analysis.analyzer.Analyzer._fast_path`)."""
    return list(fast) == list(main) or list(fast) == without_none(main)
