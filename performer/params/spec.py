"""A parameter's declaration: its type, range, default and how a value is checked against it.

:class:`Param` is one entry of the parameter table (:mod:`performer.params.table`).
It validates incoming values (converting, clamping or refusing them), maps them
to and from the normalised 0..1 form MIDI and OSC clients send, and describes
itself for the derived documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from performer.errors import ParamRangeError, ParamTypeError

ParamType = Literal["float", "int", "bool", "enum", "string", "trigger"]
Group = Literal["audio", "classifier", "mapping", "dream", "output", "control"]
GROUPS: tuple[str, ...] = get_args(Group)
PARAM_TYPES: tuple[str, ...] = get_args(ParamType)

_TRUE_WORDS = {"true", "on", "yes", "1"}
_FALSE_WORDS = {"false", "off", "no", "0"}


@dataclass(frozen=True)
class Param:
    """One parameter's declaration: what it is, what it accepts, how it moves."""

    name: str
    type: ParamType
    default: Any
    group: Group
    description: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    clamp: bool = False
    """Out-of-range numbers are clamped (knobs) instead of rejected."""
    slew: float = 0.0
    """Seconds a jump takes to reach its target, so visuals glide instead of snapping."""
    address: str = ""
    """OSC address; derived from the name when left empty."""
    max_length: int = 0
    """The most characters a string parameter takes (required for strings, nothing else has one): OSC, presets,
    the control page and OSCQuery refuse a longer string, since a stored value is sent to every client and saved."""

    def __post_init__(self) -> None:
        if not self.address:
            object.__setattr__(self, "address", "/" + self.name.replace(".", "/"))
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name}: type {self.type!r} is not one of {PARAM_TYPES}")
        if self.group not in GROUPS:
            raise ValueError(f"parameter {self.name}: group {self.group!r} is not one of {GROUPS}")
        if self.numeric and (self.min is None or self.max is None or self.min >= self.max):
            raise ValueError(f"parameter {self.name}: a {self.type} needs min < max")
        if self.type == "enum" and (not self.choices or self.default not in self.choices):
            raise ValueError(f"parameter {self.name}: enum default {self.default!r} is not in {self.choices}")
        if self.slew and self.type not in ("float", "int"):
            raise ValueError(f"parameter {self.name}: only numbers can slew")
        if (self.type == "string") != (self.max_length > 0):
            raise ValueError(f"parameter {self.name}: a string needs max_length > 0, and only a string has one")
        if self.type != "trigger":
            # The default must pass the parameter's own validation, unclamped.
            _validate(self, self.default, clamp=False, round_ints=False)

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "int")

    def allowed(self) -> str:
        """Human words for what this parameter accepts."""
        if self.numeric:
            return f"{self.type} in [{format_number(self.min)}, {format_number(self.max)}]"
        if self.type == "enum":
            return "one of " + ", ".join(self.choices)
        if self.type == "bool":
            return "true or false (1 or 0)"
        if self.type == "string":
            return f"a string of at most {self.max_length} characters"
        return "a trigger (any value, or none)"

    def validate(self, value: Any, *, strict: bool = False) -> Any:
        """Return ``value`` converted to this parameter's type, or raise.

        Raises :class:`ParamTypeError` for a wrong type and
        :class:`ParamRangeError` for a value outside the range or choices.
        Numbers are clamped instead when the parameter declares ``clamp``,
        and a float given to an int parameter is rounded (faders send
        floats), unless ``strict``: preset files are checked strictly, since
        an out-of-range number or a fraction there is a typo, not a knob.
        """
        return _validate(self, value, clamp=self.clamp and not strict, round_ints=not strict)

    def normalize(self, value: Any) -> float:
        """Map a valid value to 0..1 (numbers, bools and enums)."""
        if self.numeric:
            lo, hi = self._bounds()
            return (float(value) - lo) / (hi - lo)
        if self.type == "bool":
            return 1.0 if value else 0.0
        if self.type == "enum":
            n = len(self.choices)
            return self.choices.index(value) / (n - 1) if n > 1 else 0.0
        raise ParamTypeError(f"{self.name} is a {self.type} and has no normalised 0-1 form")

    def denormalize(self, x: Any) -> Any:
        """Map 0..1 (clamped) to a valid value of this parameter."""
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ParamTypeError(f"{self.name} (normalised) expects a number in [0, 1], got {_shown(x)}")
        x = min(1.0, max(0.0, float(x)))
        if self.numeric:
            lo, hi = self._bounds()
            v = lo + x * (hi - lo)
            return int(round(v)) if self.type == "int" else v
        if self.type == "bool":
            return x >= 0.5
        if self.type == "enum":
            return self.choices[int(round(x * (len(self.choices) - 1)))]
        raise ParamTypeError(f"{self.name} is a {self.type} and has no normalised 0-1 form")

    def _bounds(self) -> tuple[float, float]:
        """``(min, max)`` of a number parameter; ``__post_init__`` makes sure both are set."""
        assert self.min is not None and self.max is not None
        return self.min, self.max

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "type": self.type,
            "group": self.group,
            "default": self.default,
            "unit": self.unit,
            "description": self.description,
        }
        if self.numeric:
            d.update(min=self.min, max=self.max, clamp=self.clamp, slew=self.slew)
        if self.type == "enum":
            d["choices"] = list(self.choices)
        if self.type == "string":
            d["max_length"] = self.max_length
        return d


