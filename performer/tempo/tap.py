"""Tap tempo, and the manual tempo it shares a grid with.

Each tap (``tempo.tap``: an OSC message to ``/tempo/tap``, or a MIDI note a
preset maps to it) is a beat. The first tap of a run (after a pause of more
than :data:`RESET_AFTER` seconds) is the first beat of a bar: one tap alone
moves the downbeat there and keeps the tempo. From the second tap on, the tempo
and phase are a least-squares line through the run's taps (the last
:data:`MAX_TAPS`), so one early or late tap moves them little. A tap far off
the run's next beat is not taken as one: 40 % of a beat early or more, it is
ignored (a double press); that late or more, it begins a new run. Pause two
seconds to tap a new tempo. Setting ``tempo.bpm`` by hand changes the tempo and
keeps the phase.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from performer.tempo.grid import BeatGrid

RESET_AFTER = 2.0
"""Seconds without a tap after which the next tap begins a new run (so the slowest tapped tempo is 30 BPM)."""
MAX_TAPS = 16
MIN_BPM = 40.0
MAX_BPM = 240.0
"""Tapped tempi outside this range are ignored (a double tap, a stray press): the range of ``tempo.bpm``."""
OFF_BEAT = 0.4
"""Fraction of a beat a tap may be off the run's next beat."""


class TapTempo:
    """Turns taps (monotonic seconds) into a :class:`BeatGrid`; thread-safe."""

    def __init__(self) -> None:
        self._taps: deque[float] = deque(maxlen=MAX_TAPS)
        self._first = 0
        """Beat number of the oldest tap kept (the run's taps are beats first, first + 1, ...)."""
        self.grid: BeatGrid | None = None
        self.taps = 0
        self.ignored = 0
        """Taps not taken: double presses, and runs whose tempo fell outside MIN_BPM..MAX_BPM."""
        self._lock = threading.Lock()

    def tap(self, t: float) -> float | None:
        """One tap at ``t``; returns the tempo the taps now give (None after the first tap of a run)."""
        with self._lock:
            self.taps += 1
            taps = self._taps
            if taps and t - taps[-1] > RESET_AFTER:
                taps.clear()
            if taps and t <= taps[-1]:
                return None  # the same instant twice, or time going back: not a second beat
            if len(taps) >= 2 and self.grid is not None:
                off = (t - taps[-1]) / self.grid.period - 1.0
                if off < -OFF_BEAT:  # far too early for the next beat: a double press, not a beat
                    self.ignored += 1
                    return None
                if off > OFF_BEAT:  # far too late: a new run begins with this tap
                    taps.clear()
            if not taps:
                self._first = 0
                taps.append(t)
                if self.grid is not None:
                    self.grid = BeatGrid(t, 0.0, self.grid.bpm)  # one tap: the downbeat is here
                return None
            if len(taps) == taps.maxlen:
                self._first += 1
            taps.append(t)
            beats = np.arange(len(taps), dtype=np.float64)
            slope, intercept = np.polyfit(beats, np.asarray(taps, dtype=np.float64), 1)
            bpm = 60.0 / slope if slope > 0 else 0.0
            if not MIN_BPM <= bpm <= MAX_BPM:
                self.ignored += 1
                taps.clear()
                taps.append(t)
                self._first = 0
                return None
            last = len(taps) - 1
            self.grid = BeatGrid(float(intercept + slope * last), float(self._first + last), float(bpm))
            return float(bpm)

    def set_bpm(self, bpm: float, now: float) -> None:
        """The manual tempo: the grid goes on at ``bpm`` from where it is (starting a bar at ``now`` if none ran)."""
        with self._lock:
            if self.grid is None:
                self.grid = BeatGrid(now, 0.0, bpm)
            elif abs(self.grid.bpm - bpm) > 1e-6:
                self.grid = self.grid.retimed(now, bpm)
