"""The live picture at the output's size: moved, resized and dreamed a region at a time.

A CPU cannot take a Deep Dream step over a whole 1280x720 picture every frame (about a second a step on one
core), so the live renderer keeps the picture at full size and dreams it like the classic multi-octave Deep
Dream, spread over frames: the *base* octave (the smallest, class-guided) is dreamed whole every frame, and the
larger octaves one *tile* a frame, in a sweep over all their tiles (a random grid offset and order each sweep,
so no seam stays in place). A region is dreamed at its octave's scale and only the change is added back at full
size, feathered over a margin, so fine structure is dreamed where it is seen, never scaled up from a small image.

The image operations here (warp, down- and up-scaling) run through OpenCV on the CPU (5-40x cheaper than
torch's at 1280x720 on one thread) and through torch on a GPU.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

CL = torch.channels_last


def _np(x: torch.Tensor) -> np.ndarray:
    """HxWx3 float32 view of a 1x3xHxW channels-last CPU tensor (no copy when it is channels-last)."""
    return x[0].permute(1, 2, 0).contiguous().numpy()


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).unsqueeze(0).contiguous(memory_format=CL)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(height, width); antialiased when shrinking (a 4x smaller copy must not alias the fine detail into noise),
    bilinear when growing."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    h, w = size
    shrink = h * w < x.shape[-1] * x.shape[-2]
    if x.device.type == "cpu":
        import cv2

        return _t(cv2.resize(_np(x), (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink).contiguous(
        memory_format=CL)


def warp(x: torch.Tensor, zoom: float, rotate_deg: float) -> torch.Tensor:
    """Zoom about the centre (>1 magnifies) and rotate (degrees) once, edges reflected.

    Bilinear: a picture moved a little every frame is resampled hundreds of times, and any sharper kernel
    (bicubic's overshoot) amplifies the finest frequencies a little each time until a maze of grain covers it;
    bilinear only ever softens, and the dream puts the detail back. A drift needs no resampling at all (see
    :class:`Window`)."""
    if abs(zoom - 1.0) < 1e-5 and abs(rotate_deg) < 1e-4:
        return x
    if x.device.type != "cpu":
        from performer.dream.core import feedback

        return feedback(x, zoom, rotate_deg, 0.0, 0.0)
    import cv2

    _, _, h, w = x.shape
    m = cv2.getRotationMatrix2D((w / 2.0 - 0.5, h / 2.0 - 0.5), -rotate_deg, zoom)
    out = cv2.warpAffine(_np(x), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return _t(np.clip(out, 0.0, 1.0, out=out))


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """The picture moved by whole pixels (right, down), the uncovered edge filled with its mirror image."""
    _, _, h, w = x.shape
    dx, dy = max(-w + 1, min(w - 1, dx)), max(-h + 1, min(h - 1, dy))
    padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)), mode="reflect") if (dx or dy) else x
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top:top + h, left:left + w].contiguous(memory_format=CL)


def margin_for(size: tuple[int, int]) -> int:
    """Pixels of picture kept beyond each edge of the visible picture of ``size``: room for it to drift."""
    return max(8, max(size) // 32)


class Window:
    """Where the visible picture lies in the larger picture being dreamed: a drift moves the window, never the
    pixels (a move by a fraction of a pixel would resample, and resampling hundreds of times blurs). When the
    window nears the edge of the margin the whole picture is moved back by whole pixels, exactly, the uncovered
    band (outside the visible picture) filled with the mirror image of its neighbour, which the dream then
    re-dreams before it drifts into view."""

    def __init__(self, margin: int) -> None:
        self.margin = margin
        self.x = float(margin)
        self.y = float(margin)
        self.recentred: tuple[int, int] | None = None
        """The whole pixels (x, y) the last move shifted the picture back by, if it did."""

    def move(self, img: torch.Tensor, tx: float, ty: float) -> torch.Tensor:
        """Drift the visible picture's content by (``tx``, ``ty``) pixels (right, down); returns the picture,
        moved back by whole pixels if the window had to be re-centred."""
        self.x -= tx
        self.y -= ty
        m = self.margin
        dx = round(m - self.x) if abs(self.x - m) > m / 2 else 0
        dy = round(m - self.y) if abs(self.y - m) > m / 2 else 0
        self.recentred = None
        if dx or dy:
            img = shift(img, dx, dy)
            self.x += dx
            self.y += dy
            self.recentred = (dx, dy)
        return img

    def crop(self, img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The visible picture (``size``: height, width) at the window's nearest whole pixel."""
        x0, y0 = round(self.x), round(self.y)
        return img[..., y0:y0 + size[0], x0:x0 + size[1]]

    @property
    def fraction(self) -> tuple[float, float]:
        """How far (x, y) the content lies from where the crop shows it: the output clock moves it on."""
        return (round(self.x) - self.x, round(self.y) - self.y)


def widen(x: torch.Tensor, margin: int) -> torch.Tensor:
    """A visible-sized picture with ``margin`` pixels of its mirror image around it."""
    if margin <= 0:
        return x
    return F.pad(x, (margin, margin, margin, margin), mode="reflect").contiguous(memory_format=CL)


@dataclass(frozen=True)
class Region:
    """Where one dream job works: octave ``octave`` of the picture, the box (top, bottom, left, right) in the
    picture's own pixels."""

    octave: int
    box: tuple[int, int, int, int]


def grid(length: int, tile: float, offset: float) -> list[tuple[int, int]]:
    """Cuts ``0..length`` into pieces of ``tile`` (the first and last shortened by ``offset``); pieces of less
    than a third of a tile are merged into their neighbour."""
    cuts = [0]
    edge = offset % tile if offset else tile
    while edge < length - 1e-6:
        cuts.append(round(edge))
        edge += tile
    cuts.append(length)
    out: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:]):
        if out and (b - a < tile / 3 or out[-1][1] - out[-1][0] < tile / 3):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


