"""Beat and bar events for OSC out, so a patch need not find the phase wrap itself.

:func:`send_beats` hangs a listener on :attr:`Tempo.beat_listeners <performer.tempo.tempo.Tempo.beat_listeners>`
that queues ``/performer/beat i`` (``i``: the beat in the bar, 0 on the downbeat, to 3) as each beat begins and,
on a downbeat, ``/performer/bar i`` first (``i``: the bar's number on the source's count). The tempo thread sees a
beat within 10 ms; OSC out sends it with its next tick (``control.osc_out_rate``: within 33 ms at 30 Hz).
Nothing is sent while no tempo is known or a MIDI transport is stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BEAT_ADDRESS = "/performer/beat"
BAR_ADDRESS = "/performer/bar"


def send_beats(tempo: Any, event: Callable[[str, list[Any]], None]) -> Callable[[int, int], None] | None:
    """Queue the beat and bar events of ``tempo`` through ``event(address, args)``; returns the listener (None
    when there is no tempo: an engine without one)."""
    if tempo is None:
        return None

    def on_beat(beat: int, bar: int) -> None:
        if beat == 0:
            event(BAR_ADDRESS, [int(bar)])
        event(BEAT_ADDRESS, [int(beat)])

    tempo.beat_listeners.append(on_beat)
    return on_beat
