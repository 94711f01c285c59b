"""What an audio source is: the :class:`AudioSource` contract, its counters, and :class:`ArraySource`.

Every source writes mono float32 blocks at its own rate into an
:class:`~performer.audio.ring.AudioRing`; the analysis thread reads windows
from the ring. :class:`ArraySource` plays an array (a sound file, the built-in
demo) paced in real time or as fast as possible; devices are
:class:`~performer.audio.device_source.DeviceSource`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from performer.audio.ring import AudioRing
from performer.errors import AudioError
from performer.runtime import Worker


@dataclass
class SourceStats:
    blocks: int = 0
    overflows: int = 0
    """Blocks lost: PortAudio input overflows plus blocks dropped because the queue was full."""
    reopened: int = 0
    lost: bool = False
    error: str = ""


class AudioSource(ABC):
    """A source of mono audio at ``rate``; ``start(ring)`` begins writing, ``stop()`` ends."""

    name: str = "source"
    rate: int = 0
    realtime: bool = True
    """False for files read as fast as possible (the ring then applies back-pressure)."""

    def __init__(self) -> None:
        self.stats = SourceStats()
        self.finished = threading.Event()
        """Set when a finite source (a file without loop) has delivered everything."""

    @abstractmethod
    def start(self, ring: AudioRing) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def describe(self) -> str:
        return f"{self.name} ({self.rate} Hz)"


class ArraySource(AudioSource):
    """Plays an array into the ring from its own thread, paced like a device or as fast as possible."""

    def __init__(self, audio: np.ndarray, rate: int, *, name: str = "array", loop: bool = False,
                 realtime: bool = True, block: int | None = None) -> None:
        super().__init__()
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 2:
            audio = audio.mean(axis=1)
        if audio.ndim != 1 or len(audio) == 0:
            raise AudioError(f"audio source {name}: expected a non-empty mono or (frames, channels) array, "
                             f"got shape {audio.shape}")
        self.audio = audio
        self.rate = int(rate)
        self.name = name
        self.loop = loop
        self.realtime = realtime
        self.block = block or max(64, self.rate // 100)
        """Samples per write: 10 ms by default, as a live audio interface delivers them."""
        self._worker = Worker(f"audio-{self.name}", self._run)
        self.started_at = 0.0
        """Monotonic time the first sample was due: sample k is due at started_at + k / rate (real time)."""

    def start(self, ring: AudioRing) -> None:
        self.started_at = time.monotonic()
        self._worker.start(ring)

    def _run(self, ring: AudioRing) -> None:
        pos, n = 0, len(self.audio)
        t0 = self.started_at
        played = 0
        while self._worker.running:
            if pos >= n:
                if not self.loop:
                    self.finished.set()
                    return
                pos = 0
            chunk = self.audio[pos:pos + self.block]
            pos += len(chunk)
            if self.realtime:
                due = t0 + (played + len(chunk)) / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    self._worker.wait(delay)
            while not ring.write(chunk, timeout=0.2):  # back-pressure: wait for the reader
                if not self._worker.running:
                    return
            played += len(chunk)
            self.stats.blocks += 1

    def stop(self) -> None:
        self._worker.stop()
