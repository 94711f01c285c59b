"""Which class the dream follows each frame, with its guide mix and its image: the engine's reading of the analysis.

* Silence, or a classifier less sure than ``dream.follow_confidence``: no class (the renderer keeps what it has).
* A real class on top: that class, its image, and the guide mix of the classes heard (those with targets and a
  probability of 0.3 or more -- a class that is only in the air does not turn the picture into a mean of the
  recent classes; the mix is renormalised over them, so ``none`` never takes a share of it).
* ``none`` on top ("none of these", :mod:`performer.sound.labels`): the class the dream shows *holds* -- the
  same key (no class change, no restart, no portrait pull), its image for a restart, and an empty mix, which keeps
  the guidance's weights where they are (:class:`~performer.dream.guidance.GuideMix`). The picture keeps evolving
  from what it shows; before any real class was shown, it is the idle dream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from performer.analysis import Analysis
from performer.dream.portraits import IDLE, load_portrait
from performer.sound.labels import is_none

Mix = tuple[tuple[str, tuple[int, ...], float], ...]
MIX_FLOOR = 0.3
"""A class takes part in the guide mix from this smoothed probability (the followed class always does)."""


@dataclass(frozen=True)
class Choice:
    """What the dream follows this frame."""

    key: str | None
    """The class the dream follows; None: none to follow (the renderer keeps its class)."""
    mix: Mix
    """(class, ImageNet targets, probability) the guidance glides towards; empty keeps the guidance as it is."""
    image: np.ndarray | None
    """The followed class's image (the preset's, else its portrait), else the idle portrait."""


def choose(a: Analysis | None, follow: float, guides: Mapping[str, tuple[int, ...]],
           images: Mapping[str, np.ndarray], shown: str | None) -> Choice:
    """The class to follow for analysis ``a``; ``shown`` is the class the dream shows now (None before any)."""
    if a is None or a.silent:
        return Choice(None, (), class_image(None, images))
    if a.hears_none:
        return Choice(shown, (), class_image(shown, images))
    if a.confidence < follow:
        return Choice(None, (), class_image(None, images))
    key = a.top_name
    mix: Mix = ()
    if key in guides:
        mix = tuple((c, guides[c], float(p)) for c, p in zip(a.classes, a.probs)
                    if c in guides and not is_none(c) and (p >= MIX_FLOOR or c == key))
    return Choice(key, mix, class_image(key, images))  # a class without targets still moves to its own seed


def class_image(key: str | None, images: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The preset's image for the class, else its built-in portrait, else the idle portrait (``none`` has none)."""
    if key is not None and key in images:
        return images[key]
    portrait = load_portrait(key) if key and not is_none(key) else None
    return portrait if portrait is not None else load_portrait(IDLE)
