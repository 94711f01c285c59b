"""The OSC intake process: reads the server's UDP socket away from the engine and sends back what to store.

Why a process: reading, parsing and checking a flood of datagrams is Python work; in a process of its own it
holds no GIL the render thread waits for, and a fault in it cannot take the engine down (the server starts a
new child). On the 2-core development machine its measured effect on the renderer's frame rate under a flood
was within the noise of the machine's load (``benchmarks/osc.md``); it costs one process and 0.2 s at start.

The child inherits the bound socket (so error replies leave from the server's port), runs an
:class:`~performer.control.osc_intake.Intake` on every batch and writes frames to its stdout, never waiting on a
busy parent (meanwhile it keeps reading, and sets keep coalescing). A frame is a 4-byte big-endian length, then
a pickle of ``(counts, lines, items)``: the counts since the previous frame (as
:meth:`~performer.control.osc_intake.Intake.counts` gives them), the log lines it wrote, the store items. Its
stdin carries the settings (one frame) and then nothing: when the parent closes it or dies, the child exits.
The first frame out is ``"ready"``. Run as ``python -m performer.control.osc_child --fd N`` (POSIX: the socket
is passed by number).
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

log = logging.getLogger("performer.control.osc")

_LENGTH = struct.Struct(">I")


def frame_bytes(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def write_frame(out: IO[bytes], obj: Any) -> None:
    out.write(frame_bytes(obj))
    out.flush()


def handshake(proc: subprocess.Popen[bytes], settings: Any, timeout: float) -> subprocess.Popen[bytes]:
    """Send a just-started child its settings and wait for its ``"ready"``; a child that says anything else, exits
    or stays silent for ``timeout`` seconds is killed and an EOFError says so (it must not hang the server)."""
    assert proc.stdin is not None and proc.stdout is not None
    write_frame(proc.stdin, settings)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        if read_frame(proc.stdout) != "ready":
            raise EOFError("it answered something else than 'ready'")
    except EOFError:
        proc.kill()
        proc.wait()
        raise EOFError(f"it exited with status {proc.returncode}") from None
    finally:
        timer.cancel()
    return proc


def read_frame(inp: IO[bytes]) -> Any:
    """The next frame, or raises EOFError when the other side is gone."""
    head = _read_exactly(inp, _LENGTH.size)
    return pickle.loads(_read_exactly(inp, _LENGTH.unpack(head)[0]))


def _read_exactly(inp: IO[bytes], n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = inp.read(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


class IntakeProcess:
    """The parent's end: starts the child, reads its frames on a thread, starts it again if it dies."""

    def __init__(self, sock: socket.socket, settings: dict[str, Any], on_frame: Callable[[tuple], None]) -> None:
        self.sock = sock
        self.settings = settings
        self.on_frame = on_frame
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> bool:
        """Start the child and wait for it to be ready; False (and no child) if it could not start."""
        try:
            self.proc = self._spawn(timeout)
        except (OSError, EOFError, pickle.UnpicklingError, TimeoutError) as e:
            log.warning("OSC intake process did not start (%s); reading OSC on a thread instead", e)
            return False
        self._thread = threading.Thread(target=self._run, name="osc-in", daemon=True)
        self._thread.start()
        return True

    def _spawn(self, timeout: float) -> subprocess.Popen[bytes]:
        fd = self.sock.fileno()
        proc = subprocess.Popen([sys.executable, "-m", "performer.control.osc_child", "--fd", str(fd)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(fd,))
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
                log.error("OSC intake process ended (status %s); starting it again", proc.returncode)
                time.sleep(min(5.0, 0.5 * 2 ** min(self.restarts, 4)))
                self.restarts += 1
                try:
                    self.proc = self._spawn(15.0)
                except (OSError, EOFError, pickle.UnpicklingError) as e:
                    log.error("OSC intake process did not start again (%s); OSC in is off", e)
                    return
                continue
            try:
                self.on_frame(frame)
            except Exception:  # the show goes on; a bug here is logged, not fatal
                log.exception("OSC frame from the intake process failed")

    def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is not None:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()  # the child exits when its stdin closes
                except OSError:
                    pass
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    @property
    def thread(self) -> threading.Thread | None:
        """The thread reading the child's frames and applying them."""
        return self._thread

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class _Lines(logging.Handler):
    """Collects the child's (already rate-limited) log lines for the next frame."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


GATHER_ABOVE = 16
"""A read of at least this many datagrams means a flood is arriving ..."""
GATHER_S = 0.004
"""... and the child waits this long before reading again, so each wake-up reads a batch (a change still lands well
inside 50 ms; the 8-MiB receive buffer holds seconds of a 10,000 msg/s flood)."""


def main(argv: list[str] | None = None) -> None:
    from performer.control.osc_intake import Intake, Outbox, drain

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
    lines = _Lines()
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

    def watch() -> None:  # the parent closed our stdin, or died: leave at once
        while stdin.read(65536):
            pass
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
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
                    errors = {k: v - seen[4].get(k, 0) for k, v in now[4].items() if v != seen[4].get(k, 0)}
                    delta = (now[0] - seen[0], now[1] - seen[1], now[2] - seen[2], now[3] - seen[3], errors)
                    unsent = frame_bytes((delta, lines.lines, outbox.take()))
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