class Sweep:
    """The detail octaves' tiles, one a frame: a sweep covers every tile of every octave it is given once, in a
    random order, with a random grid offset; then the next sweep starts."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._queue: list[Region] = []
        self._key: tuple | None = None

    @property
    def left(self) -> int:
        """Tiles left in the current sweep."""
        return len(self._queue)

    def next(self, picture: tuple[int, int], sizes: list[tuple[int, int]], octaves: list[int],
             tile: int) -> Region | None:
        key = (picture, tuple(sizes), tuple(octaves), tile)
        if key != self._key:
            self._key, self._queue = key, []
        if not octaves:
            return None
        if not self._queue:
            self._queue = self._plan(picture, sizes, octaves, tile)
        return self._queue.pop()

    def _plan(self, picture: tuple[int, int], sizes: list[tuple[int, int]], octaves: list[int],
              tile: int) -> list[Region]:
        h, w = picture
        plan = []
        for k in octaves:
            f = sizes[k][0] / h  # octave pixels per picture pixel
            side = tile / f      # a tile's side in picture pixels
            rows = grid(h, side, self._rng.uniform(0, side))
            cols = grid(w, side, self._rng.uniform(0, side))
            plan += [Region(k, (t, b, lft, r)) for t, b in rows for lft, r in cols]
        self._rng.shuffle(plan)
        return plan


def fits(size: tuple[int, int], tile: int) -> bool:
    """Whether an octave of ``size`` is dreamed whole (tile 0: always)."""
    return tile <= 0 or max(size) <= tile * 1.25


_ramps: dict[tuple[int, int, int, int, str], torch.Tensor] = {}


def feather(shape: tuple[int, int], inner: tuple[int, int, int, int], device: torch.device) -> torch.Tensor:
    """1x1xHxW weights: 1 over the box ``inner`` (top, bottom, left, right), falling linearly to 0 at the
    edges outside it; an edge of the patch that is the picture's own edge has no fall."""
    h, w = shape
    top, bottom, left, right = inner
    key = (h, w, top * 10007 + bottom, left * 10007 + right, str(device))
    m = _ramps.get(key)
    if m is None:
        def ramp(n: int, a: int, b: int) -> torch.Tensor:
            i = torch.arange(n, dtype=torch.float32) + 0.5
            up = torch.clamp(i / max(a, 1), max=1.0) if a > 0 else torch.ones(n)
            down = torch.clamp((n - i) / max(n - b, 1), max=1.0) if b < n else torch.ones(n)
            return torch.minimum(up, down)
        m = (ramp(h, top, bottom).view(-1, 1) * ramp(w, left, right).view(1, -1)).view(1, 1, h, w).to(device)
        if len(_ramps) > 256:
            _ramps.clear()
        _ramps[key] = m
    return m


def margin(size_px: float) -> int:
    """Margin of context (picture pixels) around a tile: a tenth of its side, at least 8 pixels."""
    return max(8, int(math.ceil(size_px / 10)))


class Dissolve:
    """A morph to a new picture that never averages two pictures: the picture switches to ``target`` region by
    region, in the order of a smooth random field (large soft blobs), over a narrow soft edge; ``progress`` (0..1)
    is the share of the area switched. Once a region has switched the dream goes on from it undisturbed."""

    def __init__(self, target: torch.Tensor, gen: torch.Generator | None, soft: float = 0.1) -> None:
        h, w = target.shape[-2:]
        coarse = torch.rand(1, 1, 5, 8, generator=gen)
        small = F.interpolate(coarse, size=(90, 160), mode="bicubic", align_corners=False).flatten()
        ranks = torch.empty_like(small)
        ranks[small.argsort()] = torch.linspace(0.0, 1.0, small.numel())  # uniform: area switched = progress
        field = F.interpolate(ranks.view(1, 1, 90, 160), size=(h, w), mode="bilinear", align_corners=False)
        self.target = target
        self.field = field.to(target.device, target.dtype)
        self.done = torch.zeros_like(self.field)
        self.soft = soft

    def apply(self, img: torch.Tensor, progress: float) -> torch.Tensor:
        """``img`` with the regions due by ``progress`` switched to the target."""
        m = ((progress * (1 + self.soft) - self.field) / self.soft).clamp_(0.0, 1.0)
        share = ((m - self.done) / (1.0 - self.done).clamp_min(1e-6)).clamp_(0.0, 1.0)
        self.done = torch.maximum(self.done, m)
        return (img + (self.target - img) * share).contiguous(memory_format=CL)

    def shift(self, dx: int, dy: int) -> None:
        """Move with the picture (a window re-centred)."""
        self.target = shift(self.target, dx, dy)
        self.field = shift(self.field, dx, dy)
        self.done = shift(self.done, dx, dy)
