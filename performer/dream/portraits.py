"""Class portraits: a finished dream of each sound class, the seed a live dream starts from.

A live dream never starts from noise unless a preset asks for it: it starts from the portrait of the class it
hears first (or from the ``idle`` portrait, an unguided dream, before any class is heard), and a class change pulls
the picture towards the new class's portrait. The portraits ship as small JPEG files in this package's
``portraits/`` folder; ``performer portraits`` renders them anew from the class guides
(:data:`~performer.dream.guides.DEFAULT_CLASS_GUIDES`) -- run it when the guides or the network change.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from performer.sound.labels import is_none

if TYPE_CHECKING:
    import torch

    from performer.dream.backbone import Backbone

log = logging.getLogger(__name__)

PORTRAIT_DIR = Path(__file__).resolve().parent / "portraits"
IDLE = "idle"
"""The portrait a dream starts from before any class is heard: the network's own unguided dream."""
SIZE = (720, 1280)
"""(height, width) of a shipped portrait: the default output's size, so the picture a show starts from and
morphs to has its fine structure dreamed at the size it is seen."""

#: How a portrait is drawn: a classic multi-octave Deep Dream from a smooth seed, guided with the regularisation
#: that makes objects rather than speckle (random transforms, a 1/f step, decorrelated colour). A class portrait
#: climbs the class alone (layer weight 0: the layer's eyes-and-fur would cover every class); the idle portrait
#: climbs the layer alone.
RECIPE: dict[str, Any] = {"network": "efficientnet_lite0", "layer": "blocks.10", "layer_weight": 0.0,
                          "guide_weight": 1.5, "lr": 0.03, "jitter": 8, "grad_smooth": 1.0, "robustness": 1.0,
                          "freq_decay": 1.0, "iterations": 20, "octaves": 4, "octave_scale": 1.4, "seed": 0}


def portrait_path(name: str, folder: Path = PORTRAIT_DIR) -> Path:
    return folder / f"{name}.jpg"


@functools.lru_cache(maxsize=64)
def load_portrait(name: str, folder: Path = PORTRAIT_DIR) -> np.ndarray | None:
    """The shipped portrait of class ``name`` as HxWx3 uint8, or None when there is none (``none``, "none of
    these", never has one: it shows the picture of the class before it)."""
    from PIL import Image

    if is_none(name):
        return None
    path = portrait_path(name, folder)
    if not path.is_file():
        return None
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB")).copy()
    except (OSError, ValueError) as e:
        log.error("class portrait %s cannot be read (%s); that class starts from the idle portrait", path, e)
        return None


def smooth_seed(size: tuple[int, int], gen: torch.Generator | None, device: Any = "cpu",
                colour: tuple[float, float, float] | None = None) -> torch.Tensor:
    """Large soft colour blobs around mid grey (or around ``colour``, RGB in [0, 1]): a seed with no fine grain
    for the dream to amplify."""
    import torch
    import torch.nn.functional as F

    from performer.dream.core import CL

    h, w = size
    coarse = torch.rand(1, 3, 4, 6, generator=gen)
    centre = torch.full((1, 3, 1, 1), 0.5) if colour is None else 0.5 + 0.6 * (torch.tensor(colour).view(1, 3, 1, 1)
                                                                              - 0.5)
    x = centre + 0.25 * (F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False) - 0.5)
    return x.clamp_(0, 1).to(device).contiguous(memory_format=CL)


def render_portrait(backbone: Backbone, targets: Sequence[int], size: tuple[int, int] = SIZE,
                    recipe: Mapping[str, Any] = RECIPE, colour: tuple[float, float, float] | None = None,
                    seed: int = 0) -> np.ndarray:
    """A finished dream towards ImageNet ``targets`` (none: the unguided idle portrait), HxWx3 uint8; with
    ``colour`` it grows from a seed of that colour and is graded to it (:mod:`performer.dream.grade`)."""
    import torch

    from performer.dream import core, grade

    gen = torch.Generator().manual_seed(int(recipe["seed"]) + seed)
    base = smooth_seed(size, gen, next(backbone.stages.parameters()).device, colour)
    layer_weight = float(recipe["layer_weight"]) if targets else 1.0
    obj = core.Objective(((backbone.index(recipe["layer"]), layer_weight),), tuple(targets),
                         float(recipe["guide_weight"]) if targets else 0.0)
    s = core.StepSettings(float(recipe["lr"]), int(recipe["jitter"]), "mean_abs", float(recipe["grad_smooth"]),
                          float(recipe["robustness"]), float(recipe["freq_decay"]), True)
    out = core.dream_octaves(backbone, base, obj, s, int(recipe["iterations"]), int(recipe["octaves"]),
                             float(recipe["octave_scale"]), gen)
    if colour is not None:
        now = grade.stats_of(out[..., ::8, ::8])
        out = grade.apply(out, *grade.correction(now, now.tinted(colour), 1.0))
    return core.to_uint8(out)


def write_portraits(guides: Mapping[str, Sequence[int]], folder: Path = PORTRAIT_DIR, *, device: str = "auto",
                    quality: int = 90, colours: Mapping[str, str] | None = None,
                    only: Sequence[str] = ()) -> list[Path]:
    """Render the idle portrait and one per class of ``guides`` (each in its colour of ``colours``, '#rrggbb')
    into ``folder`` (``only``: just these); returns the files written."""
    import zlib

    from PIL import Image

    from performer.device import choose_device
    from performer.dream.backbones import load_backbone
    from performer.dream.grade import parse_colour

    backbone = load_backbone(str(RECIPE["network"]), download=False).to(choose_device(device))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, targets in {IDLE: (), **dict(guides)}.items():
        if only and name not in only:
            continue
        colour = parse_colour(colours[name]) if colours and name in colours else None
        img = render_portrait(backbone, tuple(targets), colour=colour, seed=zlib.crc32(name.encode()) % 1000)
        path = portrait_path(name, folder)
        Image.fromarray(img).save(path, quality=quality, optimize=True)
        log.info("portrait %s written to %s", name, path)
        written.append(path)
    load_portrait.cache_clear()
    return written
