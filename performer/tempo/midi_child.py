"""The MIDI reader process: opens MIDI inputs away from the engine and sends back every message (or every
transport message, for the clock) with the moment it arrived.

Why a process: the clock must not lose a message, nor a tap its time, whatever the renderer does. In a process of its
own the port reader (:class:`~performer.midi.ports.PortReader`) never waits for the engine's GIL, and a
fault in a MIDI driver cannot take the engine down (the parent starts a new child). Messages keep the driver's
time (see :mod:`~performer.midi.ports`); monotonic seconds are the same clock in both processes.

Frames as in :mod:`performer.control.osc_child` (a 4-byte length, then a pickle). Stdin carries the settings
(one frame: ``{"match", "scan_every", "transport_only", "client_name", "what"}``) and then nothing: when the
parent closes it or dies, the child exits. The first frame out is ``"ready"``; then dicts ``{"events": [(port,
bytes, time), ...], "ports": [...], "backend": str, "error": str, "lines": [(level, text), ...]}``. Run as
``python -m performer.tempo.midi_child``.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from performer.control.osc_child import handshake, read_frame, write_frame

log = logging.getLogger(__name__)

TRANSPORT_BYTES = frozenset((0xF8, 0xFA, 0xFB, 0xFC, 0xF2))
"""Clock, Start, Continue, Stop, Song Position Pointer."""
CLIENT_NAME = "performer-clock"


def is_transport(status: int) -> bool:
    return status in TRANSPORT_BYTES


class ReaderProcess:
    """The parent's end: starts the child, reads its frames on a thread, starts it again if it dies."""

    def __init__(self, settings: dict[str, Any], on_frame: Callable[[dict[str, Any]], None]) -> None:
        self.settings = settings
        self.on_frame = on_frame
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> bool:
        """Start the child and wait until it is ready; False (and no child) if it could not start."""
        try:
            self.proc = self._spawn(timeout)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            log.warning("%s: reader process did not start (%s); reading on a thread instead",
                        self.settings["what"], e)
            return False
        self._thread = threading.Thread(target=self._run, name="midi-in", daemon=True)
        self._thread.start()
        return True

    def _spawn(self, timeout: float) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "performer.tempo.midi_child"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return handshake(proc, self.settings, timeout)

    def _run(self) -> None:
        while not self._stopping:
            proc = self.proc
            assert proc is not None and proc.stdout is not None
            try:
                frame = read_frame(proc.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                if self._stopping:
                    return
                proc.wait()
                log.error("%s: reader process ended (status %s); starting it again", self.settings["what"],
                          proc.returncode)
                time.sleep(min(5.0, 0.5 * 2 ** min(self.restarts, 4)))
                self.restarts += 1
                try:
                    self.proc = self._spawn(15.0)
                except (OSError, EOFError, pickle.UnpicklingError) as e:
                    log.error("%s: reader process did not start again (%s); it is off", self.settings["what"], e)
                    return
                continue
            try:
                self.on_frame(frame)
            except Exception:
                log.exception("%s: a frame from the reader could not be used", self.settings["what"])

    def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is not None:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def main() -> None:
    from performer.midi.ports import POLL, PortReader

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us by closing stdin, after its own shutdown
    stdin, out = sys.stdin.buffer, sys.stdout.buffer
    settings = read_frame(stdin)
    lines = _Lines()
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

    def watch() -> None:  # the parent closed our stdin, or died: close the ports, then leave
        while stdin.read(65536):
            pass
        leave.set()
        time.sleep(2.0)
        os._exit(0)  # the main loop did not get there (a driver call that hangs)

    threading.Thread(target=watch, daemon=True).start()
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
