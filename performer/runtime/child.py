"""A child process and the parent's end of it: frames over pipes, a settings handshake, restarts with back-off.

A frame is a 4-byte big-endian length, then a pickle. The parent starts a child (``python -m ...``), writes its
settings as the first frame on the child's stdin and waits for the child's ``"ready"``; then a thread here reads
the child's frames from its stdout and hands each to ``on_frame``. When the child dies the thread logs it, waits
(0.5 s, doubling to 5 s at the most) and starts a new one. Stdin carries nothing after the settings: the child
exits when the parent closes it, or dies. The OSC intake (:mod:`performer.control.osc_child`) and the MIDI reader
(:mod:`performer.tempo.midi_child`) are such children; the audio capture child (:mod:`performer.audio.capture`)
speaks its own blocks, read with :func:`read_exact`.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, NamedTuple

from performer.runtime.worker import Worker

LENGTH = struct.Struct(">I")
START_ERRORS = (OSError, EOFError, pickle.UnpicklingError)
"""What starting a child may raise: it could not run, it exited or said something else than ``"ready"``."""


def frame_bytes(obj: Any) -> bytes:
    """``obj`` as one frame."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(data)) + data


def write_frame(out: IO[bytes], obj: Any) -> None:
    out.write(frame_bytes(obj))
    out.flush()


def read_frame(inp: IO[bytes]) -> Any:
    """The next frame, or raises EOFError when the other side is gone."""
    head = read_exact(inp, LENGTH.size)
    data = read_exact(inp, LENGTH.unpack(head)[0]) if head is not None else None
    if data is None:
        raise EOFError
    return pickle.loads(data)


def read_exact(inp: IO[bytes], n: int) -> bytes | None:
    """``n`` bytes from a pipe, however many reads they take; None when it closes first."""
    data = b""
    while len(data) < n:
        chunk = inp.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


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


class Says(NamedTuple):
    """What a child's parent logs: the first three are ``%s`` formats (a ``%`` in a name doubled), the last a line."""

    not_started: str
    """Warning, with the reason: the first start failed (the caller goes on without a child)."""
    ended: str
    """Error, with the exit status: the child died and is started again."""
    not_restarted: str
    """Error, with the reason: a restart failed; the channel is off."""
    frame_failed: str
    """Logged with the traceback: ``on_frame`` raised (the next frame is read all the same)."""


class ChildProcess:
    """The parent's end: starts the child, reads its frames on a thread, starts it again if it dies."""

    def __init__(self, command: Sequence[str], settings: Any, on_frame: Callable[[Any], None], *,
                 says: Says, log: logging.Logger, thread_name: str, pass_fds: Sequence[int] = (),
                 stop_timeout: float = 2.0) -> None:
        self.command = list(command)
        self.settings = settings
        self.on_frame = on_frame
        self.says = says
        self.log = log
        self.pass_fds = tuple(pass_fds)
        self.stop_timeout = stop_timeout
        """Seconds :meth:`stop` waits for the child to leave by itself before it is killed."""
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._worker = Worker(thread_name, self._run, timeout=2.0)

    def start(self, timeout: float = 15.0) -> bool:
        """Start the child and wait for it to be ready; False (and no child) if it could not start."""
        try:
            self.proc = self._spawn(timeout)
        except START_ERRORS as e:
            self.log.warning(self.says.not_started, e)
            return False
        self._worker.start()
        return True

    def _spawn(self, timeout: float) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=self.pass_fds)
        return handshake(proc, self.settings, timeout)

    def _run(self) -> None:
        while self._worker.running:
            proc = self.proc
            assert proc is not None and proc.stdout is not None
            try:
                frame = read_frame(proc.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                if not self._worker.running:
                    return
                proc.wait()
                self.log.error(self.says.ended, proc.returncode)
                if self._worker.wait(min(5.0, 0.5 * 2 ** min(self.restarts, 4))):
                    return  # told to stop during the back-off: no new child
                self.restarts += 1
                try:
                    self.proc = self._spawn(15.0)
                except START_ERRORS as e:
                    self.log.error(self.says.not_restarted, e)
                    return
                continue
            try:
                self.on_frame(frame)
            except Exception:  # the show goes on; a bug here is logged, not fatal
                self.log.exception(self.says.frame_failed)

    def stop(self) -> None:
        self._worker.stopping.set()
        proc = self.proc
        if proc is not None:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()  # the child exits when its stdin closes
                except OSError:
                    pass
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._worker.join()

    @property
    def thread(self) -> threading.Thread | None:
        """The thread reading the child's frames and applying them."""
        return self._worker.thread

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


# --- the child's end ------------------------------------------------------------------------------------------
class Lines(logging.Handler):
    """Collects the child's log lines as ``(level, text)`` for its next frame (the parent logs them)."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def leave_with_parent(stdin: IO[bytes], leave: threading.Event | None = None, grace: float = 0.0) -> None:
    """Watch ``stdin`` on a thread: when the parent closes it (or dies), set ``leave`` and exit the process after
    ``grace`` seconds (at once without a grace: a main loop given one leaves by itself, unless a call hangs)."""
    def watch() -> None:
        while stdin.read(65536):
            pass
        if leave is not None:
            leave.set()
        if grace > 0:
            time.sleep(grace)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
