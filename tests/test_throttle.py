"""The limits on what bad input costs: clipped lines, one line per kind per second, a reply budget, and a
library's root-logger warnings throttled."""

from __future__ import annotations

import logging

from pythonosc.osc_message import OscMessage

from performer.throttle import MAX_LINE, Budget, KindLog, clip, throttle_library_warnings


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_clip_keeps_one_short_line_and_says_how_much_was_cut():
    assert clip("short") == "short"
    long = clip("x" * 100_000)
    assert len(long) == MAX_LINE and long.endswith("x… (100000 chars)")
    assert "\n" not in clip("a\nb\r\nc") and clip("a\nb") == "a b"


def test_one_line_per_kind_per_interval_with_the_count(caplog):
    caplog.set_level(logging.WARNING)
    clock = Clock()
    kl = KindLog(logging.getLogger("test.kindlog"), clock=clock)
    logged = [kl("bad_type", f"value {i}", i + 1) for i in range(1000)]
    assert logged.count(True) == 1
    assert kl("out_of_range", "another kind", 1)  # kinds are limited apart
    clock.t = 1.0
    assert kl("bad_type", "later", 1001)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["value 0 (1 bad type so far)", "another kind (1 out of range so far)",
                     "later (1001 bad type so far)"]


def test_the_budget_refuses_past_its_burst_and_refills_at_its_rate():
    clock = Clock()
    b = Budget(rate=10, burst=5, clock=clock)
    assert [b.take() for _ in range(8)] == [True] * 5 + [False] * 3 and b.refused == 3
    clock.t = 0.25  # 2.5 tokens
    assert [b.take() for _ in range(3)] == [True, True, False]


def test_python_osc_warnings_through_the_root_logger_are_throttled(caplog):
    caplog.set_level(logging.WARNING)
    throttle_library_warnings("pythonosc")
    throttle_library_warnings("pythonosc")  # twice is harmless
    data = b"/x\x00\x00" + b",cccccccc\x00\x00\x00"  # python-osc logs one warning per unknown tag
    for _ in range(200):
        OscMessage(data)
    root = [r for r in caplog.records if r.name == "root"]
    assert 1 <= len(root) <= 3
    other = logging.getLogger("test.untouched")
    for i in range(5):
        other.warning("line %d", i)
    assert len([r for r in caplog.records if r.name == "test.untouched"]) == 5