def format_number(x: float | None) -> str:
    """A bound as short text: ``5`` rather than ``5.0``, ``?`` when unset."""
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


SHOWN_CHARS = 60
"""Characters of a refused value an error message shows (a client may send anything, of any length)."""


def _shown(value: Any) -> str:
    """A refused value for an error message: its repr, cut to :data:`SHOWN_CHARS` with the whole length said."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters as text"
    return f"{text[:SHOWN_CHARS - 3]}... ({size})"


def _validate(p: Param, value: Any, *, clamp: bool, round_ints: bool) -> Any:
    t = p.type
    if t == "trigger":
        return None
    if t == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamTypeError(f"{p.name} expects a float, got {_shown(value)} ({type(value).__name__})")
        v = float(value)
        if not math.isfinite(v):
            raise ParamRangeError(f"{p.name} = {_shown(value)} is not a finite number; allowed: {p.allowed()}")
        return _in_range(p, v, clamp)
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamTypeError(f"{p.name} expects an int, got {_shown(value)} ({type(value).__name__})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamRangeError(f"{p.name} = {_shown(value)} is not a finite number; allowed: {p.allowed()}")
        if isinstance(value, float) and not value.is_integer():
            if not round_ints:
                raise ParamTypeError(f"{p.name} expects an int, got {_shown(value)} (a float with a fraction)")
            value = round(value)
        return int(_in_range(p, int(value), clamp))
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        raise ParamTypeError(f"{p.name} expects a bool (true/false or 1/0), got {_shown(value)}")
    if t == "enum":
        if isinstance(value, str):
            if value in p.choices:
                return value
            raise ParamRangeError(f"{p.name} = {_shown(value)} is not allowed; allowed: {p.allowed()}")
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(p.choices):
                return p.choices[value]
            raise ParamRangeError(
                f"{p.name} = {value} is not a choice index; allowed: 0..{len(p.choices) - 1} or {p.allowed()}"
            )
        raise ParamTypeError(f"{p.name} expects one of {', '.join(p.choices)}, got {_shown(value)}")
    if t == "string":
        if not isinstance(value, str):
            raise ParamTypeError(f"{p.name} expects a string, got {_shown(value)} ({type(value).__name__})")
        if len(value) > p.max_length:
            raise ParamRangeError(f"{p.name} = {_shown(value)} is too long; allowed: {p.allowed()}")
        return value
    raise AssertionError(t)  # pragma: no cover - guarded in __post_init__


def _in_range(p: Param, v: float, clamp: bool) -> float:
    lo, hi = p._bounds()
    if lo <= v <= hi:
        return v
    if clamp:
        return min(hi, max(lo, v))
    shown = repr(format_number(v) if isinstance(v, int) else v)
    raise ParamRangeError(f"{p.name} = {shown} is out of range; allowed: {p.allowed()}")
