"""When `serve` decides a file input is over."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from performer.cli.serve import FileEnd


def engine(total: int, position: int | None, hop_s: float = 0.1, rate: int = 1000, finished: bool = True):
    ev = threading.Event()
    if finished:
        ev.set()
    last = SimpleNamespace(position=position) if position is not None else None
    return SimpleNamespace(source=SimpleNamespace(finished=ev, describe=lambda: "x.wav"),
                           store=SimpleNamespace(get=lambda name: hop_s), ring=SimpleNamespace(rate=rate, total=total),
                           analysis=SimpleNamespace(peek=lambda: last))


def test_a_file_is_over_once_analysed_to_its_end():
    end = FileEnd()
    assert not end.done(engine(5000, 4000, finished=False), 0.0)
    assert not end.done(engine(5000, 4000), 0.0)  # a whole second not analysed yet
    assert end.done(engine(5000, 4950), 0.1)  # less than a hop left


def test_an_analysis_that_stops_short_of_the_end_still_ends_the_file():
    end = FileEnd(patience=1.0)
    # e.g. the hop was shortened live after the analyser had planned its next look a long hop ahead,
    # past the end of the file: that look never comes
    e = engine(5000, 4500, hop_s=0.1)
    assert not end.done(e, 10.0)
    assert not end.done(e, 11.0)
    assert end.done(e, 11.3)  # patience + two hops without a new analysis
    nothing = FileEnd(patience=1.0)
    e = engine(50, None)  # not one analysis
    assert not nothing.done(e, 0.5)
    assert nothing.done(e, 2.0)
