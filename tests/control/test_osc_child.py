"""OSC read in a child process: it answers like the thread does, reports its counts, and comes back if killed."""

from __future__ import annotations

import os
import signal

import pytest
from osc_peer import Client

from conftest import wait_until
from performer.control.osc import OscServer
from performer.params import ParamStore

posix_only = pytest.mark.skipif(os.name != "posix", reason="the socket is passed to the child by number (POSIX)")


@pytest.mark.parametrize("child", [pytest.param(True, marks=posix_only), False], ids=["child", "thread"])
def test_both_ways_set_answer_and_count(child):
    srv = OscServer(ParamStore(), port=0, child=child)
    srv.start()
    try:
        assert (srv.intake_pid is not None) == child and (srv.intake_pid != os.getpid())
        c = Client(srv.port)
        for i in range(200):
            c.send("/dream/jitter", i % 30)
        c.send("/dream/iterations/normalized", 1.5)  # clamped, with a notice
        c.send("/dream/jitter")
        assert c.reply_to("/dream/jitter") == [199 % 30]
        assert wait_until(lambda: srv.received == 202 and srv.errors == {"out_of_range": 1})
        # counted on arrival, applied with the next batch: wait for the value too
        assert wait_until(lambda: srv.store.get("dream.iterations") == 20)
    finally:
        srv.stop()


@posix_only
def test_a_killed_child_is_started_again(caplog):
    srv = OscServer(ParamStore(), port=0)
    srv.start()
    try:
        first = srv.intake_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: srv.intake_pid not in (None, first), 15)
        c = Client(srv.port, timeout=5)
        c.send("/dream/octaves", 5)
        c.send("/dream/octaves")
        assert c.reply_to("/dream/octaves") == [5]
        assert any("intake process ended" in r.getMessage() for r in caplog.records)
    finally:
        srv.stop()


@posix_only
def test_the_child_leaves_with_the_server():
    srv = OscServer(ParamStore(), port=0)
    srv.start()
    pid = srv.intake_pid
    srv.stop()
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@posix_only
def test_the_child_leaves_when_the_server_process_is_killed():
    import subprocess
    import sys

    code = ("from performer.control.osc import OscServer\nfrom performer.params import ParamStore\nimport time\n"
            "s = OscServer(ParamStore(), port=0)\ns.start()\nprint(s.intake_pid, flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait()

        def gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            return False

        assert wait_until(gone, 10)  # an orphan would keep the port
    finally:
        parent.kill()


@posix_only
def test_a_busy_engine_does_not_stop_the_child_reading():
    """While the engine side is stuck (a slow command), the child keeps reading: nothing waits in the kernel."""
    import time

    srv = OscServer(ParamStore(), port=0, handlers={"/slow": lambda args, reply: time.sleep(1.5)})
    srv.start()
    try:
        c = Client(srv.port, timeout=10)
        c.send("/slow")
        sent = 1
        for i in range(6000):  # queries pile up (the pipe to the engine fills); sets coalesce
            c.send("/dream/jitter" if i % 2 else "/dream/octaves")
            c.send("/dream/jitter", i % 40)
            sent += 2
            if i % 500 == 0:
                time.sleep(0.01)
        c.send("/dream/octaves", 6)
        c.send("/dream/octaves")
        assert wait_until(lambda: srv.received == sent + 2, 30)
        c.drain(0.5)
        c.send("/dream/octaves")
        assert c.reply_to("/dream/octaves") == [6] and srv.store.get("dream.jitter") == 5999 % 40
    finally:
        srv.stop()


@posix_only
def test_ctrl_c_to_the_process_group_leaves_the_child_to_the_server(caplog):
    """A terminal's Ctrl-C reaches every process of the group: the child must not die first (that was logged as a
    crash and the child started again while the server was stopping)."""
    srv = OscServer(ParamStore(), port=0)
    srv.start()
    try:
        pid = srv.intake_pid
        assert pid is not None
        os.kill(pid, signal.SIGINT)
        c = Client(srv.port, timeout=5)
        c.send("/dream/octaves", 4)
        c.send("/dream/octaves")
        assert c.reply_to("/dream/octaves") == [4]
        assert srv.intake_pid == pid and not any("intake process ended" in r.getMessage() for r in caplog.records)
    finally:
        srv.stop()


def test_what_the_child_sends_is_named_and_survives_the_pipe():
    """The frame the child writes (counts since the last frame, log lines, items) reads back as the same named
    types in the server, and the counts it adds are those since the previous frame."""
    import io
    import logging

    from performer.control.osc_intake import Counts, Intake, IntakeFrame, MessageItem, SetItem
    from performer.control.osc_wire import build_message
    from performer.runtime.child import read_frame, write_frame

    store = ParamStore()
    child = Intake(store.registry, send=lambda data, addr: True)
    peer = ("127.0.0.1", 9)
    before = child.counts()
    items = child.read([(build_message("/dream/octaves", [3]), peer), (build_message("/dream/octaves", []), peer),
                        (build_message("/no/such", [1]), peer)], arrived=12.5)
    assert items == [SetItem("dream.octaves", False, 3), MessageItem("/dream/octaves", [], peer, 12.5)]
    now = child.counts()
    assert now.minus(before) == Counts(3, 0, 0, 0, {"unknown_address": 1})
    assert now.minus(now) == Counts(0, 0, 0, 0, {})
    pipe = io.BytesIO()
    write_frame(pipe, IntakeFrame(now.minus(before), [(logging.WARNING, "a line")], items))
    pipe.seek(0)
    frame = read_frame(pipe)
    assert type(frame) is IntakeFrame and type(frame.counts) is Counts and frame.items == items
    assert [type(i) for i in frame.items] == [SetItem, MessageItem]
    srv = OscServer(store, port=0, child=False)
    try:
        srv._apply_frame(frame)
        assert srv.received == 3 and srv.errors == {"unknown_address": 1} and store.get("dream.octaves") == 3
    finally:
        srv.stop()
