"""Frame outputs: where rendered frames go.

:class:`FrameOutput` owns the hand-off, the worker thread and the counting;
subclasses own the I/O (``_open``, ``_send``, ``_close``). ``send()`` never
blocks the renderer: it leaves the frame in a one-slot hand-off that the
output's own thread picks up, so a slow or failing output drops frames (and
counts them) instead of stalling the renderer or the other outputs.

Outputs: :class:`NDIOutput` (any platform), :class:`SyphonOutput` (macOS),
:class:`SpoutOutput` (Windows), :class:`performer.outputs.preview.PreviewOutput` (a
page in the browser), :class:`RecordOutput` (PNG sequence and video),
:class:`FolderOutput` and :class:`NullOutput`. Each carries a :class:`Layout`:
the dream alone or the paper's composite, at its own size. Backends are
imported only when an output of their kind opens. :func:`build_outputs` makes
them from a preset's ``[outputs.<name>]`` tables.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from performer.latest import Latest
from performer.errors import OutputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameInfo:
    """What is known about one rendered frame."""

    number: int
    time: float
    """Seconds since the engine started."""
    top_class: str | None = None
    confidence: float = 0.0
    classes: tuple[str, ...] = ()
    probs: np.ndarray | None = None
    """Smoothed class probabilities, in the order of ``classes``."""
    spectrogram: np.ndarray | None = None
    """Log-mel spectrogram of the latest analysis window, dB (mels x frames)."""
    level_db: float | None = None
    status: dict[str, Any] = field(default_factory=dict)
    """The engine's status (fps, latency, drops), refreshed about twice a second."""
    layout: str | None = None
    """The live ``output.layout`` parameter (dream/composite); outputs whose layout follows it use this."""


@dataclass
class OutputStats:
    sent: int = 0
    dropped: int = 0
    """Frames that never went out: replaced in the hand-off before the output took them, or sent while it was down."""
    errors: int = 0
    fps: float = 0.0
    last_error: str = ""
    send_ms: float = 0.0
    """Time the output's thread spends per frame (layout plus send), smoothed."""
    state: str = "new"
    """new, open, failed (could not open; frames are counted as dropped) or closed."""
    skipped: int = 0
    """Frames left out on purpose (a recorder's rate limit), not lost."""


# --- layouts -------------------------------------------------------------------------------------------------

LayoutKind = Literal["dream", "composite"]
Fit = Literal["scale", "letterbox"]
LAYOUTS: tuple[str, ...] = ("dream", "composite")
FITS: tuple[str, ...] = ("scale", "letterbox")

_BG = (12, 12, 16)
_BAR_BG = (40, 40, 48)
_BAR = (90, 140, 220)
_BAR_TOP = (250, 180, 40)
_TEXT = (230, 230, 235)


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


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    if img.shape[1] == width and img.shape[0] == height:
        return img
    gap = 2.0 if width < img.shape[1] and height < img.shape[0] else None  # fast reduction first when shrinking
    return np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.BILINEAR, reducing_gap=gap))


def fit_into(frame: np.ndarray, width: int, height: int, fit: str) -> tuple[np.ndarray, int, int]:
    """``frame`` resized for a ``width`` x ``height`` box: (image, x offset, y offset).

    ``scale`` stretches to the box; ``letterbox`` keeps the aspect and centres the image (the rest is bars)."""
    if fit == "scale":
        return _resize(frame, width, height), 0, 0
    h, w = frame.shape[:2]
    k = min(width / w, height / h)
    nw, nh = max(1, min(width, round(w * k))), max(1, min(height, round(h * k)))
    return _resize(frame, nw, nh), (width - nw) // 2, (height - nh) // 2


@functools.lru_cache(maxsize=32)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=max(6, size))
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


