"""Frame outputs: where rendered frames go.

:class:`FrameOutput` owns the hand-off, the worker thread and the counting;
subclasses own the I/O (``_open``, ``_send``, ``_close``). ``send()`` never
blocks the renderer: it leaves the frame in a one-slot hand-off that the
output's own thread picks up, so a slow or failing output drops frames (and
counts them) instead of stalling the renderer or the other outputs.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from performer.analysis import Latest
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


@dataclass
class OutputStats:
    sent: int = 0
    dropped: int = 0
    errors: int = 0
    fps: float = 0.0
    last_error: str = ""


class FrameOutput(ABC):
    """Base class: validation, the non-blocking hand-off, the worker thread and stats."""

    kind = "output"

    def __init__(self, name: str) -> None:
        self.name = name
        self.stats = OutputStats()
        self._slot: Latest[tuple[np.ndarray, FrameInfo]] = Latest()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._times: list[float] = []

    def open(self) -> None:
        try:
            self._open()
        except OutputError:
            raise
        except Exception as e:
            raise OutputError(f"{self.kind} output {self.name!r} could not open: {e}") from e
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"output-{self.name}", daemon=True)
        self._thread.start()
        log.info("%s output %r open", self.kind, self.name)

    def send(self, frame: np.ndarray, info: FrameInfo) -> None:
        """Hand a frame (HxWx3 uint8 RGB) to the output; never blocks."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise OutputError(f"{self.kind} output {self.name!r} takes HxWx3 uint8 RGB frames, got {frame.dtype} {frame.shape}")
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
            try:
                self._send(frame, info)
            except Exception as e:
                self.stats.errors += 1
                if str(e) != self.stats.last_error:
                    log.error("%s output %r failed on frame %d: %s", self.kind, self.name, info.number, e)
                self.stats.last_error = str(e)
                continue
            self.stats.sent += 1
            now = time.monotonic()
            self._times = [t for t in self._times if now - t < 2.0] + [now]
            if len(self._times) > 1:
                self.stats.fps = (len(self._times) - 1) / (self._times[-1] - self._times[0])

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        try:
            self._close()
        except Exception as e:
            log.warning("%s output %r did not close cleanly: %s", self.kind, self.name, e)

    def _open(self) -> None:
        pass

    @abstractmethod
    def _send(self, frame: np.ndarray, info: FrameInfo) -> None: ...

    def _close(self) -> None:
        pass


class NullOutput(FrameOutput):
    """Counts frames and keeps the last one; for tests and benchmarks."""

    kind = "null"

    def __init__(self, name: str = "null") -> None:
        super().__init__(name)
        self.last: tuple[np.ndarray, FrameInfo] | None = None

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        self.last = (frame, info)


class FolderOutput(FrameOutput):
    """Writes each frame as an image file (frame-000001.jpg, ...) into a folder, with an index of times."""

    kind = "frames"

    def __init__(self, folder: str | Path, *, name: str = "frames", fmt: str = "jpg", quality: int = 90) -> None:
        super().__init__(name)
        if fmt not in ("jpg", "png"):
            raise OutputError(f"frames output {name!r}: format {fmt!r} is not one of jpg, png")
        self.folder = Path(folder)
        self.fmt = fmt
        self.quality = quality
        self._index = None

    def _open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._index = open(self.folder / "index.csv", "a", buffering=1)
        except OSError as e:
            raise OutputError(f"frames output {self.name!r}: cannot write to {self.folder}: {e.strerror}") from None
        if self._index.tell() == 0:
            self._index.write("frame,time,file,top_class,confidence\n")

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        from PIL import Image

        file = f"frame-{info.number:06d}.{self.fmt}"
        Image.fromarray(frame).save(self.folder / file, quality=self.quality)
        assert self._index is not None
        self._index.write(f"{info.number},{info.time:.3f},{file},{info.top_class or ''},{info.confidence:.3f}\n")

    def _close(self) -> None:
        if self._index is not None:
            self._index.close()
