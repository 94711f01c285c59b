"""Control from the stage: OSC in and out, OSCQuery, MIDI with learn, the flex-sensor glove.

Every controller writes into the engine's one :class:`~performer.params.ParamStore`; :class:`Controls`
(``controls.py``) builds the controllers a preset asks for around a running engine.
"""

from __future__ import annotations

from performer.control.commands import COMMANDS
from performer.control.controls import ControlOptions, Controls

__all__ = ["COMMANDS", "ControlOptions", "Controls"]
