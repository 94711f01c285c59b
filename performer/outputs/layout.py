"""Layouts: what an output shows and at which size.

A :class:`Layout` turns a rendered frame into the picture an output sends: the dream alone (scaled or
letterboxed into its box, :func:`fit_into`) or the paper's composite, the dream beside the class
probabilities as bars over the spectrogram (coloured by :func:`spectrogram_rgb` with an inferno-like colour
map). ``LAYOUTS`` and ``FITS`` name the choices a preset may make. Layouts run on each output's own thread,
so composing never costs the renderer; the dream's scaling is made once per frame for all outputs that want
the same size (:mod:`performer.outputs.scaling`). The class ``none`` ("none of these") has a grey bar and
label, a lighter grey when it wins: it is a reading of the sound, not a picture the dream follows.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from performer.errors import OutputError
from performer.outputs.convert import resize
from performer.outputs.frame_info import FrameInfo
from performer.outputs.scaling import SHARED
from performer.sound.labels import is_none

if TYPE_CHECKING:
    from PIL import ImageFont

LayoutKind = Literal["dream", "composite"]
Fit = Literal["scale", "letterbox", "crop"]
LAYOUTS: tuple[str, ...] = ("dream", "composite")
FITS: tuple[str, ...] = ("scale", "letterbox", "crop")
DEFAULT_SIZE: tuple[int, int] = (1280, 720)
"""(width, height) of an output whose preset names no size: what a projector or a VJ tool expects."""

_BG = (12, 12, 16)
_BAR_BG = (40, 40, 48)
_BAR = (90, 140, 220)
_BAR_TOP = (250, 180, 40)
_TEXT = (230, 230, 235)
_NONE = (110, 110, 120)
"""The ``none`` class's bar and label."""
_NONE_TOP = (170, 170, 180)
"""The ``none`` class's bar and the title while it wins."""


def _colormap() -> np.ndarray:
    """A 256-entry inferno-like colour map (dark purple to pale yellow), uint8."""
    anchors = np.array([(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66),
                        (245, 125, 21), (250, 193, 39), (252, 255, 164)], dtype=np.float32)
    x = np.linspace(0, len(anchors) - 1, 256)
    lo = np.floor(x).astype(int).clip(0, len(anchors) - 2)
    t = (x - lo)[:, None]
    return (anchors[lo] * (1 - t) + anchors[lo + 1] * t).round().astype(np.uint8)


COLORMAP = _colormap()


def spectrogram_rgb(spec_db: np.ndarray, range_db: float = 80.0) -> np.ndarray:
    """A log-mel spectrogram (dB, mels x frames) as an RGB image, low frequencies at the bottom."""
    spec = np.asarray(spec_db, dtype=np.float32)
    if spec.ndim != 2 or spec.size == 0:
        raise OutputError(f"a spectrogram must be a non-empty 2-D array (mels x frames), got shape {spec.shape}")
    spec = np.nan_to_num(spec, nan=-200.0, posinf=0.0, neginf=-200.0)
    top = float(spec.max())
    v = np.clip((spec - (top - range_db)) * (255.0 / range_db), 0, 255).astype(np.uint8)
    return COLORMAP[v[::-1]]


