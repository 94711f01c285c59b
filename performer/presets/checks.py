"""The checks a preset's values go through, one per kind of value, and the checks of a section derived from its
dataclass (as mido keeps its message checks apart from the specs they serve).

A check returns None when a value is allowed, else the words for what is allowed. :func:`schema_of` derives a
table's checks from a dataclass declaring the table (:mod:`performer.presets.sections`, ``VideoSection``,
``OutputSection``): a field's type gives its check (``str``, ``bool``, ``int``, ``float``, a ``Literal``, a
``list[str]``), its metadata the rest -- ``range`` (lo, hi) for numbers, ``choices`` for a string from a
declared tuple, ``items`` (the words for a list's items), or a ``check`` of its own -- and a field without a
default is required. A ``list`` of another dataclass is an array of tables (``[[osc.destinations]]``), checked
by that dataclass's schema (:func:`arrays_of`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from performer.params import REGISTRY
from performer.presets.folders import name_problem

Check = Callable[[Any], str | None]
"""Returns None when the value is allowed, else the words for what is allowed."""
Schema = dict[str, tuple[Check, bool]]  # key -> (check, required)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def string() -> Check:
    return lambda v: None if isinstance(v, str) else "a string"


def boolean() -> Check:
    return lambda v: None if isinstance(v, bool) else "true or false"


def integer(lo: int, hi: int) -> Check:
    return lambda v: None if is_int(v) and lo <= v <= hi else f"an integer in [{lo}, {hi}]"


def number(lo: float, hi: float) -> Check:
    return lambda v: None if is_num(v) and lo <= v <= hi else f"a number in [{lo:g}, {hi:g}]"


def one_of(*choices: Any) -> Check:
    return lambda v: None if v in choices else "one of " + ", ".join(map(str, choices))


def list_of(item: Check, what: str) -> Check:
    def check(v: Any) -> str | None:
        if isinstance(v, list) and all(item(x) is None for x in v):
            return None
        return f"a list of {what}"

    return check


def param_name(numeric_only: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str) or v not in REGISTRY:
            close = difflib.get_close_matches(str(v), REGISTRY.names(), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            return "the name of a parameter (see `performer params`)" + hint
        if numeric_only and not REGISTRY.get(v).numeric:
            return "a float or int parameter (only those can be modulated)"
        return None

    return check


def preset_ref(v: Any) -> str | None:
    """A preset a MIDI note or program recalls: a preset name, or next / prev."""
    if v in ("next", "prev"):
        return None
    allowed = name_problem(v)
    return None if allowed is None else f"next, prev or {allowed}"


def _bare(hint: Any) -> Any:
    """``X`` of ``X | None``."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _check(field: dataclasses.Field[Any], hint: Any) -> Check:
    meta = field.metadata
    if "check" in meta:
        return typing.cast(Check, meta["check"])
    if "choices" in meta:
        return one_of(*meta["choices"])
    hint = _bare(hint)
    if typing.get_origin(hint) is Literal:
        return one_of(*typing.get_args(hint))
    if hint is bool:
        return boolean()
    if hint is str:
        return string()
    if hint is int:
        return integer(*meta["range"])
    if hint is float:
        return number(*meta["range"])
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return list_of(string(), meta["items"])
    raise TypeError(f"field {field.name}: no check for {hint!r}; give it a check in its metadata")


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def arrays_of(cls: type) -> dict[str, type]:
    """The fields of ``cls`` that are arrays of tables: key -> the dataclass of one table."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        args = typing.get_args(hints[f.name])
        if typing.get_origin(hints[f.name]) is list and len(args) == 1 and dataclasses.is_dataclass(args[0]):
            out[f.name] = typing.cast(type, args[0])
    return out


def schema_of(cls: type) -> Schema:
    """The checks of the table ``cls`` declares, in field order (arrays of tables left to :func:`arrays_of`)."""
    hints = typing.get_type_hints(cls)
    arrays = arrays_of(cls)
    return {f.name: (_check(f, hints[f.name]), _required(f)) for f in dataclasses.fields(cls) if f.name not in arrays}
