"""The video source base class: the VJ's own content, read on its own thread into a newest-frame slot.

:class:`VideoSource` owns the thread, the :class:`~performer.latest.Latest` slot and the counting
(:class:`VideoStats`); a subclass owns the I/O: ``_open()`` acquires what it reads from and raises
:class:`VideoError` naming the source when it cannot; ``_read()`` returns the next frame as HxWx3 uint8 RGB, or
None when none came in time; ``_close()`` releases what ``_open`` acquired. ``_read`` and ``_close`` run on the
source's own thread. A read that fails is counted, logged once per distinct message, and retried after a moment,
so a source that comes and goes (an NDI sender restarted, a camera re-plugged) never stops the show: the renderer
keeps the last frame meanwhile. The renderer takes the newest frame with :meth:`VideoSource.latest`, never waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from performer.errors import PerformerError
from performer.latest import Latest
from performer.runtime import LoopStats, RateMeter, Worker
from performer.video.convert import shrink

log = logging.getLogger(__name__)


class VideoError(PerformerError):
    """A video source could not be opened or read; the message names the source."""


@dataclass
class VideoStats(LoopStats):
    """What a video source has done so far (``errors``: reads that failed, the last one kept)."""

    state: str = "new"
    """new; searching (an NDI source or a camera not found yet); receiving; waiting (open, no frame for a while);
    lost (the last read failed; retrying); failed (could not open); stopped."""
    frames: int = 0
    """Frames received."""
    dropped: int = 0
    """Frames replaced by a newer one before the renderer took them (a 30-fps source and a 10-fps dream drop 2 in 3)."""
    fps: float = 0.0
    width: int = 0
    height: int = 0


class VideoSource(ABC):
    """Base class: the reading thread, the newest-frame slot, stats and errors. ``spec`` names the source in every
    message (``ndi:Stage``, ``camera:0``, a file)."""

    kind = "video"
    retry_s = 1.0
    """Pause after a failed read before the next try."""
    stale_s = 2.0
    """Without a frame for this long, a receiving source reads as ``waiting``."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.stats = VideoStats()
        self._slot: Latest[np.ndarray] = Latest()
        self._worker = Worker(f"video-{self.kind}", self._run)
        self._running = False
        self._lock = threading.Lock()
        self._meter = RateMeter(2.0)
        self._last_frame_at = 0.0
        self._fit: tuple[int, int] | None = None

    # --- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        """Open the source and start reading; raises :class:`VideoError` (one line naming it) if it cannot open."""
        with self._lock:
            if self._running:
                return
            try:
                self._open()
            except Exception as e:
                err = e if isinstance(e, VideoError) else VideoError(
                    f"video source {self.spec!r} could not open: {type(e).__name__}: {e}")
                self.stats.state = "failed"
                self.stats.errors += 1
                self.stats.last_error = str(err)
                raise err from (None if err is e else e)
            if self.stats.state in ("new", "failed", "stopped"):
                self.stats.state = "waiting"
            self._last_frame_at = time.monotonic()
            self._running = True
            self._worker.start()
        if self.stats.state != "searching":
            log.info("video source %s open", self.spec)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop reading and release the source; returns within about ``timeout``."""
        with self._lock:
            running, self._running = self._running, False
            self._worker.stopping.set()
            if not running:
                return
            if not self._worker.join(timeout):  # a read stuck in the driver: the thread closes it once the read returns
                log.warning("video source %s still busy reading after %.0f s; it closes when the read returns",
                            self.spec, timeout)
            self.stats.state = "stopped"

    def __enter__(self) -> VideoSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- frames --------------------------------------------------------------------
    def latest(self, fit: tuple[int, int] | None = None) -> np.ndarray | None:
        """The newest frame (HxWx3 uint8 RGB), new or not; None before the first. Never blocks.

        ``fit`` (height, width): the size the frames are used at (the dream's); frames at least twice as large are
        box-averaged down on the source's thread from then on (see :func:`~performer.video.convert.shrink`)."""
        if fit is not None:
            self._fit = (int(fit[0]), int(fit[1]))
        frame = self._slot.peek()
        self.stats.dropped = self._slot.dropped
        return frame

    def wait_for_frame(self, timeout: float) -> np.ndarray | None:
        """The first frame newer than now, waiting up to ``timeout`` seconds (for tools and tests); as it came in,
        or box-averaged down when :meth:`latest` was told a ``fit``."""
        version, deadline = self._slot.version, time.monotonic() + timeout
        while self._slot.version == version and time.monotonic() < deadline and self._worker.running:
            time.sleep(0.01)
        return self.latest() if self._slot.version != version else None

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {"source": self.spec, "state": s.state, "frames": s.frames, "dropped": self._slot.dropped,
                "errors": s.errors, "fps": round(s.fps, 2), "size": [s.width, s.height], "error": s.last_error,
                **self.details()}

    def details(self) -> dict[str, Any]:
        """What a subclass adds to :meth:`status` (the NDI source it found, say)."""
        return {}

    def describe(self) -> str:
        return self.spec

    # --- the thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while self._worker.running:
                try:
                    frame = self._read()
                except Exception as e:
                    self._failed(e)
                    self._worker.wait(self.retry_s)
                    continue
                now = time.monotonic()
                if frame is None:
                    if self.stats.state == "receiving" and now - self._last_frame_at > self.stale_s:
                        self.stats.state = "waiting"
                    continue
                self._received(frame, now)
        finally:
            try:
                self._close()
            except Exception as e:
                log.warning("video source %s did not close cleanly: %s", self.spec, e)

    def _received(self, frame: np.ndarray, now: float) -> None:
        s = self.stats
        s.frames += 1
        s.height, s.width = int(frame.shape[0]), int(frame.shape[1])
        s.state = "receiving"
        self._last_frame_at = now
        fit = self._fit
        self._slot.put(shrink(frame, fit) if fit is not None else frame)
        rate = self._meter.add(now)
        if rate is not None:
            s.fps = rate

    def _failed(self, e: Exception) -> None:
        s = self.stats
        msg = str(e) if isinstance(e, VideoError) else f"video source {self.spec!r}: {type(e).__name__}: {e}"
        s.state = "lost"
        if s.failed(msg):
            log.error("%s; retrying every %.0f s, the dream keeps the last frame", msg, self.retry_s)

    # --- what a source implements ----------------------------------------------------
    @abstractmethod
    def _open(self) -> None:
        """Acquire the source (called by ``start``); raise VideoError naming it when it cannot open."""

    @abstractmethod
    def _read(self) -> np.ndarray | None:
        """The next frame as HxWx3 uint8 RGB, or None when none came within a fraction of a second."""

    def _close(self) -> None:  # noqa: B027 (an optional hook)
        """Release what ``_open`` acquired (called on the source's thread as it ends)."""
