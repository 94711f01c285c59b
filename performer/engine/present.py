"""The output clock: frames to the outputs at ``output.fps``, whatever the dream's own rate.

The renderer dreams as fast as it can (a few frames a second at 2 CPU cores, hundreds on a GPU) and hands each
dreamed frame over with two times: when its feedback transform was applied and when it was done. The
:class:`Presenter` ticks on a steady clock; each tick it shows the latest dreamed frame faded in over the
previous one across one dream interval, and moves both by the feedback transform (zoom, rotate, translate) for
the time since it was applied -- so an endless zoom glides at the output rate instead of jumping at the dream's.
Last, every frame goes through the master section (:mod:`performer.engine.master`): colour, fade, blackout, freeze.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from performer.engine.master import SWITCHES, Master, blacked_out
from performer.params import Snapshot
from performer.runtime import RateMeter, Worker


@dataclass(frozen=True)
class Dreamed:
    """One frame from the renderer: HxWx3 uint8, when its feedback was applied and when it was done."""

    frame: np.ndarray
    warped_at: float
    done_at: float
    offset: tuple[float, float] = (0.0, 0.0)
    """Pixels (x, y) the frame's content lies from where it shows it: a drift's fraction not yet applied."""


@dataclass
class ClockStats:
    frames: int = 0
    fps: float = 0.0
    late: int = 0
    """Ticks skipped because the clock fell behind (a busy machine)."""
    p5_fps: float = 0.0
    """5th percentile of the instantaneous rate over the last few seconds."""


class Presenter:
    """Composes output frames from the last two dreamed frames on a steady clock; see the module docstring."""

    def __init__(self, emit: Callable[[np.ndarray, float], None], params: Callable[[], Snapshot],
                 clock: Callable[[], float] = time.monotonic,
                 live: Callable[[], Snapshot] | None = None) -> None:
        """``params``: the values each tick composes with (the engine's: those of the last dreamed frame, with
        modulation); ``live``: the store's own snapshot, whose master switches (freeze, blackout) then act on
        the next tick rather than with the next dreamed frame, however long that takes."""
        self._emit = emit
        self._params = params
        self._live = live
        self._clock = clock
        self.master = Master()
        self._lock = threading.Lock()
        self._prev: Dreamed | None = None
        self._cur: Dreamed | None = None
        self._interval = 0.1
        self.stats = ClockStats()
        self._worker = Worker("present", self._run)
        self._meter = RateMeter(3.0, least=3)

    def put(self, d: Dreamed) -> None:
        """A newly dreamed frame (from the render thread)."""
        with self._lock:
            if self._cur is not None:
                gap = max(1e-3, d.done_at - self._cur.done_at)
                self._interval = 0.8 * self._interval + 0.2 * gap
            self._prev, self._cur = self._cur, d

    def compose(self, now: float, p: Snapshot) -> np.ndarray | None:
        """The output frame at time ``now``: the latest dream faded in over the previous one, both moved by the
        feedback transform for the time since it was applied, then through the master section."""
        with self._lock:
            prev, cur, interval = self._prev, self._cur, self._interval
        if cur is None:
            return None
        if blacked_out(p):
            return np.zeros(cur.frame.shape, dtype=np.uint8)
        out = self.master.held(p)
        if out is None:
            fps = p.output.fps
            a = 1.0 if prev is None else min(1.0, max(0.0, (now - cur.done_at) / max(interval, 1.0 / fps)))
            out = _warp(cur, now, fps, p)
            if a < 1.0 and prev is not None and prev.frame.shape == cur.frame.shape:
                out = cv2.addWeighted(out, a, _warp(prev, now, fps, p), 1.0 - a, 0.0)
            self.master.hold(p, out)
        return self.master.finish(out, p)

    def params(self) -> Snapshot:
        """What the next tick composes with: ``params()``, its master switches read live when ``live`` is set."""
        p = self._params()
        if self._live is None:
            return p
        live = self._live()
        return p.with_values({name: live[name] for name in SWITCHES})

    # --- the clock ---------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._worker.stop(timeout)

    def _run(self) -> None:
        next_t = self._clock()
        while self._worker.running:
            p = self.params()
            period = 1.0 / max(1.0, p.output.fps)
            now = self._clock()
            if now < next_t:
                self._worker.wait(next_t - now)
                continue
            behind = int((now - next_t) / period)
            if behind:  # fell behind: skip the ticks that are past rather than rushing them out
                self.stats.late += behind
                next_t += behind * period
            next_t += period
            frame = self.compose(now, p)
            if frame is None:
                continue
            self._emit(frame, now)
            self._count(self._clock())

    def _count(self, t: float) -> None:
        st = self.stats
        st.frames += 1
        m = self._meter
        m.add(t)
        if len(m.times) > 2:
            st.fps = m.rate() or 0.0
            st.p5_fps = m.percentile(0.05)


def _warp(d: Dreamed, now: float, fps: float, p: Snapshot) -> np.ndarray:
    """``d``'s frame (uint8), moved by the feedback transform for the output frames since it was applied. A drift
    alone moves it by whole pixels (exact: the dream keeps its detail); a zoom or turn resamples it."""
    k = max(0.0, (now - d.warped_at) * fps)
    m = p.dream
    zoom = m.zoom ** k
    rot = m.rotate * k
    tx, ty = m.translate_x * k + d.offset[0], m.translate_y * k + d.offset[1]
    if abs(zoom - 1.0) < 1e-4 and abs(rot) < 1e-3:
        dx, dy = round(tx), round(ty)
        return d.frame if dx == 0 and dy == 0 else _shift(d.frame, dx, dy)
    return _affine(d.frame, zoom, rot, tx, ty)


def _shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """An HxWx3 uint8 image moved by whole pixels (right, down), the uncovered edge mirrored."""
    h, w = img.shape[:2]
    dx, dy = max(-w + 1, min(w - 1, dx)), max(-h + 1, min(h - 1, dy))
    padded = cv2.copyMakeBorder(img, max(dy, 0), max(-dy, 0), max(dx, 0), max(-dx, 0), cv2.BORDER_REFLECT_101)
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[top:top + h, left:left + w]


def _affine(img: np.ndarray, zoom: float, rotate_deg: float, tx: float, ty: float) -> np.ndarray:
    """Zoom about the centre, rotate and translate (pixels) an HxWx3 uint8 image, with reflected edges.

    The same transform as :func:`performer.dream.canvas.warp`, with OpenCV on the output thread (about 5 ms at
    1280x720) so the clock never waits for the renderer's torch threads."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0 - 0.5, h / 2.0 - 0.5), -rotate_deg, zoom)
    m[0, 2] += tx
    m[1, 2] += ty
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
