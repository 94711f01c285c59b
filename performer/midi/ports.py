"""MIDI input that keeps every message and the moment it arrived, whatever else the process does.

mido's rtmidi ports hand each message to a Python callback on the MIDI system's own thread -- under JACK, the
real-time process thread -- which must take the GIL first. While the renderer holds it, JACK's cycle overruns
(an xrun) and messages are lost (issue #23: 759 of 880 clocks). Here python-rtmidi keeps the messages in its own
queue (no Python on the driver's thread) and :class:`PortReader` polls them.

Each message is stamped with the driver's time, not the time it was read: rtmidi gives the time between two
messages as the MIDI system saw them (the JACK cycle's time, the ALSA sequencer's event time); the driver's clock
is the sum of those, and :class:`DriverClock` turns it into monotonic seconds by the least delayed observation of
``read time - driver time`` (rising by at most :data:`OFFSET_RISE` s a second, so a clock that drifts is
followed). A read that comes late therefore does not make the message late.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

QUEUE = 8192
"""Messages rtmidi keeps per port until they are read (at 24 clocks a beat and 180 BPM, 110 s of clock)."""
OFFSET_RISE = 0.001
"""Seconds per second the driver-to-monotonic offset may rise between least-delayed observations."""
POLL = 0.002
"""Seconds between two reads of the ports."""
SETTLE = 0.3
"""Seconds after opening before a port counts as ready: under JACK a message sent in the first 0.1 s after the
connection was lost in 4 runs of 7 here (none of 5 after 0.5 s)."""
TRANSPORT_BYTES = frozenset((0xF8, 0xFA, 0xFB, 0xFC, 0xF2))
"""Clock, Start, Continue, Stop, Song Position Pointer."""


def is_transport(status: int) -> bool:
    return status in TRANSPORT_BYTES


def midi_errors() -> tuple[type[Exception], ...]:
    """What asking the MIDI system for a client or a port raises when it cannot give one: rtmidi's errors, OSError
    (mido's "unknown port", a driver's refusal), ValueError (a ``MIDO_BACKEND`` API not compiled in), ImportError
    (python-rtmidi missing) and :class:`~performer.errors.ControlError` (no MIDI system, see
    :mod:`~performer.midi.backend`)."""
    from performer.errors import ControlError

    known: tuple[type[Exception], ...] = (OSError, ValueError, ImportError, ControlError)
    try:
        import rtmidi
    except ImportError:
        return known
    return (rtmidi.RtMidiError, *known)


def matches(pattern: str, name: str) -> bool:
    """Whether a port called ``name`` is one that ``pattern`` (a part of the name, any case; empty: every port)
    asks for."""
    return pattern.lower() in name.lower()


def rtmidi_api() -> tuple[int, str]:
    """The rtmidi API of the MIDI system that works here (see :mod:`~performer.midi.backend`) and its
    description; raises :class:`~performer.errors.ControlError` when there is none."""
    import rtmidi

    from performer.midi.backend import choose_backend

    backend = choose_backend()
    name = backend.name or ""
    if "UNIX_JACK" in name:
        return rtmidi.API_UNIX_JACK, backend.description
    if "LINUX_ALSA" in name:
        return rtmidi.API_LINUX_ALSA, backend.description
    return rtmidi.API_UNSPECIFIED, backend.description


class DriverClock:
    """Monotonic seconds for a message from the driver's time between messages (see the module docstring)."""

    def __init__(self) -> None:
        self.driver = 0.0
        self.offset: float | None = None
        self._observed = 0.0

    def stamp(self, delta: float, observed: float) -> float:
        """The arrival time of a message ``delta`` driver seconds after the previous one, read at ``observed``."""
        self.driver += max(0.0, delta)
        seen = observed - self.driver
        if self.offset is None or seen < self.offset:
            self.offset = seen
        else:
            self.offset = min(seen, self.offset + OFFSET_RISE * max(0.0, observed - self._observed))
        self._observed = observed
        return self.driver + self.offset


class StampedInput:
    """One input port opened through python-rtmidi in queue mode; :meth:`read` gives ``(bytes, time)`` pairs."""

    def __init__(self, name: str, api: int, client_name: str = "performer") -> None:
        import rtmidi

        self.name = name
        self._rt = rtmidi.MidiIn(rtapi=api, name=client_name, queue_size_limit=QUEUE)
        ports = self._rt.get_ports()
        if name not in ports:
            self._rt.delete()
            raise OSError(f"MIDI input {name!r} is not there (inputs: {', '.join(ports) or 'none'})")
        self._rt.ignore_types(False, False, False)  # rtmidi's deltas skip what it ignores: filter here instead
        self._rt.open_port(ports.index(name), "in")
        self.clock = DriverClock()
        self.opened = time.monotonic()

    def read(self, now: Callable[[], float] = time.monotonic) -> list[tuple[list[int], float]]:
        """Every message waiting, oldest first, with its arrival time (monotonic seconds)."""
        out: list[tuple[list[int], float]] = []
        while True:
            got = self._rt.get_message()
            if got is None:
                return out
            data, delta = got
            out.append((data, self.clock.stamp(delta, now())))

    def close(self) -> None:
        try:
            self._rt.close_port()
            self._rt.delete()
        except midi_errors() as e:  # a driver that went away first: nothing left to close
            log.debug("MIDI input %r: closing: %s", self.name, e)


