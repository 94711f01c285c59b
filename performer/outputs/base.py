"""The output base class: where rendered frames go, without ever stalling the renderer.

:class:`FrameOutput` owns the hand-off, the worker thread and the counting (:class:`OutputStats`);
subclasses own the I/O (``_open``, ``_send``, ``_close``). ``send()`` never blocks the renderer: it leaves
the frame in a one-slot hand-off that the output's own thread picks up, so a slow or failing output drops
frames (and counts them) instead of stalling the renderer or the other outputs. Each output carries an
optional :class:`~performer.outputs.layout.Layout`, applied on its own thread (outputs of one size share one
scaling of each frame, :mod:`performer.outputs.scaling`). :class:`NullOutput` only counts frames and keeps the
last one, for tests and benchmarks.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from performer.errors import OutputError
from performer.latest import Latest
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout
from performer.runtime import LoopStats, RateMeter, Worker

log = logging.getLogger(__name__)


@dataclass
class OutputStats(LoopStats):
    """What an output has done so far: frames sent, dropped and skipped, errors, rate, state."""

    sent: int = 0
    dropped: int = 0
    """Frames that never went out: replaced in the hand-off before the output took them, or sent while it was down."""
    fps: float = 0.0
    send_ms: float = 0.0
    """Time the output's thread spends per frame (layout plus send), smoothed."""
    state: str = "new"
    """new, open, failed (could not open; frames are counted as dropped) or closed."""
    skipped: int = 0
    """Frames left out on purpose (a recorder's rate limit), not lost."""


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
        self._worker = Worker(f"output-{name}", self._run, timeout=2.0)
        self._meter = RateMeter(2.0)
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
            self.stats.state = "open"
            self._worker.start()
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
        while self._worker.running:
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
                if self.stats.failed(str(e)):
                    log.error("%s output %r failed on frame %d: %s", self.kind, self.name, info.number, e)
                continue
            if skipped:  # left out on purpose (the subclass counted it in stats.skipped)
                continue
            ms = 1000.0 * (time.perf_counter() - t0)
            self.stats.send_ms = ms if self.stats.sent == 0 else 0.9 * self.stats.send_ms + 0.1 * ms
            self.stats.sent += 1
            rate = self._meter.add(time.monotonic())
            if rate is not None:
                self.stats.fps = rate

    def close(self) -> None:
        with self._lock:
            was = self.stats.state
            self._worker.stopping.set()
            self._wake.set()
            busy = not self._worker.join()
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

    def _open(self) -> None:  # noqa: B027 (an optional hook, not abstract: most outputs have nothing to open)
        """Acquire what the output sends through (called by ``open``); nothing by default."""

    @abstractmethod
    def _send(self, frame: np.ndarray, info: FrameInfo) -> bool | None:
        """Send one frame (already laid out); return False to say it was left out on purpose."""

    def _close(self) -> None:  # noqa: B027 (an optional hook, not abstract: most outputs have nothing to close)
        """Release what ``_open`` acquired (called by ``close``); nothing by default."""


class NullOutput(FrameOutput):
    """Counts frames and keeps the last one; for tests and benchmarks."""

    kind = "null"

    def __init__(self, name: str = "null", *, layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.last: tuple[np.ndarray, FrameInfo] | None = None

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        self.last = (frame, info)