class Layout:
    """What an output shows and at which size: the dream alone, or the paper's composite.

    ``width``/``height`` of None take the render resolution (for the composite, 16:9 at the render height);
    one of them alone keeps the source aspect. ``fit`` places the dream in its box: ``scale`` stretches,
    ``letterbox`` keeps its aspect. Calling a layout returns a new HxWx3 uint8 array (or the frame itself when
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
                draw.text((bx, y0 + g["row_h"] * 0.15), name.replace("_", " ")[:24], fill=_TEXT, font=font)
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
                canvas[y1:y2 + 1, x1:x1 + int(round(full * float(p)))] = _BAR_TOP if i == top else _BAR
        th = g["title_h"]
        if th >= 8 and bw > 8:
            strip = Image.new("RGB", (bw, th), _BG)
            text = f"{info.top_class.replace('_', ' ')}  {info.confidence:.2f}" if info.top_class else "listening..."
            ImageDraw.Draw(strip).text((0, 0), text, fill=_BAR_TOP, font=_font(int(th * 0.8)))
            canvas[by:by + th, bx:bx + bw] = np.asarray(strip)
        sx, sy, sw, sh = g["spec"]
        if info.spectrogram is not None and sw > 0 and sh > 0:
            cached = self._spec
            if cached is None or cached[0] is not info.spectrogram or cached[1].shape[:2] != (sh, sw):
                try:  # the spectrogram changes once per analysis hop, not per frame: colour and scale it once
                    cached = self._spec = (info.spectrogram, _resize(spectrogram_rgb(info.spectrogram), sw, sh))
                except OutputError:
                    cached = None
            if cached is not None:
                canvas[sy:sy + sh, sx:sx + sw] = cached[1]
        return canvas


# --- the base class --------------------------------------------------------------------------------------------

class FrameOutput(ABC):
    """Base class: validation, the non-blocking hand-off, the worker thread, the layout and stats.

    ``layout`` (a :class:`Layout`) is applied on the output's own thread, so composing never costs the renderer.
    With ``required=False`` an output that cannot open logs why, records it in ``stats`` (state ``failed``) and
    counts every frame sent to it as dropped, instead of raising: one broken output never stops the others."""

    kind = "output"
    close_while_busy = False
    """Whether ``_close`` may run while ``_send`` is stuck on the worker thread (True when closing unblocks it)."""

    def __init__(self, name: str, *, layout: Layout | None = None, required: bool = True) -> None:
        if not isinstance(name, str) or not name.strip():
            raise OutputError(f"{self.kind} output name {name!r} must be a non-empty string")
        self.name = name
        self.layout = layout
        self.required = required
        self.stats = OutputStats()
        self._slot: Latest[tuple[np.ndarray, FrameInfo]] = Latest()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            if self.stats.state == "open":
                return
            try:
                self._open()
            except Exception as e:
                err = e if isinstance(e, OutputError) else OutputError(
                    f"{self.kind} output {self.name!r} could not open: {type(e).__name__}: {e}")
                self.stats.errors += 1
                self.stats.last_error = str(err)
                self.stats.state = "failed"
                if self.required:
                    raise err from (None if err is e else e)
                log.error("%s (the other outputs go on)", err)
                return
            self._stop.clear()
            self.stats.state = "open"
            self._thread = threading.Thread(target=self._run, name=f"output-{self.name}", daemon=True)
            self._thread.start()
        log.info("%s output %r open", self.kind, self.name)

    def send(self, frame: np.ndarray, info: FrameInfo) -> None:
        """Hand a frame (HxWx3 uint8 RGB) to the output; never blocks."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise OutputError(f"{self.kind} output {self.name!r} takes HxWx3 uint8 RGB frames, got {got}")
        if self.stats.state == "failed":
            self.stats.dropped += 1
            return
        before = self._slot.dropped
        self._slot.put((frame, info))
        self.stats.dropped += self._slot.dropped - before
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            item = self._slot.take()
            if item is None:
                continue
            frame, info = item
            t0 = time.perf_counter()
            try:
                out = self.layout(frame, info) if self.layout is not None else frame
                skipped = self._send(out, info) is False
            except Exception as e:
                self.stats.errors += 1
                if str(e) != self.stats.last_error:
                    log.error("%s output %r failed on frame %d: %s", self.kind, self.name, info.number, e)
                self.stats.last_error = str(e)
                continue
            if skipped:  # left out on purpose (the subclass counted it in stats.skipped)
                continue
            ms = 1000.0 * (time.perf_counter() - t0)
            self.stats.send_ms = ms if self.stats.sent == 0 else 0.9 * self.stats.send_ms + 0.1 * ms
            self.stats.sent += 1
            now = time.monotonic()
            self._times.append(now)
            while now - self._times[0] > 2.0:
                self._times.popleft()
            if len(self._times) > 1:
                self.stats.fps = (len(self._times) - 1) / (self._times[-1] - self._times[0])

    def close(self) -> None:
        with self._lock:
            was = self.stats.state
            self._stop.set()
            self._wake.set()
            busy = False
            if self._thread is not None:
                self._thread.join(timeout=2.0)
                busy = self._thread.is_alive()
                self._thread = None
            if self._slot.take() is not None:  # handed over but never sent: lost, and counted
                self.stats.dropped += 1
            if was != "open":
                self.stats.state = "closed" if was != "failed" else was
                return
            self.stats.state = "closed"
            if busy and not self.close_while_busy:
                log.warning("%s output %r is still busy sending; leaving it open", self.kind, self.name)
                return
            try:
                self._close()
            except Exception as e:
                log.warning("%s output %r did not close cleanly: %s", self.kind, self.name, e)

    def __enter__(self) -> FrameOutput:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        pass

    @abstractmethod
    def _send(self, frame: np.ndarray, info: FrameInfo) -> bool | None:
        """Send one frame (already laid out); return False to say it was left out on purpose."""

    def _close(self) -> None:
        pass


