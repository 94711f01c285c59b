"""The beat of the live input: the onset envelope and the tracker over the engine's audio ring, as a beat grid.

:class:`AudioBeat` is polled by the tempo thread (:class:`performer.tempo.tempo.Tempo`)
about a hundred times a second: it computes the envelope frames the new audio
completes and, five times a second, moves the tracker. Sample positions become
monotonic seconds through the moment the newest sample arrived: the least
delayed observation of ``time - samples written / rate`` (rising by at most a
millisecond a second, so a lasting change in the input's delay is followed),
which keeps the grid still while the audio comes in blocks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from performer.audio.ring import AudioRing
from performer.tempo.grid import BeatGrid
from performer.tempo.onsets import OnsetEnvelope
from performer.tempo.tracker import WINDOW, BeatTracker

UPDATE_EVERY = 0.2
"""Seconds of new audio between two tracker updates."""
OFFSET_RISE = 0.001
"""Seconds per second the sample-to-clock offset may rise between least-delayed observations."""
LOCK_TIMEOUT = 2.0
"""Seconds without a beat the tracker trusts before it counts as not locked (the grid keeps running)."""


@dataclass
class AudioBeatStats:
    updates: int = 0
    tempo_changes: int = 0
    gaps: int = 0
    """Times the envelope skipped ahead because the tempo thread fell behind the input."""
    salience: float = 0.0


class AudioBeat:
    """Tracks the beat of what an :class:`AudioRing` receives; :attr:`grid` is the latest estimate (or None)."""

    def __init__(self, ring: AudioRing) -> None:
        self.ring = ring
        self.rate = ring.rate
        self.envelope = OnsetEnvelope(ring.rate)
        self.tracker = BeatTracker(self.envelope.fps)
        self.grid: BeatGrid | None = None
        self.stats = AudioBeatStats()
        self._offset: float | None = None
        self._polled_at = 0.0
        self._next_update = 0
        self._locked_at = -1e9
        self._lock = threading.Lock()

    def poll(self, now: float) -> bool:
        """Take in the audio written since the last poll; returns True when :attr:`grid` moved."""
        total = self.ring.total
        observed = now - total / self.rate
        if self._offset is None or observed < self._offset:
            self._offset = observed
        else:
            self._offset = min(observed, self._offset + OFFSET_RISE * max(0.0, now - self._polled_at))
        self._polled_at = now
        env = self.envelope
        env.update(self.ring.read, total)
        self.stats.gaps = env.gaps
        if env.frames < self._next_update:
            return False
        self._next_update = env.frames + int(UPDATE_EVERY * env.fps)
        values, level, last = env.recent(WINDOW + 1.0)
        mid, low = env.recent_bands(WINDOW + 1.0)
        with self._lock:
            before = self.tracker.updates
            self.tracker.update(values, last, level, mid, low)
            if self.tracker.updates != before:
                self._locked_at = now
            self._publish()
        st = self.stats
        st.updates, st.tempo_changes = self.tracker.updates, self.tracker.tempo_changes
        st.salience = self.tracker.state.salience if self.tracker.state else 0.0
        return True

    def locked(self, now: float) -> bool:
        """Whether the tracker heard a beat in the last :data:`LOCK_TIMEOUT` seconds."""
        return now - self._locked_at < LOCK_TIMEOUT

    def time_of(self, position: float) -> float:
        """Monotonic seconds at which sample ``position`` arrived."""
        return (self._offset or 0.0) + position / self.rate

    def set_downbeat(self, now: float) -> None:
        """The beat nearest ``now`` begins a bar (from then on the accent guess no longer moves the bar)."""
        frame = self.envelope.frame_at((now - (self._offset or 0.0)) * self.rate)
        with self._lock:
            self.tracker.set_downbeat(frame)
            self._publish()

    def _publish(self) -> None:
        st = self.tracker.state
        bpm = self.tracker.bpm()
        if st is None or bpm is None:
            return
        t = self.time_of(self.envelope.position(st.frame))
        self.grid = BeatGrid(t, st.beat - st.downbeat, bpm)
