"""Colour that holds: the picture's colour statistics kept near its class's.

Dreaming steps and morphs mix pictures, and a mix of two pictures is greyer and flatter than either; over a
minute the live picture fades to pastel. The grade measures the picture's brightness, contrast, mean hue and
saturation in an opponent colour space (luma, red-green, yellow-blue: the axes of Hasler and Suesstrunk's
colourfulness) and moves each a share of the way to the class's target every frame -- the statistics of the
class's portrait, with its mean colour taken towards the preset's ``[classes.X] colour`` where one is given --
so the audience sees a class change in the colour even before the shapes change. The correction is one 3x3
colour matrix and an offset: the picture's shapes and detail are untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

_OPP = np.array([[0.299, 0.587, 0.114], [1.0, -1.0, 0.0], [0.5, 0.5, -1.0]], dtype=np.float64)
_OPP_INV = np.linalg.inv(_OPP)
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")

TINT = 0.55
"""How far the preset's class colour sets the mean colour: the target's mean chroma is this share of the way
from the portrait's to the colour's own."""


@dataclass(frozen=True)
class ColourStats:
    """Means and standard deviations of (luma, red-green, yellow-blue), RGB in [0, 1]."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def tinted(self, rgb: tuple[float, float, float] | None, share: float = TINT) -> ColourStats:
        """These statistics with the mean chroma moved ``share`` of the way to colour ``rgb``'s."""
        if rgb is None:
            return self
        c = _OPP @ np.asarray(rgb, dtype=np.float64)
        m = list(self.mean)
        for i in (1, 2):
            m[i] += share * (float(c[i]) - m[i])
        # a saturated class colour also asks for a saturated picture: chroma spread at least its own mean's
        s = list(self.std)
        chroma = float(np.hypot(c[1], c[2]))
        for i in (1, 2):
            s[i] = max(s[i], 0.35 * chroma)
        return ColourStats((m[0], m[1], m[2]), (s[0], s[1], s[2]))


def parse_colour(text: str) -> tuple[float, float, float]:
    """``#rrggbb`` as RGB in [0, 1]; ValueError naming the value and what is allowed."""
    m = _HEX.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"colour {text!r} is not a colour; allowed: '#rrggbb' (hex, e.g. '#d02030')")
    v = int(m.group(1), 16)
    return ((v >> 16 & 255) / 255.0, (v >> 8 & 255) / 255.0, (v & 255) / 255.0)


def stats_of(rgb: np.ndarray | torch.Tensor) -> ColourStats:
    """Colour statistics of an HxWx3 uint8 array or a 1x3xHxW float tensor in [0, 1] (any size: pass a small
    copy, the statistics hardly change)."""
    if not isinstance(rgb, np.ndarray):  # a tensor
        a = rgb[0].permute(1, 2, 0).reshape(-1, 3).double().cpu().numpy()
    else:
        a = np.asarray(rgb, dtype=np.float64).reshape(-1, 3) / 255.0
    o = a @ _OPP.T
    mean, std = o.mean(axis=0), o.std(axis=0)
    return ColourStats((float(mean[0]), float(mean[1]), float(mean[2])),
                       (float(std[0]), float(std[1]), float(std[2])))


def correction(now: ColourStats, target: ColourStats, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(3x3 matrix, offset) on RGB moving ``now`` ``share`` (0..1) of the way to ``target``: means linearly,
    spreads by ratio (at most x1.5 or /1.5 a call, so a flat picture is not blown up into its noise; the luma
    spread, contrast, only upwards)."""
    d = np.ones(3)
    mu_new = np.zeros(3)
    for i in range(3):
        ratio = (max(target.std[i], 1e-3) / max(now.std[i], 1e-3)) ** share
        if i == 0:  # contrast is only ever raised: the dream's own detail is never flattened to the portrait's
            ratio = max(1.0, ratio)
        d[i] = min(1.5, max(1 / 1.5, ratio))
        mu_new[i] = now.mean[i] + share * (target.mean[i] - now.mean[i])
    mu = np.asarray(now.mean)
    m = _OPP_INV @ np.diag(d) @ _OPP
    b = _OPP_INV @ (mu_new - d * mu)
    return m, b


def apply(x: torch.Tensor, m: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """``m @ rgb + b`` on every pixel of a 1x3xHxW tensor, clamped to [0, 1]."""
    import torch

    mt = torch.as_tensor(m, dtype=x.dtype, device=x.device)
    bt = torch.as_tensor(b, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (torch.einsum("ij,bjhw->bihw", mt, x) + bt).clamp_(0.0, 1.0).contiguous(memory_format=torch.channels_last)


class ColourHold:
    """The colour statistics one live picture is held to, and the hold itself. A new aim is glided to over the
    crossfade (a class change morphs its colour too, it does not jump)."""

    def __init__(self) -> None:
        self.target: ColourStats | None = None
        self._key: tuple | None = None
        self._from: ColourStats | None = None
        self._since = 0.0
        self._glide = 0.0

    def aim(self, image: np.ndarray | None, colour: tuple[float, float, float] | None, now: float = 0.0,
            glide: float = 0.0) -> None:
        """Hold to ``image``'s statistics (an HxWx3 uint8 portrait), tinted by ``colour``, reached over ``glide``
        seconds from ``now``; None keeps the aim."""
        if image is None:
            return
        key = (id(image), colour)
        if key != self._key:
            small = image[:: max(1, image.shape[0] // 90), :: max(1, image.shape[1] // 160)]
            self._from, self._since, self._glide = self.target, now, glide
            self.target, self._key = stats_of(small).tinted(colour), key

    def at(self, now: float) -> ColourStats | None:
        """The target at ``now``: on the way from the last aim to the new one."""
        a = 1.0 if self._from is None or self._glide <= 0 else min(1.0, max(0.0, (now - self._since) / self._glide))
        if a >= 1.0 or self._from is None or self.target is None:
            return self.target
        f, t = self._from, self.target
        mix = tuple(x + a * (y - x) for x, y in zip(f.mean + f.std, t.mean + t.std))
        return ColourStats(mix[:3], mix[3:])  # type: ignore[arg-type]

    def hold(self, x: torch.Tensor, strength: float, dt: float, now: float = 0.0) -> torch.Tensor:
        """``x`` with its statistics moved towards the target: ``strength`` of the way a second."""
        target = self.at(now)
        if strength <= 0 or target is None or dt <= 0:
            return x
        share = 1.0 - (1.0 - min(strength, 0.999)) ** min(dt, 1.0)
        h, w = x.shape[-2:]  # a strided sample keeps the picture's own contrast (an average would lower it)
        return apply(x, *correction(stats_of(x[..., :: max(1, h // 90), :: max(1, w // 160)]), target, share))
