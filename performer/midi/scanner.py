"""The one MIDI input scanner: finds the inputs whose name contains a pattern, opens them as they appear, and hands
every message, stamped on arrival, to its owner (the MIDI controller, the MIDI clock).

The ports are opened and read by a :class:`~performer.midi.ports.PortReader` (it scans again every
``scan_every`` seconds: a port plugged in later is opened, one that vanished is forgotten). It runs in a process
of its own when the owner gives one (``process``: :class:`performer.tempo.midi_child.ReaderProcess`, passed in so
this package stays below the tempo and control packages), so the engine's load delays the messages but moves no
arrival time; if that process cannot start, or none is given, it runs on a thread here. Either way the owner's
``handler(port, message, time)`` is called with mido messages, and ``on_ports(ports, error)`` each time the reader
says which ports are ready.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from performer.midi.ports import Handler, PortReader, is_transport

log = logging.getLogger(__name__)


class Reader(Protocol):
    """A reader process (:class:`performer.tempo.midi_child.ReaderProcess`)."""

    @property
    def pid(self) -> int | None: ...
    def start(self) -> bool: ...
    def stop(self) -> None: ...


Frame = dict[str, Any]
ReaderFactory = Callable[[dict[str, Any], Callable[[Frame], None]], Reader]
"""``process(settings, on_frame)``: a reader process for these settings (see :mod:`performer.tempo.midi_child`)."""


class InputScanner:
    """Opens the MIDI inputs matching ``match`` as they appear and reads them (see the module docstring).

    ``transport_only``: only clock, start, stop, continue and song position. ``exclude(name)``: keep that port
    closed (this program's own output; read on a thread only). ``on_bad()``: bytes from the reader that are no
    MIDI message (else they are only counted in ``bad``). ``logger``: where the reader process's log lines go.
    """

    def __init__(self, match: str, handler: Handler, *, what: str, client_name: str, scan_every: float = 1.0,
                 transport_only: bool = False, exclude: Callable[[str], bool] | None = None,
                 process: ReaderFactory | None = None,
                 on_ports: Callable[[list[str], str], None] | None = None,
                 on_bad: Callable[[], None] | None = None, logger: logging.Logger = log) -> None:
        self.match = match
        self.handler = handler
        self.what = what
        self.client_name = client_name
        self.scan_every = scan_every
        self.transport_only = transport_only
        self.exclude = exclude
        self.process = process
        self.on_ports = on_ports
        self.on_bad = on_bad
        self.log = logger
        self.bad = 0
        """Bytes from the reader process that were no MIDI message."""
        self.pid: int | None = None
        """The reader process (None: read on a thread of this process)."""
        self._child: Reader | None = None
        self._reader: PortReader | None = None

    def start(self) -> None:
        if self.process is not None:
            child = self.process({"match": self.match, "scan_every": self.scan_every,
                                  "transport_only": self.transport_only, "client_name": self.client_name,
                                  "what": self.what}, self._frame)
            if child.start():
                self._child, self.pid = child, child.pid
                return
        self._reader = PortReader(self.match, self._message, scan_every=self.scan_every,
                                  client_name=self.client_name, accept=is_transport if self.transport_only else None,
                                  exclude=self.exclude, what=self.what)
        self._reader.start()

    def stop(self) -> None:
        child, self._child = self._child, None
        reader, self._reader = self._reader, None
        if child is not None:
            child.stop()
        if reader is not None:
            reader.stop()

    def ready(self) -> list[str] | None:
        """The ports read on a thread here that are ready now (None when a reader process reads them: its frames
        say, through ``on_ports``)."""
        reader = self._reader
        return reader.ready() if reader is not None else None

    def _frame(self, frame: Frame) -> None:
        """What the reader process sends: its log lines, its ports, then the messages in order."""
        import mido

        for level, line in frame["lines"]:
            self.log.log(level, "%s", line)
        if self.on_ports is not None:
            self.on_ports(list(frame["ports"]), frame["error"])
        for port, data, t in frame["events"]:
            try:
                msg = mido.Message.from_bytes(data)
            except ValueError:
                self.bad += 1
                if self.on_bad is not None:
                    self.on_bad()
                continue
            self.handler(port, msg, t)

    def _message(self, port: str, msg: Any, t: float) -> None:
        reader = self._reader
        if reader is not None and self.on_ports is not None:
            self.on_ports(reader.ready(), reader.error)
        self.handler(port, msg, t)