class InputLister:
    """Lists the MIDI inputs with one rtmidi client kept open (a new client per look costs JACK a hiccup)."""

    def __init__(self, api: int, client_name: str = "performer-ports") -> None:
        import rtmidi

        self._rt = rtmidi.MidiIn(rtapi=api, name=client_name)

    def names(self) -> list[str]:
        return list(self._rt.get_ports())

    def close(self) -> None:
        try:
            self._rt.delete()
        except midi_errors() as e:  # a driver that went away first: nothing left to close
            log.debug("MIDI port lister: closing: %s", e)


Handler = Callable[[str, Any, float], None]
"""``handler(port name, mido message, arrival time)``."""


class PortReader:
    """Opens the inputs whose name contains ``match`` as they appear and hands their messages to ``handler``,
    stamped on arrival, from a thread of its own (see the module docstring).

    ``accept(status byte)`` picks the messages wanted (all by default); ``exclude(name)`` keeps a port closed
    (e.g. this program's own output).
    """

    def __init__(self, match: str, handler: Handler, *, scan_every: float = 1.0, client_name: str = "performer",
                 accept: Callable[[int], bool] | None = None, exclude: Callable[[str], bool] | None = None,
                 now: Callable[[], float] = time.monotonic, what: str = "MIDI input") -> None:
        self.match = match
        self.handler = handler
        self.scan_every = scan_every
        self.client_name = client_name
        self.accept = accept
        self.exclude = exclude
        self.now = now
        self.what = what
        self.ports: dict[str, StampedInput] = {}
        self.backend = ""
        self.error = ""
        self.messages = 0
        self.errors = 0
        self._api: int | None = None
        self._lister: InputLister | None = None
        self._reported = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"{self.what}-ports", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():  # still inside a driver call: closing its ports under it would crash
                log.warning("%s: the reader did not stop within 2 s; its ports stay open", self.what)
                return
        self.close()

    def close(self) -> None:
        with self._lock:
            ports, self.ports = list(self.ports.values()), {}
            lister, self._lister = self._lister, None
        for p in ports:
            p.close()
        if lister is not None:
            lister.close()

    def run(self) -> None:
        next_scan = 0.0
        while not self._stop.is_set():
            t = time.monotonic()
            if t >= next_scan:
                self.scan()
                next_scan = t + self.scan_every
            self.poll()
            self._stop.wait(POLL)

    def scan(self) -> None:
        """Open matching inputs not open yet; forget the ones that vanished."""
        from performer.errors import ControlError

        try:
            if self._lister is None:
                self._api, self.backend = rtmidi_api()
                self._lister = InputLister(self._api, f"{self.client_name}-ports")
            names = self._lister.names()
        except midi_errors() as e:  # no MIDI system (e.g. no JACK server): said once, tried again
            if self._lister is not None:
                self._lister.close()
                self._lister = None
            self.error = str(e) if isinstance(e, ControlError) else f"MIDI is unavailable ({e})"
            self.backend = ""
            if not self._reported:
                log.error("%s: %s; retrying every %.0f s", self.what, self.error, self.scan_every)
                self._reported = True
            return
        if self._reported:
            log.info("%s: MIDI through %s", self.what, self.backend)
        self._reported, self.error = False, ""
        for gone in [n for n in self.ports if n not in names]:
            log.warning("%s %r disappeared", self.what, gone)
            with self._lock:
                self.ports.pop(gone).close()
        assert self._api is not None
        for name in names:
            if (not matches(self.match, name) or name in self.ports
                    or (self.exclude is not None and self.exclude(name)) or self._stop.is_set()):
                continue
            try:
                port = StampedInput(name, self._api, self.client_name)
            except midi_errors() as e:
                log.error("%s %r cannot be opened: %s", self.what, name, e)
                continue
            with self._lock:
                self.ports[name] = port
            log.info("%s open: %s", self.what, name)

    def ready(self) -> list[str]:
        """The ports open for :data:`SETTLE` seconds (what a status shows: messages sent to them arrive)."""
        now = time.monotonic()
        with self._lock:
            return sorted(n for n, p in self.ports.items() if now - p.opened >= SETTLE)

    def poll(self) -> int:
        """Hand every waiting message to the handler; returns how many."""
        import mido

        with self._lock:
            ports = list(self.ports.values())
        n = 0
        for port in ports:
            try:
                got = port.read(self.now)
            except midi_errors() as e:  # a port closed under us: the next scan forgets it
                log.debug("%s %r: %s", self.what, port.name, e)
                continue
            for data, t in got:
                if not data or (self.accept is not None and not self.accept(data[0])):
                    continue
                n += 1
                self.messages += 1
                try:
                    self.handler(port.name, mido.Message.from_bytes(data), t)
                except Exception:  # one bad message must not stop the reading
                    self.errors += 1
                    log.exception("%s: message %s from %s could not be used", self.what, data, port.name)
        return n
