"""The child-process channel: frames both ways, the handshake, restarts with their log lines, and the stop."""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import time

import pytest

from performer.runtime import child as channel
from performer.runtime.child import ChildProcess, Lines, Says, read_frame, write_frame

posix_only = pytest.mark.skipif(os.name != "posix", reason="the test child is killed by signal")

# A child that answers the handshake (or refuses, if its settings say so), then sends its settings back every 50 ms
# until its stdin closes.
CHILD = """
import sys, time, threading
from performer.runtime.child import read_frame, write_frame, leave_with_parent
settings = read_frame(sys.stdin.buffer)
if settings.get("refuse"):
    write_frame(sys.stdout.buffer, "no")
    time.sleep(5)
leave = threading.Event()
leave_with_parent(sys.stdin.buffer, leave, grace=1.0)
write_frame(sys.stdout.buffer, "ready")
while not leave.is_set():
    write_frame(sys.stdout.buffer, settings)
    time.sleep(0.05)
"""

SAYS = Says("test child did not start (%s)", "test child ended (status %s)", "test child did not start again (%s)",
            "test frame failed")


def wait_until(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_frames_go_through_a_pipe_whole_however_it_is_read():
    buf = io.BytesIO()
    write_frame(buf, {"a": [1, 2.5]})
    write_frame(buf, "ready")
    data = buf.getvalue()
    assert data == channel.frame_bytes({"a": [1, 2.5]}) + channel.frame_bytes("ready")

    class Trickle(io.RawIOBase):  # a pipe that gives at most 3 bytes a read
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, n: int = -1) -> bytes:
            out, self.data = self.data[:min(n, 3)], self.data[min(n, 3):]
            return out

    pipe = Trickle(data)
    assert read_frame(pipe) == {"a": [1, 2.5]} and read_frame(pipe) == "ready"  # type: ignore[arg-type]
    with pytest.raises(EOFError):
        read_frame(pipe)  # type: ignore[arg-type]
    assert channel.read_exact(io.BytesIO(b"abc"), 3) == b"abc" and channel.read_exact(io.BytesIO(b"ab"), 3) is None


def test_lines_collect_what_the_child_logs():
    lines = Lines(logging.INFO)
    logger = logging.getLogger("performer.test.child_lines")
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("not this")
        logger.warning("port %s gone", "A")
    finally:
        logger.removeHandler(lines)
    assert lines.lines == [(logging.WARNING, "port A gone")]


def test_a_child_that_answers_otherwise_is_killed_and_said_so():
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    t0 = time.monotonic()
    with pytest.raises(EOFError, match="exited with status"):
        channel.handshake(proc, {"refuse": True}, timeout=10.0)
    assert time.monotonic() - t0 < 4.0 and proc.poll() is not None


def test_a_child_that_cannot_start_is_reported_and_false(caplog):
    child = ChildProcess([sys.executable, "-c", "import sys; sys.exit(3)"], {}, lambda frame: None, says=SAYS,
                         log=logging.getLogger("performer.test.child"), thread_name="test-child")
    assert child.start(timeout=10.0) is False and child.thread is None
    assert any(r.getMessage() == "test child did not start (it exited with status 3)" for r in caplog.records)


@posix_only
def test_frames_arrive_a_killed_child_is_started_again_and_stop_ends_it(caplog):
    frames: list[object] = []

    def on_frame(frame: object) -> None:
        frames.append(frame)
        if len(frames) == 2:
            raise RuntimeError("a bug in the parent's use of a frame")

    caplog.set_level(logging.INFO)
    child = ChildProcess([sys.executable, "-c", CHILD], {"n": 7}, on_frame, says=SAYS,
                         log=logging.getLogger("performer.test.child"), thread_name="test-child", stop_timeout=3.0)
    assert child.start(timeout=15.0)
    try:
        assert child.thread is not None and child.thread.name == "test-child"
        assert wait_until(lambda: len(frames) >= 3)
        assert all(f == {"n": 7} for f in frames)  # the frame after the failed one came through all the same
        failed = [r for r in caplog.records if r.getMessage() == "test frame failed"]
        assert len(failed) == 1 and failed[0].exc_info is not None
        first = child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: child.pid not in (None, first), 15.0)
        assert child.restarts == 1
        assert any(r.getMessage() == f"test child ended (status {-signal.SIGKILL})" for r in caplog.records)
        n = len(frames)
        assert wait_until(lambda: len(frames) > n)
    finally:
        proc = child.proc
        child.stop()
    assert proc is not None and proc.poll() is not None  # left when its stdin closed
    assert child.thread is not None and not child.thread.is_alive()
    assert sum("ended" in r.getMessage() for r in caplog.records) == 1  # a stop is not a crash: no restart
    assert child.restarts == 1
