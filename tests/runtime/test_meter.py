"""The rate meter and the failure count the stages' stats use."""

from __future__ import annotations

import pytest

from performer.runtime import LoopStats, RateMeter


def test_the_rate_is_events_over_the_window():
    m = RateMeter(2.0)
    assert m.add(0.0) is None  # one event: no rate yet
    assert m.add(0.1) == pytest.approx(10.0)
    for i in range(2, 40):
        rate = m.add(i * 0.1)
    assert rate == pytest.approx(10.0) and len(m.times) == 21  # 2 s of 10 a second, both ends in


def test_after_a_gap_the_window_keeps_what_it_is_told_to():
    alone = RateMeter(2.0)
    for t in (0.0, 0.5, 1.0, 10.0):
        rate = alone.add(t)
    assert rate is None and list(alone.times) == [10.0]  # the events before the gap are gone: no rate
    two = RateMeter(2.0, keep=2)
    for t in (0.0, 0.5, 1.0, 10.0):
        rate = two.add(t)
    assert rate == pytest.approx(1 / 9.0) and list(two.times) == [1.0, 10.0]  # the slow interval's own rate


def test_least_events_and_the_low_percentile():
    m = RateMeter(3.0, least=3)
    assert m.add(0.0) is None and m.add(0.1) is None
    times = [0.0, 0.1, 0.2, 0.3, 0.8]
    for t in times[2:]:
        rate = m.add(t)
    assert rate == pytest.approx(4 / 0.8)
    assert m.percentile(0.0) == pytest.approx(2.0) and m.percentile(1.0) == pytest.approx(10.0)
    assert RateMeter().percentile(0.05) == 0.0
    m.times.clear()
    m.add(1.0), m.add(1.0)
    assert m.add(1.0) is None  # no span: no rate (never a division by zero)


def test_a_loop_counts_every_failure_and_says_which_are_new():
    st = LoopStats()
    assert st.failed("boom") is True
    assert st.failed("boom") is False
    assert st.failed("bang") is True
    assert st.errors == 3 and st.last_error == "bang"
