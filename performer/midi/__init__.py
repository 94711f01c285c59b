"""MIDI in, below the stages that use it: which MIDI system (``backend``), ports read and stamped on arrival
(``ports``), and the one scanner that finds inputs by name and opens them as they appear (``scanner``), used by the
MIDI controller (:mod:`performer.control.midi`) and the MIDI clock (:mod:`performer.tempo.midi_clock`).

It imports neither :mod:`performer.control` nor :mod:`performer.tempo`.
"""