def fit_into(frame: np.ndarray, width: int, height: int, fit: str) -> tuple[np.ndarray, int, int]:
    """``frame`` resized for a ``width`` x ``height`` box: (image, x offset, y offset).

    ``scale`` stretches to the box; ``letterbox`` keeps the aspect and centres the image (the rest is bars);
    ``crop`` keeps the aspect and fills the box, cutting what overflows. A frame that needs no scaling comes back
    as it is; a scaled one is made once per frame, size and fit, whichever output asks first (:data:`SHARED`),
    and is read-only."""
    h, w = frame.shape[:2]
    if fit == "scale":
        box, size, at = (0, 0, w, h), (width, height), (0, 0)
    elif fit == "crop":
        k = max(width / w, height / h)
        cw, ch = min(w, max(1, round(width / k))), min(h, max(1, round(height / k)))
        box, size, at = ((w - cw) // 2, (h - ch) // 2, cw, ch), (width, height), (0, 0)
    else:
        k = min(width / w, height / h)
        nw, nh = max(1, min(width, round(w * k))), max(1, min(height, round(h * k)))
        box, size, at = (0, 0, w, h), (nw, nh), ((width - nw) // 2, (height - nh) // 2)
    if box == (0, 0, w, h) and size == (w, h):
        return frame, at[0], at[1]

    def make() -> tuple[np.ndarray, int, int]:
        x0, y0, cw, ch = box
        src = frame if (cw, ch) == (w, h) else np.ascontiguousarray(frame[y0:y0 + ch, x0:x0 + cw])
        img = resize(src, *size)
        return (img.copy() if np.may_share_memory(img, frame) else img), at[0], at[1]  # shared: its own pixels

    return SHARED.get(frame, (width, height, fit), make)


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=max(6, size))
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


class Layout:
    """What an output shows and at which size: the dream alone, or the paper's composite.

    ``width``/``height`` of None take the render resolution (for the composite, 16:9 at the render height);
    one of them alone keeps the source aspect (outputs built from a preset default to :data:`DEFAULT_SIZE`).
    ``fit`` places the dream in its box: ``scale`` stretches, ``letterbox`` keeps its aspect, ``crop`` fills.
    Calling a layout returns a new HxWx3 uint8 array (or the frame itself when
    nothing changes)."""

    def __init__(self, kind: str = "dream", width: int | None = None, height: int | None = None,
                 fit: str = "letterbox", *, follow: bool = False) -> None:
        if kind not in LAYOUTS:
            raise OutputError(f"layout {kind!r} is not one of {', '.join(LAYOUTS)}")
        if fit not in FITS:
            raise OutputError(f"fit {fit!r} is not one of {', '.join(FITS)}")
        for label, v in (("width", width), ("height", height)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 16 <= v <= 7680):
                raise OutputError(f"layout {label} {v!r} is not a whole number of pixels in 16..7680")
        self.kind, self.width, self.height, self.fit = kind, width, height, fit
        self.follow = follow
        """Take the kind from each frame's ``FrameInfo.layout`` (the live output.layout parameter) when set."""
        self._static_key: tuple | None = None
        self._static: np.ndarray | None = None
        self._geometry: dict[str, Any] = {}
        self._spec: tuple[np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"Layout({self.kind!r}, {self.width}, {self.height}, fit={self.fit!r})"

    def size_for(self, frame_shape: tuple[int, ...]) -> tuple[int, int]:
        """(width, height) of the output for frames of ``frame_shape`` (H, W, 3)."""
        fh, fw = frame_shape[:2]
        if self.kind == "composite" and self.width is None and self.height is None:
            return 2 * round(fh * 16 / 9 / 2), fh
        if self.width is None and self.height is None:
            return fw, fh
        if self.width is None:
            assert self.height is not None
            return max(16, round(self.height * fw / fh)), self.height
        if self.height is None:
            return self.width, max(16, round(self.width * fh / fw))
        return self.width, self.height

    def __call__(self, frame: np.ndarray, info: FrameInfo) -> np.ndarray:
        kind = self.kind
        if self.follow and info.layout in LAYOUTS and info.layout != kind:
            kind = info.layout
            self.kind = kind  # size_for depends on the kind
        width, height = self.size_for(frame.shape)
        if kind == "dream":
            if (width, height) == (frame.shape[1], frame.shape[0]):
                return frame
            img, x, y = fit_into(frame, width, height, self.fit)
            if img.shape[:2] == (height, width):
                return img
            canvas = np.zeros((height, width, 3), np.uint8)
            canvas[y:y + img.shape[0], x:x + img.shape[1]] = img
            return canvas
        return self._composite(frame, info, width, height)

    # the composite: dream | class probabilities as bars over the spectrogram (side by side when wide,
    # stacked when tall or square)
    def _geometry_for(self, width: int, height: int, n: int) -> dict[str, Any]:
        pad = max(1, min(width, height) // 64)
        if width >= 1.2 * height:
            panel = max(width - height, width // 3)
            dream = (0, 0, width - panel, height)
            px, pw = width - panel + pad, panel - 2 * pad
            split = int(height * 0.55)
            bars = (px, pad, pw, split - pad)
            spec = (px, split + pad, pw, height - split - 2 * pad)
        else:
            panel = max(height - width, height // 3)
            dream = (0, 0, width, height - panel)
            py, ph = height - panel + pad, panel - 2 * pad
            half = width // 2
            bars = (pad, py, half - 2 * pad, ph)
            spec = (half + pad, py, width - half - 2 * pad, ph)
        bars = (bars[0], bars[1], max(0, bars[2]), max(0, bars[3]))
        spec = (spec[0], spec[1], max(0, spec[2]), max(0, spec[3]))
        bx, by, bw, bh = bars
        title_h = max(8, min(bh // (n + 2) if n else bh // 3, height // 12)) if bh >= 24 else 0
        row_h = (bh - title_h) / max(1, n)
        label_w = int(bw * 0.42)
        return {"pad": pad, "dream": dream, "bars": bars, "spec": spec, "title_h": title_h, "row_h": row_h,
                "label_w": label_w}

    def _background(self, width: int, height: int, classes: tuple[str, ...]) -> np.ndarray:
        key = (width, height, classes)
        if self._static_key == key and self._static is not None:
            return self._static
        from PIL import Image, ImageDraw

        g = self._geometry = self._geometry_for(width, height, len(classes))
        img = Image.new("RGB", (width, height), _BG)
        draw = ImageDraw.Draw(img)
        bx, by, bw, bh = g["bars"]
        font = _font(max(6, int(g["row_h"] * 0.6)))
        for i, name in enumerate(classes):
            y0 = by + g["title_h"] + i * g["row_h"]
            if g["row_h"] >= 6 and g["label_w"] >= 12:  # labels only where they can be read
                draw.text((bx, y0 + g["row_h"] * 0.15), name.replace("_", " ")[:24],
                          fill=_NONE if is_none(name) else _TEXT, font=font)
            if bw - g["label_w"] >= 2 and g["row_h"] >= 2:
                draw.rectangle((bx + g["label_w"], y0 + g["row_h"] * 0.2, bx + bw - 1, y0 + g["row_h"] * 0.8),
                               fill=_BAR_BG)
        self._static, self._static_key = np.asarray(img).copy(), key
        return self._static

    def _composite(self, frame: np.ndarray, info: FrameInfo, width: int, height: int) -> np.ndarray:
        from PIL import Image, ImageDraw

        classes = tuple(info.classes)
        canvas = self._background(width, height, classes).copy()
        g = self._geometry
        dx, dy, dw, dh = g["dream"]
        img, x, y = fit_into(frame, dw, dh, self.fit)
        canvas[dy + y:dy + y + img.shape[0], dx + x:dx + x + img.shape[1]] = img
        bx, by, bw, bh = g["bars"]
        probs = None if info.probs is None else np.asarray(info.probs, dtype=np.float32).ravel()
        if probs is not None and classes and len(probs) == len(classes):
            top = int(np.argmax(probs))
            full = bw - g["label_w"]
            for i, p in enumerate(np.clip(probs, 0.0, 1.0)):
                y0 = by + g["title_h"] + i * g["row_h"]
                y1, y2 = int(y0 + g["row_h"] * 0.2), int(y0 + g["row_h"] * 0.8)
                x1 = bx + g["label_w"]
                colour = (_NONE_TOP if i == top else _NONE) if is_none(classes[i]) else _BAR_TOP if i == top else _BAR
                canvas[y1:y2 + 1, x1:x1 + int(round(full * float(p)))] = colour
        th = g["title_h"]
        if th >= 8 and bw > 8:
            strip = Image.new("RGB", (bw, th), _BG)
            text = f"{info.top_class.replace('_', ' ')}  {info.confidence:.2f}" if info.top_class else "listening..."
            fill = _NONE_TOP if is_none(info.top_class) else _BAR_TOP
            ImageDraw.Draw(strip).text((0, 0), text, fill=fill, font=_font(int(th * 0.8)))
            canvas[by:by + th, bx:bx + bw] = np.asarray(strip)
        sx, sy, sw, sh = g["spec"]
        if info.spectrogram is not None and sw > 0 and sh > 0:
            cached = self._spec
            if cached is None or cached[0] is not info.spectrogram or cached[1].shape[:2] != (sh, sw):
                try:  # the spectrogram changes once per analysis hop, not per frame: colour and scale it once
                    cached = self._spec = (info.spectrogram, resize(spectrogram_rgb(info.spectrogram), sw, sh))
                except OutputError:
                    cached = None
            if cached is not None:
                canvas[sy:sy + sh, sx:sx + sw] = cached[1]
        return canvas
