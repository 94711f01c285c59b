"""The MIDI reader process: opens MIDI inputs away from the engine and sends back every message (or every
transport message, for the clock) with the moment it arrived.

Why a process: the clock must not lose a message, nor a tap its time, whatever the renderer does. In a process of its
own the port reader (:class:`~performer.midi.ports.PortReader`) never waits for the engine's GIL, and a
fault in a MIDI driver cannot take the engine down (the parent starts a new child). Messages keep the driver's
time (see :mod:`~performer.midi.ports`); monotonic seconds are the same clock in both processes.

Frames, handshake and restarts as in :mod:`performer.runtime.child` (a 4-byte length, then a pickle). Stdin
carries the settings (one frame: ``{"match", "scan_every", "transport_only", "client_name", "what"}``) and then
nothing: when the parent closes it or dies, the child exits. The first frame out is ``"ready"``; then dicts
``{"events": [(port, bytes, time), ...], "ports": [...], "backend": str, "error": str, "lines": [(level, text),
...]}``. Run as ``python -m performer.tempo.midi_child``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from performer.midi.ports import is_transport
from performer.runtime.child import ChildProcess, Lines, Says, leave_with_parent, read_frame, write_frame

log = logging.getLogger(__name__)

CLIENT_NAME = "performer-clock"


class ReaderProcess(ChildProcess):
    """The parent's end: starts the child, reads its frames on a thread, starts it again if it dies."""

    def __init__(self, settings: dict[str, Any], on_frame: Callable[[dict[str, Any]], None]) -> None:
        what = str(settings["what"])
        w = what.replace("%", "%%")
        super().__init__([sys.executable, "-m", "performer.tempo.midi_child"], settings, on_frame,
                         says=Says(f"{w}: reader process did not start (%s); reading on a thread instead",
                                   f"{w}: reader process ended (status %s); starting it again",
                                   f"{w}: reader process did not start again (%s); it is off",
                                   f"{what}: a frame from the reader could not be used"),
                         log=log, thread_name="midi-in", stop_timeout=3.0)


def main() -> None:
    from performer.midi.ports import POLL, PortReader

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us by closing stdin, after its own shutdown
    stdin, out = sys.stdin.buffer, sys.stdout.buffer
    settings = read_frame(stdin)
    lines = Lines(logging.INFO)
    for name in ("performer.midi.ports", "performer.midi.backend"):
        logger = logging.getLogger(name)
        logger.addHandler(lines)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    events: list[tuple[str, bytes, float]] = []
    reader = PortReader(settings["match"], lambda port, msg, t: events.append((port, bytes(msg.bytes()), t)),
                        scan_every=settings["scan_every"], client_name=settings["client_name"],
                        accept=is_transport if settings["transport_only"] else None, what=settings["what"])

    leave = threading.Event()
    # the parent closed our stdin, or died: close the ports, then leave (exit after 2 s if a driver call hangs)
    leave_with_parent(stdin, leave, grace=2.0)
    write_frame(out, "ready")
    said: tuple[Any, ...] = ()
    next_scan = 0.0
    while not leave.is_set():
        now = time.monotonic()
        if now >= next_scan:
            reader.scan()
            next_scan = now + reader.scan_every
        reader.poll()
        state = (reader.ready(), reader.backend, reader.error)
        if events or lines.lines or state != said:
            write_frame(out, {"events": events, "ports": state[0], "backend": state[1], "error": state[2],
                              "lines": lines.lines})
            events.clear()  # pickled already: the list is the handler's, so it is emptied, not replaced
            lines.lines, said = [], state
        time.sleep(POLL)
    reader.close()  # each port's client leaves the MIDI system properly (a JACK server waits for vanished ones)
    os._exit(0)


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)
