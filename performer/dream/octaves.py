"""A live frame's steps: which octave, or which tile of it, each frame dreams.

With ``dream.tile`` 0 the octaves take turns, a whole octave a frame, so each frame costs the same few steps.
With a tile size the picture is dreamed like a classic multi-octave Deep Dream spread over frames: the smallest
octave every frame (``dream.iterations`` steps; a tile a frame if it is larger than a tile), and the larger
octaves one tile a frame (one step), sweeping over all their tiles (:mod:`performer.dream.canvas`). Each region
is dreamed at its octave's scale and only its change is added back to the full-size picture, so the fine
structure is dreamed where it is seen.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from typing import Any

import torch

from performer.dream import canvas, core
from performer.dream.backbones import Backbone
from performer.dream.canvas import Region, Sweep
from performer.params import Snapshot

DETAIL_FREQ_DECAY = 0.5
"""The share of dream.freq_decay the larger octaves' tiles use: a tile's "large shapes" are the picture's fine
structure (with all of it the picture's detail fades within a minute)."""


def step_settings(params: Snapshot) -> core.StepSettings:
    """The step's settings from the parameters."""
    d = params.dream
    return core.StepSettings(d.lr, d.jitter, d.grad_norm, d.grad_smooth, d.robustness, d.freq_decay, d.decorrelate)


class Octaves:
    """Plans and takes a frame's steps on the picture; keeps the turn and the tile sweeps between frames."""

    def __init__(self, seed: int, interrupted: threading.Event) -> None:
        self._rng = random.Random(seed)
        self._interrupted = interrupted
        self._phase = 0
        self._base = Sweep(self._rng)
        self._detail = Sweep(self._rng)

    def restart(self) -> None:
        self._phase = 0

    def dream(self, backbone: Backbone, img: torch.Tensor, params: Snapshot, obj: core.Objective,
              gen: torch.Generator | None) -> tuple[torch.Tensor, dict[str, Any]]:
        """This frame's steps on ``img`` (1x3xHxW); returns the picture and the last step's objective parts."""
        s = step_settings(params)
        size = (int(img.shape[-2]), int(img.shape[-1]))
        d = params.dream
        sizes = core.octave_sizes(size[0], size[1], max(1, d.octaves), d.octave_scale)
        iterations = max(1, d.iterations)
        tile = d.tile
        whole = (0, size[0], 0, size[1])
        if tile <= 0:  # octaves take turns: frame n dreams at sizes[n % len]
            k = self._phase % len(sizes)
            self._phase += 1
            return self.region(backbone, img, Region(k, whole), sizes[k], iterations, obj, s, gen)
        base = Region(0, whole) if canvas.fits(sizes[0], tile) else self._base.next(size, sizes, [0], tile)
        assert base is not None  # one octave to sweep
        img, parts = self.region(backbone, img, base, sizes[0], iterations, obj, s, gen)
        detail = self._detail.next(size, sizes, list(range(1, len(sizes))), tile)
        if detail is not None:
            fine = dataclasses.replace(s, freq_decay=s.freq_decay * DETAIL_FREQ_DECAY)
            img, parts = self.region(backbone, img, detail, sizes[detail.octave], 1, obj, fine, gen)
        return img, parts

    def region(self, backbone: Backbone, img: torch.Tensor, region: Region, osize: tuple[int, int], steps: int,
               obj: core.Objective, s: core.StepSettings,
               gen: torch.Generator | None) -> tuple[torch.Tensor, dict[str, Any]]:
        """``steps`` steps on ``region`` of the picture at its octave's size ``osize``; the change is added back
        at full size, feathered over a margin of context when the region is a tile."""
        h, w = img.shape[-2:]
        top, bottom, left, right = region.box
        f = osize[0] / h
        if (top, bottom, left, right) == (0, h, 0, w):
            patch, box = img, (0, h, 0, w)
        else:
            m = canvas.margin(max(bottom - top, right - left))
            box = (max(0, top - m), min(h, bottom + m), max(0, left - m), min(w, right + m))
            patch = img[..., box[0]:box[1], box[2]:box[3]]
        ph, pw = patch.shape[-2:]
        small = canvas.resize(patch, (max(16, round(ph * f)), max(16, round(pw * f))))
        x, parts = small, {}  # type: tuple[torch.Tensor, dict[str, Any]]
        for _ in range(steps):
            if self._interrupted.is_set():
                break
            x, parts = core.step(backbone, x, obj, s, gen)
        with torch.no_grad():
            change = canvas.resize(x - small, (ph, pw))
            if patch is img:
                return (img + change).clamp_(0, 1), parts
            weight = canvas.feather((ph, pw), (top - box[0], bottom - box[0], left - box[2], right - box[2]),
                                    img.device)
            img[..., box[0]:box[1], box[2]:box[3]] = (patch + change * weight).clamp_(0, 1)
        return img, parts
