"""What each sound class dreams towards: its ImageNet targets and its seed image, from the preset and the defaults.

``none`` ("none of these", :mod:`performer.sound.labels`) dreams towards nothing of its own: when it wins the
dream holds the class it shows. A preset's ``[classes.none]`` table is therefore refused (reported in one line at
every install, the rest of the preset applies), and ``none`` never gets a guide, an image or a portrait.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from performer.presets import Preset
from performer.sound.labels import NONE_CLASS, is_none

log = logging.getLogger(__name__)


def class_tables(preset: Preset, report: bool = False) -> dict[str, dict]:
    """The preset's ``[classes.*]`` tables that may act: all but ``[classes.none]`` (logged with ``report``)."""
    if report and NONE_CLASS in preset.classes:
        log.error("preset %s: classes.%s = %r: refused, %r (none of these) keeps the dream's picture and takes no "
                  "guide or image; allowed: a table for one of the classifier's other classes", preset.name,
                  NONE_CLASS, preset.classes[NONE_CLASS], NONE_CLASS)
    return {c: spec for c, spec in preset.classes.items() if not is_none(c)}


def class_guides(preset: Preset, classes: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """ImageNet targets per class: the preset's ``guide``, else the built-in guide of a known sound class."""
    from performer.dream.guides import DEFAULT_CLASS_GUIDES, resolve_guides

    guides = {c: DEFAULT_CLASS_GUIDES[c] for c in classes if c in DEFAULT_CLASS_GUIDES and not is_none(c)}
    for cls, spec in class_tables(preset, report=True).items():
        if "guide" in spec:
            try:
                guides[cls] = resolve_guides(spec["guide"])
            except ValueError as e:
                log.error("preset %s: class %s guide: %s; that class keeps its built-in guide", preset.name, cls, e)
    return {c: g for c, g in guides.items() if g}


def load_class_images(preset: Preset) -> dict[str, np.ndarray]:
    """Load the per-class seed images a preset names; a missing file is reported, and that class seeds from its
    built-in portrait."""
    from PIL import Image

    images = {}
    for cls, spec in class_tables(preset).items():
        if "image" not in spec:
            continue
        path = preset.resolve(spec["image"])
        try:
            with Image.open(path) as im:
                images[cls] = np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as e:
            log.error("preset %s: class %s image %s cannot be read (%s); that class starts from its portrait",
                      preset.name, cls, path, e)
    return images


def class_colours(preset: Preset) -> dict[str, tuple[float, float, float]]:
    """The preset's ``[classes.X] colour`` per class, RGB in [0, 1] (the dream's colour is held near it); a bad
    one is reported and that class keeps its portrait's colours."""
    from performer.dream.grade import parse_colour

    colours = {}
    for cls, spec in class_tables(preset).items():
        if "colour" in spec:
            try:
                colours[cls] = parse_colour(spec["colour"])
            except ValueError as e:
                log.error("preset %s: class %s: %s; that class keeps its portrait's colours", preset.name, cls, e)
    return colours
