"""Tempo: the beat of the live input, tap tempo, MIDI clock in and Ableton Link, as one beat grid.

:class:`Tempo` chooses the source (``tempo.source``), writes ``beat_phase``,
``bar_phase`` and ``bpm`` into the modulation sources and answers how long
to hold a recall so it lands on the next beat or bar (``tempo.quantize``).
"""

from performer.tempo.grid import BOUNDARIES, BeatGrid, Boundary
from performer.tempo.tempo import SOURCES, Tempo, attach

__all__ = ["BOUNDARIES", "SOURCES", "BeatGrid", "Boundary", "Tempo", "attach"]
