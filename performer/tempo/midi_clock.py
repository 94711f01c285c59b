"""MIDI clock in: 24 clocks a beat, Start, Stop, Continue and Song Position, from a port opened with mido.

:class:`MidiClock` follows the messages. The tempo is a least-squares line
through the arrival times of the last :data:`WINDOW` clocks (MIDI through JACK
or USB arrives in bursts of a few milliseconds; the line evens them out). Start
puts the song at its beginning, and the next clock is beat 0 (a bar's first
beat); Continue goes on from where Stop left it or from the last Song Position
Pointer (counted in sixteenth notes, six clocks each). A device that sends
clock without ever sending Start is followed too, counting from its first clock.
While stopped the beat stands still.

:class:`MidiClockInput` opens the input ports whose name contains a substring
(every input when it is empty) as they appear, in a process of its own that
stamps every message with the time it arrived, and follows the first one that
sends clock until it has been silent for :data:`PORT_SILENT` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from performer.tempo.grid import BPM_MAX, BPM_MIN, BeatGrid

if TYPE_CHECKING:
    from performer.midi.scanner import InputScanner

log = logging.getLogger(__name__)

PPQN = 24
WINDOW = 96
"""Clocks the tempo is fitted over (four beats)."""
MIN_CLOCKS = 24
"""Clocks (a beat) before a tempo is measured; until then the last tempo, if any, carries the beat."""
GAP = 0.5
"""Seconds without a clock after which the tempo is measured afresh (the sender stopped or changed tempo)."""
PORT_SILENT = 2.0
TRANSPORT = ("clock", "start", "stop", "continue", "songpos")


class MidiClock:
    """The position and tempo a MIDI clock gives; messages from any thread (rtmidi's callback)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: deque[tuple[int, float]] = deque(maxlen=WINDOW)
        self._next = 0
        """Clock number (from the song's start) the next clock will be."""
        self.playing = False
        self._transport_seen = False
        self.clocks = 0
        self.bad = 0
        self.stopped_beat: float | None = None
        self.bpm: float | None = None
        self._grid: BeatGrid | None = None

    def handle(self, msg: Any, t: float) -> None:
        """One mido message received at monotonic time ``t``; other message types are not ours and are ignored."""
        kind = msg.type
        with self._lock:
            if kind == "clock":
                self._clock(t)
            elif kind in ("start", "continue"):
                self._transport_seen, self.playing = True, True
                if kind == "start":
                    self._next = 0
                self._times.clear()
                self.stopped_beat = None
                if self.bpm is not None:  # the next clock is the position's beat; until it comes, expect it
                    self._grid = BeatGrid(t + 60.0 / (PPQN * self.bpm), self._next / PPQN, self.bpm)
            elif kind == "stop":
                self._transport_seen = True
                if self.playing and self._grid is not None:
                    self.stopped_beat = min(self._grid.beat_at(t), self._next / PPQN)
                else:
                    self.stopped_beat = self._next / PPQN
                self.playing = False
            elif kind == "songpos":
                self._next = int(msg.pos) * 6
                if not self.playing:
                    self.stopped_beat = self._next / PPQN
                self._times.clear()

    def _clock(self, t: float) -> None:
        self.clocks += 1
        if self._times and t - self._times[-1][1] > GAP:
            self._times.clear()
        running = self.playing or not self._transport_seen
        if running:
            tick = self._next
            self._next += 1
        else:  # clocks while stopped still give the tempo, on a count of their own
            tick = self._times[-1][0] + 1 if self._times else 0
        self._times.append((tick, t))
        if len(self._times) < MIN_CLOCKS:
            if running and self.bpm is not None:
                self._grid = BeatGrid(t, tick / PPQN, self.bpm)
            return
        ticks = np.array([k for k, _ in self._times], dtype=np.float64)
        times = np.array([s for _, s in self._times], dtype=np.float64)
        slope, intercept = np.polyfit(ticks, times, 1)
        bpm = 60.0 / (PPQN * slope) if slope > 0 else 0.0
        if not BPM_MIN <= bpm <= BPM_MAX:
            self.bad += 1
            return
        self.bpm = float(bpm)
        if running:
            self._grid = BeatGrid(float(intercept + slope * tick), tick / PPQN, self.bpm)

    def running(self) -> bool:
        with self._lock:
            return self.playing or (not self._transport_seen and self._grid is not None)

    def grid(self, now: float) -> BeatGrid | None:
        """Where the beat is: running, the fitted grid; stopped, a grid standing at the stopped position now."""
        with self._lock:
            if self.bpm is None:
                return None
            if self.playing or not self._transport_seen:
                return self._grid
            beat = self.stopped_beat if self.stopped_beat is not None else self._next / PPQN
            return BeatGrid(now, beat, self.bpm)


@dataclass
class MidiClockStats:
    ports: list[str] = field(default_factory=list)
    following: str = ""
    """The port whose clock is followed."""
    error: str = ""
    received: int = 0
    """Transport messages received from every port (the clock's own count is of the followed port)."""
    pid: int | None = None
    """The reader process (None: read on a thread of this process)."""


class MidiClockInput:
    """Opens MIDI inputs matching ``match`` (hot plug) and feeds their transport messages to ``clock``.

    The ports are read in a process of their own (:mod:`~performer.tempo.midi_child`), or on a thread of this
    one if that process cannot start (``process=False`` asks for the thread); either way the messages carry the
    time they arrived (:mod:`~performer.midi.scanner`), so the engine's load delays them but moves no beat.
    """

    def __init__(self, clock: MidiClock, match: str = "", *, poll: float = 1.0, process: bool = True) -> None:
        self.clock = clock
        self.match = match
        self.poll = poll
        self.process = process
        self.stats = MidiClockStats()
        self._following = ""
        self._heard: dict[str, float] = {}
        self._inputs: InputScanner | None = None

    def start(self) -> None:
        from performer.midi.scanner import InputScanner
        from performer.tempo.midi_child import CLIENT_NAME, ReaderProcess

        self._inputs = InputScanner(self.match, self.deliver, what="MIDI clock input", client_name=CLIENT_NAME,
                                    scan_every=self.poll, transport_only=True,
                                    process=ReaderProcess if self.process else None, on_ports=self._ports,
                                    on_bad=self._bad, logger=log)
        self._inputs.start()
        self.stats.pid = self._inputs.pid

    def stop(self) -> None:
        inputs, self._inputs = self._inputs, None
        if inputs is not None:
            inputs.stop()

    def _ports(self, ports: list[str], error: str) -> None:
        self.stats.ports, self.stats.error = ports, error

    def _bad(self) -> None:
        self.clock.bad += 1

    def deliver(self, name: str, msg: Any, t: float) -> None:
        """One transport message from port ``name`` that arrived at ``t``: followed if its port is."""
        self.stats.received += 1
        self._heard[name] = t
        current = self._following
        if current != name:
            if current and t - self._heard.get(current, -1e9) < PORT_SILENT:
                return  # another port's clock is followed
            self._following = self.stats.following = name
            log.info("following the MIDI clock of %s", name)
        try:
            self.clock.handle(msg, t)
        except Exception:  # the reader must not die of one bad message
            self.clock.bad += 1
            log.exception("MIDI clock message %s could not be used", msg)