class NullOutput(FrameOutput):
    """Counts frames and keeps the last one; for tests and benchmarks."""

    kind = "null"

    def __init__(self, name: str = "null", *, layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.last: tuple[np.ndarray, FrameInfo] | None = None

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        self.last = (frame, info)


class FolderOutput(FrameOutput):
    """Writes each frame as an image file (frame-000001.jpg, ...) into a folder, with an index of times."""

    kind = "frames"

    def __init__(self, folder: str | Path, *, name: str = "frames", fmt: str = "jpg", quality: int = 90,
                 layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        if fmt not in ("jpg", "png"):
            raise OutputError(f"frames output {name!r}: format {fmt!r} is not one of jpg, png")
        self.folder = Path(folder)
        self.fmt = fmt
        self.quality = quality
        self._index: Any = None

    def _open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._index = open(self.folder / "index.csv", "a", buffering=1)
        except OSError as e:
            raise OutputError(f"{self.kind} output {self.name!r}: cannot write to {self.folder}: {e.strerror}") from None
        if self._index.tell() == 0:
            self._index.write("frame,time,wall_time,file,top_class,confidence\n")

    def _write_image(self, frame: np.ndarray, path: Path) -> None:
        from PIL import Image

        if self.fmt == "png":
            Image.fromarray(frame).save(path, compress_level=1)
        else:
            Image.fromarray(frame).save(path, quality=self.quality)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        file = f"frame-{info.number:06d}.{self.fmt}"
        self._write_image(frame, self.folder / file)
        assert self._index is not None
        self._index.write(f"{info.number},{info.time:.3f},{time.time():.3f},{file},{info.top_class or ''},"
                          f"{info.confidence:.3f}\n")

    def _close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


# --- names and pixel formats for the platform senders ----------------------------------------------------------

def sender_name(kind: str, name: str, limit: int = 255) -> str:
    """A name other applications will list (NDI source, Syphon server, Spout sender), checked."""
    if not isinstance(name, str) or not name.strip():
        raise OutputError(f"{kind} sender name {name!r} must be a non-empty string")
    name = name.strip()
    bad = [c for c in name if ord(c) < 32 or ord(c) == 127]
    if bad:
        raise OutputError(f"{kind} sender name {name!r} contains control characters; use printable text")
    if len(name) > limit:
        raise OutputError(f"{kind} sender name {name!r} is {len(name)} characters long; at most {limit} are allowed")
    return name


def to_rgba(frame: np.ndarray, out: np.ndarray | None = None, *, flip: bool = False) -> np.ndarray:
    """An HxWx3 RGB frame as HxWx4 RGBA (alpha 255), written into ``out`` when it has the right shape.

    Each pixel is read as one little-endian 32-bit word at a 3-byte stride and OR-ed with an opaque alpha byte:
    one pass, about 8 times faster than assigning ``out[..., :3] = frame`` (a 1920x1080 frame in ~2 ms)."""
    h, w = frame.shape[:2]
    if out is None or out.shape != (h, w, 4) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        out = np.empty((h, w, 4), np.uint8)
    src = np.ascontiguousarray(frame[::-1] if flip else frame)
    n = h * w
    flat = src.reshape(-1)
    words = out.reshape(-1).view("<u4")
    if n > 1:  # the last pixel's word would read one byte past the frame: done apart
        packed = np.ndarray(shape=(n - 1,), dtype="<u4", buffer=flat, strides=(3,))
        np.bitwise_or(packed, np.uint32(0xFF000000), out=words[:n - 1])
    last = out.reshape(-1, 4)[n - 1]
    last[:3], last[3] = flat[-3:], 255
    return out


# --- NDI -------------------------------------------------------------------------------------------------------

_ndi_lock = threading.Lock()
_ndi_lib: Any = None


def ndi_library() -> Any:
    """The NDIlib module (ndi-python), initialised once per process."""
    global _ndi_lib
    with _ndi_lock:
        if _ndi_lib is None:
            try:
                import NDIlib
            except ImportError as e:
                raise OutputError(f"NDI needs the ndi-python package (pip install 'performer[ndi]'): {e}") from None
            if not NDIlib.initialize():
                raise OutputError("the NDI runtime did not start (NDIlib.initialize() failed; is the CPU supported?)")
            _ndi_lib = NDIlib
        return _ndi_lib


class NDIOutput(FrameOutput):
    """A named NDI sender. Receivers list it as ``HOST (name)``; frames go out as RGBX at their own size."""

    kind = "ndi"

    def __init__(self, name: str = "ndi", *, sender: str | None = None, fps: float = 30.0,
                 layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.sender = sender_name("ndi", sender or "Performer")
        if not 0.1 <= float(fps) <= 240:
            raise OutputError(f"ndi output {name!r}: fps {fps!r} is not in 0.1..240")
        self.fps = float(fps)
        self._inst: Any = None
        self._frame: Any = None
        self._buf: np.ndarray | None = None
        self._ndi: Any = None

    def _open(self) -> None:
        ndi = self._ndi = ndi_library()
        settings = ndi.SendCreate()
        settings.ndi_name = self.sender
        settings.clock_video = False  # the renderer sets the pace
        settings.clock_audio = False
        self._inst = ndi.send_create(settings)
        if self._inst is None:
            raise OutputError(f"ndi output {self.name!r}: the NDI runtime refused a sender named {self.sender!r}")
        vf = self._frame = ndi.VideoFrameV2()
        vf.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
        vf.frame_rate_N, vf.frame_rate_D = int(round(self.fps * 1000)), 1000
        vf.frame_format_type = ndi.FRAME_FORMAT_TYPE_PROGRESSIVE

    @property
    def source_name(self) -> str:
        """The full name receivers see (``HOST (sender)``), once open."""
        if self._inst is None:
            return ""
        return str(self._ndi.send_get_source_name(self._inst).ndi_name)

    @property
    def connections(self) -> int:
        """Receivers connected right now."""
        return 0 if self._inst is None else int(self._ndi.send_get_no_connections(self._inst, 0))

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        self._buf = to_rgba(frame, self._buf)
        self._frame.data = self._buf
        self._ndi.send_send_video_v2(self._inst, self._frame)  # synchronous: the buffer is free afterwards

    def _close(self) -> None:
        if self._inst is not None:
            self._ndi.send_destroy(self._inst)
            self._inst = None


# --- Syphon (macOS) and Spout (Windows) ------------------------------------------------------------------------

class SyphonOutput(FrameOutput):
    """A named Syphon server (macOS only, syphon-python's Metal server)."""

    kind = "syphon"

    def __init__(self, name: str = "syphon", *, server: str | None = None, layout: Layout | None = None,
                 required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.server_name = sender_name("syphon", server or "Performer")
        self._server: Any = None
        self._texture: Any = None
        self._buf: np.ndarray | None = None

    def _open(self) -> None:
        if sys.platform != "darwin":
            raise OutputError(f"syphon output {self.name!r}: Syphon exists only on macOS, this is {sys.platform}; "
                              "use an ndi output here (or spout on Windows)")
        try:
            import syphon
        except ImportError as e:
            raise OutputError(f"syphon output {self.name!r} needs syphon-python "
                              f"(pip install 'performer[syphon]'): {e}") from None
        self._server = syphon.SyphonMetalServer(self.server_name)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        from syphon.utils.numpy import copy_image_to_mtl_texture
        from syphon.utils.raw import create_mtl_texture

        self._buf = to_rgba(frame, self._buf)
        h, w = frame.shape[:2]
        if self._texture is None or (self._texture.width(), self._texture.height()) != (w, h):
            self._texture = create_mtl_texture(self._server.device, w, h)
        copy_image_to_mtl_texture(self._buf, self._texture)
        self._server.publish_frame_texture(self._texture)

    def _close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


class SpoutOutput(FrameOutput):
    """A named Spout sender (Windows only, SpoutGL; an invisible GLFW window provides the OpenGL context)."""

    kind = "spout"

    def __init__(self, name: str = "spout", *, sender: str | None = None, layout: Layout | None = None,
                 required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.sender = sender_name("spout", sender or "Performer", limit=255)
        self._spout: Any = None
        self._window: Any = None
        self._buf: np.ndarray | None = None

    def _open(self) -> None:
        if sys.platform != "win32":
            raise OutputError(f"spout output {self.name!r}: Spout exists only on Windows, this is {sys.platform}; "
                              "use an ndi output here (or syphon on macOS)")
        try:
            import SpoutGL
        except ImportError as e:
            raise OutputError(f"spout output {self.name!r} needs SpoutGL (pip install 'performer[spout]'): {e}") from None
        try:  # SpoutGL shares OpenGL textures: it needs a current context
            import glfw

            if glfw.init():
                glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
                self._window = glfw.create_window(16, 16, f"spout {self.sender}", None, None)
                glfw.make_context_current(self._window)
        except ImportError:
            log.warning("spout output %r: glfw is not installed; SpoutGL needs a current OpenGL context", self.name)
        self._spout = SpoutGL.SpoutSender()
        self._spout.setSenderName(self.sender)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        GL_RGBA = 0x1908
        self._buf = to_rgba(frame, self._buf)
        h, w = frame.shape[:2]
        if not self._spout.sendImage(self._buf, w, h, GL_RGBA, False, 0):
            raise OutputError(f"spout output {self.name!r}: SpoutGL did not send a {w}x{h} frame")
        self._spout.setFrameSync(self.sender)

    def _close(self) -> None:
        if self._spout is not None:
            self._spout.releaseSender()
            self._spout = None
        if self._window is not None:
            import glfw

            glfw.destroy_window(self._window)
            self._window = None


# --- recording -------------------------------------------------------------------------------------------------

class RecordOutput(FolderOutput):
    """Records a PNG sequence with a timestamp index and, when ffmpeg is on PATH, an H.264 video.

    At most ``fps`` frames a second are recorded (by render time; frames in between are skipped, counted in
    ``stats.skipped``). The video has a variable frame rate: ffmpeg stamps each frame with the wall clock as it
    reads it (millisecond time base), so the video plays back in real time whatever rate the renderer reaches,
    and ffmpeg encodes each frame once (a slow encoder makes the recorder drop frames, counted, never spiral).
    ``video=None`` records video when ffmpeg exists and says so in the log when it does not; ``True`` requires it.
    """

    kind = "record"
    close_while_busy = True  # closing ffmpeg's stdin unblocks a stuck write

    def __init__(self, folder: str | Path, *, name: str = "record", fps: float = 30.0, video: bool | None = None,
                 png: bool = True, layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(folder, name=name, fmt="png", layout=layout, required=required)
        if not 0.1 <= float(fps) <= 240:
            raise OutputError(f"record output {name!r}: fps {fps!r} is not in 0.1..240")
        if not png and video is False:
            raise OutputError(f"record output {name!r}: records neither PNG frames nor video; enable one")
        self.fps = float(fps)
        self.video = video
        self.png = png
        self.video_path = self.folder / "video.mp4"
        self.video_frames = 0
        self._ffmpeg: subprocess.Popen | None = None
        self._ffmpeg_exe: str | None = None
        self._size: tuple[int, int] | None = None
        self._next_time: float | None = None
        self._log: Any = None

    def _open(self) -> None:
        self._ffmpeg_exe = shutil.which("ffmpeg") if self.video is not False else None
        if self.video and self._ffmpeg_exe is None:
            raise OutputError(f"record output {self.name!r}: video needs ffmpeg on PATH (Debian package ffmpeg)")
        if self.video is None and self._ffmpeg_exe is None:
            log.warning("record output %r: ffmpeg is not on PATH, recording PNG frames only "
                        "(install the Debian package ffmpeg for video)", self.name)
        super()._open()
        self._next_time, self._size, self.video_frames = None, None, 0

    def _start_ffmpeg(self, width: int, height: int) -> None:
        assert self._ffmpeg_exe is not None
        self._log = open(self.folder / "ffmpeg.log", "wb")  # noqa: SIM115 (closed in _close)
        cmd = [self._ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", "1000",
               "-use_wallclock_as_timestamps", "1", "-i", "-",
               # even sizes for yuv420p; strictly increasing times (two frames read within a millisecond keep
               # both, 1 ms apart); no B-frames, which reorder frames whose times are that close
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2,setpts='if(isnan(PREV_OUTPTS),PTS,max(PTS,PREV_OUTPTS+1))'",
               "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-crf", "18",
               "-pix_fmt", "yuv420p", "-video_track_timescale", "1000", "-movflags", "+faststart",
               str(self.video_path)]
        self._ffmpeg = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        self._size = (width, height)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> bool | None:
        period = 1.0 / self.fps
        if self._next_time is not None and info.time < self._next_time - 0.25 * period:
            self.stats.skipped += 1
            return False
        # a schedule, not a minimum gap: a frame a little early is kept, and the long-run rate stays <= fps
        self._next_time = max(self._next_time or info.time, info.time) + period
        if self.png:
            super()._send(frame, info)
        elif self._index is not None:
            self._index.write(f"{info.number},{info.time:.3f},{time.time():.3f},,{info.top_class or ''},"
                              f"{info.confidence:.3f}\n")
        if self._ffmpeg_exe is None:
            return None
        if self._ffmpeg is None:
            self._start_ffmpeg(frame.shape[1], frame.shape[0])
        assert self._ffmpeg is not None and self._ffmpeg.stdin is not None and self._size is not None
        if self._ffmpeg.poll() is not None:
            raise OutputError(f"record output {self.name!r}: ffmpeg stopped (exit {self._ffmpeg.returncode}); "
                              f"see {self.folder / 'ffmpeg.log'}")
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = _resize(frame, *self._size)
        self._ffmpeg.stdin.write(np.ascontiguousarray(frame).data)
        self._ffmpeg.stdin.flush()
        self.video_frames += 1
        return None

    def _close(self) -> None:
        super()._close()
        if self._ffmpeg is not None:
            try:
                assert self._ffmpeg.stdin is not None
                self._ffmpeg.stdin.close()
            except OSError:
                pass
            try:
                code = self._ffmpeg.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._ffmpeg.kill()
                code = self._ffmpeg.wait()
            self._ffmpeg = None
            if self._log is not None:
                self._log.close()
                self._log = None
            if code != 0:
                raise OutputError(f"record output {self.name!r}: ffmpeg exited with {code}; "
                                  f"see {self.folder / 'ffmpeg.log'}")
            log.info("record output %r: %d video frames in %s", self.name, self.video_frames, self.video_path)


# --- building outputs from a preset ----------------------------------------------------------------------------

def make_output(key: str, spec: dict[str, Any], *, base: Path | None = None, frames_dir: Path | None = None,
                default_layout: str = "dream", default_fps: float = 30.0,
                resolve: Callable[[str], Path] | None = None, stamp: str | None = None) -> FrameOutput:
    """One output from its preset table ``[outputs.<key>]`` (type, name, width, height, layout, fit, path, host,
    port, fps). Raises OutputError naming the key and the value when the table cannot make an output.

    A table without ``layout`` starts with ``default_layout`` and then follows the live ``output.layout``
    parameter (``FrameInfo.layout``) whenever the engine supplies it; one without ``fps`` takes ``default_fps``
    (the preset's ``output.fps``, the renderer's target rate)."""
    kind = spec.get("type")
    layout = Layout(spec.get("layout", default_layout), spec.get("width"), spec.get("height"),
                    spec.get("fit", "letterbox"), follow="layout" not in spec)
    fps = float(spec.get("fps", default_fps))
    label = spec.get("name") or ("Performer" if key == kind else f"Performer {key}")
    resolve = resolve or (lambda p: Path(p).expanduser())
    if kind == "ndi":
        return NDIOutput(key, sender=label, fps=fps, layout=layout)
    if kind == "syphon":
        return SyphonOutput(key, server=label, layout=layout)
    if kind == "spout":
        return SpoutOutput(key, sender=label, layout=layout)
    if kind == "preview":
        from performer.outputs.preview import PreviewOutput

        return PreviewOutput(key, host=spec.get("host", "127.0.0.1"), port=int(spec.get("port", 8765)),
                             fps=fps, layout=layout, title=spec.get("name") or "Performer")
    if kind == "record":
        stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
        root = resolve(spec["path"]) if spec.get("path") else (frames_dir or Path("recordings"))
        return RecordOutput(Path(root) / f"{stamp}-{key}", name=key, fps=fps, layout=layout)
    if kind == "frames":
        if spec.get("path"):
            folder = resolve(spec["path"])
        elif frames_dir is not None:
            folder = Path(frames_dir) / key
        else:
            raise OutputError(f"frames output {key!r} needs a path (outputs.{key}.path) or a frames folder")
        return FolderOutput(folder, name=key, layout=layout)
    raise OutputError(f"output {key!r}: type {kind!r} is not one of {', '.join(OUTPUT_KINDS)}")


OUTPUT_KINDS = ("ndi", "syphon", "spout", "preview", "record", "frames")


def build_outputs(preset: Any, *, frames_dir: str | Path | None = None) -> list[FrameOutput]:
    """The enabled outputs of ``preset.outputs`` (name -> settings), ready for ``Engine(outputs=...)``.

    Outputs are built with ``required=False``: one that cannot open on this machine (Syphon on Linux, a port
    already in use) logs why when the engine opens it, shows state ``failed`` and its error in the engine's status,
    and counts its frames as dropped, while the others run. A table that cannot make an output at all is logged
    and left out."""
    outputs: list[FrameOutput] = []
    params = getattr(preset, "params", {}) or {}
    default_layout = params.get("output.layout", "dream")
    default_fps = float(params.get("output.fps", 30.0))  # the renderer's target rate
    resolve = getattr(preset, "resolve", None)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for key, spec in (getattr(preset, "outputs", {}) or {}).items():
        if not spec.get("enabled", True):
            log.info("output %r (%s) is disabled in the preset", key, spec.get("type"))
            continue
        try:
            out = make_output(key, spec, frames_dir=Path(frames_dir) if frames_dir else None,
                              default_layout=default_layout, default_fps=default_fps, resolve=resolve,
                              stamp=stamp)
        except OutputError as e:
            log.error("output %r left out: %s", key, e)
            continue
        out.required = False
        outputs.append(out)
    return outputs
