"""The Deep Dream renderer: continuous, class-guided, fast.

``DreamRenderer`` is the live renderer (``prepare(params)`` then ``frame(params, scene)``
per output frame); ``Scene`` is what the engine tells it each frame;
``DEFAULT_CLASS_GUIDES`` maps the ten sound classes to ImageNet targets.
Heavy modules (torch) are imported when a renderer is used, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from performer.dream.guides import DEFAULT_CLASS_GUIDES
from performer.dream.layers import parse_layers

if TYPE_CHECKING:
    from performer.dream.renderer import DreamRenderer, Scene

__all__ = ["DEFAULT_CLASS_GUIDES", "DreamRenderer", "Scene", "parse_layers"]


def __getattr__(name: str):
    if name in ("DreamRenderer", "Scene"):
        from performer.dream import renderer

        return getattr(renderer, name)
    raise AttributeError(f"module 'performer.dream' has no attribute {name!r}")
