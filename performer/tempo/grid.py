"""The beat grid: where the beats fall in time, and how far the next beat or bar is.

Every tempo source (the audio tracker, tap tempo, MIDI clock, Ableton Link)
describes the beat it hears as a :class:`BeatGrid`: one anchor point (a time
and the beat number at that time) and a tempo. Beat 0, 4, 8 ... begin bars
(4 beats to the bar). Times are :func:`time.monotonic` seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Boundary = Literal["beat", "bar"]
BOUNDARIES: tuple[str, ...] = ("beat", "bar")
BEATS_PER_BAR = 4
BPM_MIN = 20.0
BPM_MAX = 400.0
"""Tempi a grid accepts; anything else is a broken source, not a tempo."""
ON_TIME = 0.001
"""Seconds either side of a beat within which it counts as now."""


@dataclass(frozen=True)
class BeatGrid:
    """Beats at ``beat + (t - time) * bpm / 60``; whole numbers are beats, multiples of 4 begin bars."""

    time: float
    """A moment (monotonic seconds) ..."""
    beat: float
    """... and the beat number at that moment."""
    bpm: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bpm) and BPM_MIN <= self.bpm <= BPM_MAX):
            raise ValueError(f"tempo {self.bpm!r} BPM is outside {BPM_MIN:g}..{BPM_MAX:g} BPM")
        if not (math.isfinite(self.time) and math.isfinite(self.beat)):
            raise ValueError(f"beat grid anchor ({self.time!r} s, beat {self.beat!r}) is not finite")

    @property
    def period(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.bpm

    def beat_at(self, t: float) -> float:
        return self.beat + (t - self.time) / self.period

    def time_at(self, beat: float) -> float:
        return self.time + (beat - self.beat) * self.period

    def beat_phase(self, t: float) -> float:
        """0..1 within the current beat (0 on the beat)."""
        b = self.beat_at(t)
        return b - math.floor(b)

    def bar_phase(self, t: float) -> float:
        """0..1 within the current 4-beat bar (0 on its first beat)."""
        b = self.beat_at(t) / BEATS_PER_BAR
        return b - math.floor(b)

    def next_boundary(self, kind: Boundary, now: float) -> float:
        """Seconds from ``now`` to the next beat (``kind="beat"``) or bar start (``"bar"``); 0 when ``now`` is on one.

        A boundary less than :data:`ON_TIME` seconds away, either side, counts as now: what is asked for on the
        beat happens on it, not a beat later.
        """
        if kind not in BOUNDARIES:
            raise ValueError(f"boundary {kind!r} is not one of {', '.join(BOUNDARIES)}")
        seconds = (1 if kind == "beat" else BEATS_PER_BAR) * self.period
        x = self.beat_at(now) * self.period / seconds  # in units of the boundary's spacing
        since = (x - math.floor(x)) * seconds
        if since < ON_TIME or seconds - since < ON_TIME:
            return 0.0
        return seconds - since

    def retimed(self, now: float, bpm: float) -> BeatGrid:
        """The same beat position at ``now``, going on at ``bpm`` (a tempo change keeps the phase continuous)."""
        return BeatGrid(now, self.beat_at(now), bpm)

    def shifted(self, beats: float) -> BeatGrid:
        """The grid moved by ``beats`` (positive: the beat counts ahead)."""
        return BeatGrid(self.time, self.beat + beats, self.bpm)


def wrap(x: float) -> float:
    """``x`` wrapped into -0.5 .. 0.5 (a phase difference in beats)."""
    return x - math.floor(x + 0.5)
