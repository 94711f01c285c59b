"""The OSC intake process: reads the server's UDP socket away from the engine and sends back what to store.

Why a process: reading, parsing and checking a flood of datagrams is Python work; in a process of its own it
holds no GIL the render thread waits for, and a fault in it cannot take the engine down (the server starts a
new child). On the 2-core development machine its measured effect on the renderer's frame rate under a flood
was within the noise of the machine's load (``benchmarks/osc.md``); it costs one process and 0.2 s at start.

The child inherits the bound socket (so error replies leave from the server's port), runs an
:class:`~performer.control.osc_intake.Intake` on every batch and writes frames to its stdout, never waiting on a
busy parent (meanwhile it keeps reading, and sets keep coalescing). A frame is a 4-byte big-endian length, then
a pickle of an :class:`~performer.control.osc_intake.IntakeFrame`: the counts since the previous frame (as
:meth:`~performer.control.osc_intake.Intake.counts` gives them), the log lines it wrote, the store items
(:mod:`performer.runtime.child` speaks the frames, the handshake and the restarts). Its stdin carries the settings
(one frame) and then nothing: when the parent closes it or dies, the child exits. The first frame out is
``"ready"``. Run as ``python -m performer.control.osc_child --fd N`` (POSIX: the socket
is passed by number).
"""

from __future__ import annotations

import argparse
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from performer.runtime.child import ChildProcess, Lines, Says, frame_bytes, leave_with_parent, read_frame, write_frame

if TYPE_CHECKING:
    from performer.control.osc_intake import IntakeFrame

log = logging.getLogger("performer.control.osc")

class IntakeProcess(ChildProcess):
    """The parent's end: starts the child, reads its frames on a thread, starts it again if it dies."""

    def __init__(self, sock: socket.socket, settings: dict[str, Any],
                 on_frame: Callable[[IntakeFrame], None]) -> None:
        fd = sock.fileno()
        super().__init__([sys.executable, "-m", "performer.control.osc_child", "--fd", str(fd)], settings, on_frame,
                         says=Says("OSC intake process did not start (%s); reading OSC on a thread instead",
                                   "OSC intake process ended (status %s); starting it again",
                                   "OSC intake process did not start again (%s); OSC in is off",
                                   "OSC frame from the intake process failed"),
                         log=log, thread_name="osc-in", pass_fds=(fd,), stop_timeout=2.0)
        self.sock = sock


GATHER_ABOVE = 16
"""A read of at least this many datagrams means a flood is arriving ..."""
GATHER_S = 0.004
"""... and the child waits this long before reading again, so each wake-up reads a batch (a change still lands well
inside 50 ms; the 8-MiB receive buffer holds seconds of a 10,000 msg/s flood)."""


def main(argv: list[str] | None = None) -> None:
    from performer.control.osc_intake import Intake, IntakeFrame, Outbox, drain

    # Ctrl-C reaches the whole process group: the server stops this child itself (by closing its stdin), after
    # its own shutdown has begun; dying first would look like a crash and be restarted.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m performer.control.osc_child")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    stdin, out = sys.stdin.buffer, sys.stdout.buffer
    settings = read_frame(stdin)
    sock = socket.socket(fileno=args.fd)
    sock.setblocking(False)
    lines = Lines()
    logger = logging.getLogger("performer.control.osc.child")
    logger.addHandler(lines)
    logger.setLevel(logging.WARNING)
    logger.propagate = False

    def send(data: bytes, addr: tuple) -> bool:
        try:
            return sock.sendto(data, addr) == len(data)
        except OSError:
            return False

    intake = Intake(settings["registry"], commands=settings["commands"], allow=settings["allow"],
                    wide=settings["wide"], send=send, replies_per_second=settings["replies_per_second"],
                    logger=logger)

    leave_with_parent(stdin)  # the parent closed our stdin, or died: leave at once
    write_frame(out, "ready")
    fd = out.fileno()
    os.set_blocking(fd, False)  # never wait for a busy parent: keep reading (and coalescing) meanwhile
    outbox = Outbox()
    unsent = b""
    seen = intake.counts()
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        while True:
            ready = {key.fd for key, _ in sel.select()}
            if sock.fileno() in ready:
                arrived = time.monotonic()  # a tap is a beat when it arrived, not when the engine applies it
                batch = drain(sock)
                intake.read_into(batch, outbox, arrived)
                if len(batch) >= GATHER_ABOVE:  # a flood: let the next batch gather rather than wake per datagram
                    time.sleep(GATHER_S)
            while True:  # write frames until the pipe is full or nothing is left to say
                if not unsent:
                    now = intake.counts()
                    if now == seen and not outbox and not lines.lines:
                        break
                    unsent = frame_bytes(IntakeFrame(now.minus(seen), lines.lines, outbox.take()))
                    seen, lines.lines = now, []
                try:
                    unsent = unsent[os.write(fd, unsent):]
                except BlockingIOError:
                    break
                if unsent:
                    break
            waiting_out = fd in sel.get_map()
            if unsent and not waiting_out:
                sel.register(fd, selectors.EVENT_WRITE)
            elif not unsent and waiting_out:
                sel.unregister(fd)


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)
