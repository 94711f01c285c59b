"""Preset morph: a recall that glides numeric parameters to the preset's values instead of jumping.

A preset's top-level ``morph`` says how long its recall takes::

    morph = 4.0          # seconds
    morph = "8 beats"    # or "2 bars" (4 beats to the bar), at the tempo when the recall happens

Every float and int parameter glides in a straight line from the value it has at the recall (mid-glide values
included) to the preset's, over that time, whatever its own slew; enums, booleans and strings switch at the
start, and so does the dream's frame size (``dream.width``, ``dream.height``: a size gliding would resize the
picture on every frame). No ``morph`` (or 0) is an ordinary recall: values jump, or glide over their own slew.

A recall over OSC may give its own morph time: ``/preset/load NAME SECONDS`` glides over that many seconds
whatever the preset says (0: no morph), see :func:`morph_argument`.

Beats and bars are turned into seconds once, at the recall, with the tempo the caller gives
(:func:`performer.presets.apply_preset`'s ``bpm``: the engine's live tempo); while none is known, with the
``tempo.bpm`` parameter (the tap / hand-set tempo), and as a jump if there is none of either.
"""

from __future__ import annotations

import logging
import math
import re
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from performer.errors import ControlError
from performer.params import Registry
from performer.tempo.grid import BEATS_PER_BAR

log = logging.getLogger(__name__)

UNITS = ("s", "beats", "bars")
LIMITS = {"s": 300.0, "beats": 256.0, "bars": 64.0}
"""The longest morph in each unit."""
SWITCH_AT_START = ("dream.width", "dream.height")
"""Numeric parameters a morph sets at the start rather than gliding."""
ALLOWED = ("seconds as a number in [0, 300], or a string like \"8 beats\" or \"2 bars\" "
           "(at most 256 beats, 64 bars)")

_SPELLINGS = {"s": "s", "sec": "s", "second": "s", "seconds": "s", "beat": "beats", "beats": "beats",
              "bar": "bars", "bars": "bars"}
_TEXT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*")


@dataclass(frozen=True)
class Morph:
    """How long a preset's recall glides: ``amount`` of ``unit`` (s, beats or bars)."""

    amount: float
    unit: str = "s"

    def seconds(self, bpm: float) -> float:
        """The morph in seconds at ``bpm`` (beats and bars only; seconds ignore it)."""
        if self.unit == "s":
            return self.amount
        beats = self.amount * (BEATS_PER_BAR if self.unit == "bars" else 1)
        return beats * 60.0 / bpm

    def to_toml(self) -> float | str:
        return self.amount if self.unit == "s" else f"{self.amount:g} {self.unit}"

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}"


def parse_morph(value: Any) -> tuple[Morph | None, str | None]:
    """A preset's ``morph`` value as a :class:`Morph`, or None and the words for what is allowed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value) and 0 <= value <= LIMITS["s"]:
            return Morph(float(value)), None
        return None, ALLOWED
    if not isinstance(value, str) or len(value) > 40:
        return None, ALLOWED
    m = _TEXT.fullmatch(value.lower())
    unit = _SPELLINGS.get(m.group(2)) if m else None
    if m is None or unit is None:
        return None, ALLOWED
    amount = float(m.group(1))
    if amount > LIMITS[unit]:
        return None, ALLOWED
    return Morph(amount, unit), None


def morph_seconds(morph: Morph, current: Callable[[str], Any], registry: Registry,
                  bpm: Callable[[], float] | None = None) -> float:
    """``morph`` in seconds now: beats at ``bpm()`` when it knows a tempo, else at ``tempo.bpm``, else 0."""
    if morph.unit == "s":
        return morph.amount
    tempo = 0.0
    if bpm is not None:
        try:
            tempo = float(bpm())
        except Exception:  # a broken tempo source must not stop a recall
            log.exception("reading the tempo for a %s morph failed", morph)
    if not (math.isfinite(tempo) and tempo > 0) and "tempo.bpm" in registry:
        tempo = float(current("tempo.bpm"))
        log.info("no live tempo: counting the %s morph at tempo.bpm = %g BPM", morph, tempo)
    if not (math.isfinite(tempo) and tempo > 0):
        log.warning("no tempo to count a %s morph by; the recall jumps", morph)
        return 0.0
    return morph.seconds(tempo)


def morph_durations(values: Mapping[str, Any], registry: Registry, seconds: float) -> dict[str, float]:
    """Per-parameter glide times for :meth:`ParamStore.update`: ``seconds`` for every numeric parameter in
    ``values`` but those in :data:`SWITCH_AT_START`."""
    if seconds <= 0:
        return {}
    return {name: seconds for name in values
            if registry.get(name).numeric and name not in SWITCH_AT_START}


def morph_argument(args: Sequence[Any], address: str) -> float | None:
    """The optional morph time after a command's preset name (``/preset/load NAME SECONDS``): None when absent;
    ControlError naming what is allowed when it is not a number of seconds in [0, 300]."""
    if not args:
        return None
    value = args[0]
    if (len(args) == 1 and isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value <= LIMITS["s"]):
        return float(value)
    shown = reprlib.repr(list(args))
    raise ControlError(f"{address}: morph time {shown} is not allowed; allowed: the preset name, then optionally the "
                       f"seconds the recall glides over, a number in [0, {LIMITS['s']:g}] (0: no morph)")
