"""The worker thread: named, daemon, stopped at once from its wait, restartable, and honest about a stuck loop."""

from __future__ import annotations

import threading
import time

from performer.runtime import Worker


def test_a_worker_runs_until_stopped_and_wakes_from_its_wait():
    ticks = []

    def loop() -> None:
        while not w.wait(10.0):  # a long period: stop must not wait for it
            ticks.append(1)

    w = Worker("tick", loop)
    assert not w.alive and w.stop() is True  # never started: nothing to wait for
    w.start()
    assert w.thread is not None and w.thread.name == "tick" and w.thread.daemon and w.alive and w.running
    t0 = time.monotonic()
    assert w.stop() is True
    assert time.monotonic() - t0 < 1.0 and not w.alive and not w.running and ticks == []


def test_a_worker_passes_its_arguments_and_starts_again():
    seen: list[object] = []
    w = Worker("args", seen.append, args=("first",))
    w.start()
    assert w.join(2.0)
    w.start("second")  # arguments given at start replace the constructor's
    assert w.join(2.0)
    assert seen == ["first", "second"] and w.running


def test_stop_says_when_the_thread_is_still_busy():
    release = threading.Event()
    w = Worker("stuck", lambda: release.wait(5.0), timeout=0.05)
    w.start()
    assert w.stop() is False and w.alive  # a call that does not look at the stop: still running after the timeout
    release.set()
    assert w.join(2.0) is True
