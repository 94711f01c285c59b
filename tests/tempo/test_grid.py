"""The beat grid's arithmetic: phases, and how long until the next beat or bar."""

from __future__ import annotations

import pytest

from performer.tempo.grid import BeatGrid, wrap


def test_phases_at_120_bpm():
    g = BeatGrid(10.0, 0.0, 120.0)  # beat 0 (a bar's first beat) at t = 10 s, a beat every 0.5 s
    assert g.period == 0.5
    assert g.beat_at(10.25) == pytest.approx(0.5)
    assert g.beat_phase(10.25) == pytest.approx(0.5)
    assert g.bar_phase(10.25) == pytest.approx(0.125)
    assert g.bar_phase(11.5) == pytest.approx(0.75)
    assert g.beat_phase(9.9) == pytest.approx(0.8)  # before the anchor: phases wrap the right way
    assert g.bar_phase(9.9) == pytest.approx(0.95)
    assert g.time_at(4.0) == pytest.approx(12.0)


@pytest.mark.parametrize(("now", "beat", "bar"), [
    (10.0, 0.0, 0.0),        # on a bar's first beat: both now
    (10.1, 0.4, 1.9),        # just after it
    (10.5, 0.0, 1.5),        # on beat 1: the beat is now, the bar 3 beats on
    (11.9, 0.1, 0.1),        # just before the next bar
    (12.0004, 0.0, 0.0),     # less than a millisecond late counts as on it
    (9.75, 0.25, 0.25),      # before the anchor
])
def test_next_boundary(now, beat, bar):
    g = BeatGrid(10.0, 0.0, 120.0)
    assert g.next_boundary("beat", now) == pytest.approx(beat, abs=1e-9)
    assert g.next_boundary("bar", now) == pytest.approx(bar, abs=1e-9)


def test_next_boundary_with_an_anchor_off_the_bar():
    g = BeatGrid(0.0, 2.5, 90.0)  # half-way through beat 2 at t = 0; a beat lasts 2/3 s
    assert g.next_boundary("beat", 0.0) == pytest.approx(1 / 3)
    assert g.next_boundary("bar", 0.0) == pytest.approx(1.5 * 2 / 3)


def test_a_bad_kind_or_tempo_is_refused_with_what_is_allowed():
    g = BeatGrid(0.0, 0.0, 120.0)
    with pytest.raises(ValueError, match="'measure' is not one of beat, bar"):
        g.next_boundary("measure", 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside 20..400 BPM"):
        BeatGrid(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="outside"):
        BeatGrid(0.0, 0.0, float("nan"))


def test_retiming_keeps_the_phase():
    g = BeatGrid(0.0, 0.0, 120.0)
    h = g.retimed(1.25, 100.0)  # beat 2.5 at 1.25 s, slower from there
    assert h.beat_at(1.25) == pytest.approx(2.5)
    assert h.next_boundary("beat", 1.25) == pytest.approx(0.3)


def test_wrap():
    assert wrap(0.2) == pytest.approx(0.2)
    assert wrap(0.8) == pytest.approx(-0.2)
    assert wrap(-0.7) == pytest.approx(0.3)
    assert wrap(3.1) == pytest.approx(0.1)
