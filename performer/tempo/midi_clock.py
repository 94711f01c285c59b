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
(every input when it is empty) as they appear, and follows the first one that
sends clock until it has been silent for :data:`PORT_SILENT` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from performer.errors import ControlError
from performer.tempo.grid import BPM_MAX, BPM_MIN, BeatGrid

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


class MidiClockInput:
    """Opens MIDI inputs matching ``match`` (hot plug) and feeds their clock messages to ``clock``."""

    def __init__(self, clock: MidiClock, match: str = "", *, poll: float = 1.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.match = match
        self.poll = poll
        self.now = now
        self.stats = MidiClockStats()
        self._ports: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._following = ""
        self._heard: dict[str, float] = {}
        self._reported = False
        self._backend_chosen = False

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="midi-clock-ports", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.5)
        with self._lock:
            ports, self._ports = list(self._ports.values()), {}
        for p in ports:
            try:
                p.close()
            except Exception:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(self.poll)

    def scan(self) -> None:
        """Open matching input ports not open yet; forget the ones that vanished.

        While a followed port's clock runs nothing is scanned: listing ports makes rtmidi open a client of its
        own, and under JACK every client that comes and goes holds up the MIDI of the others for a moment.
        """
        import mido

        from performer.control.midi_backend import choose_backend

        following = self._following
        if following and self.now() - self._heard.get(following, -1e9) < PORT_SILENT:
            return
        try:
            if not self._backend_chosen:
                choose_backend()
                self._backend_chosen = True
            names = mido.get_input_names()
        except Exception as e:
            self._backend_chosen = False
            text = str(e) if isinstance(e, ControlError) else f"MIDI is unavailable ({e})"
            if not self._reported:
                log.error("MIDI clock: %s; retrying every %.0f s", text, self.poll)
                self._reported = True
            self.stats.error = text
            return
        self._reported = False
        self.stats.error = ""
        with self._lock:
            for gone in [n for n in self._ports if n not in names]:
                log.warning("MIDI clock input %r disappeared", gone)
                try:
                    self._ports.pop(gone).close()
                except Exception:
                    pass
        for name in names:
            if self.match.lower() in name.lower() and name not in self._ports and not self._stop.is_set():
                try:
                    port = mido.open_input(name, callback=self._callback(name))
                except Exception as e:
                    log.error("MIDI clock input %r cannot be opened: %s", name, e)
                    continue
                with self._lock:
                    self._ports[name] = port
                log.info("MIDI clock input open: %s", name)
        self.stats.ports = sorted(self._ports)

    def _callback(self, name: str) -> Callable[[Any], None]:
        def handle(msg: Any) -> None:
            if msg.type not in TRANSPORT:
                return
            t = self.now()
            self._heard[name] = t
            current = self._following
            if current != name:
                if current and t - self._heard.get(current, -1e9) < PORT_SILENT:
                    return  # another port's clock is followed
                self._following = self.stats.following = name
                log.info("following the MIDI clock of %s", name)
            try:
                self.clock.handle(msg, t)
            except Exception:  # rtmidi's thread must not die of one bad message
                self.clock.bad += 1
                log.exception("MIDI clock message %s could not be used", msg)

        return handle
