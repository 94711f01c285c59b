"""A preset's controller sections as dataclasses: ``[osc]``, ``[midi]`` and ``[glove]``, their keys, types and
defaults declared once.

The preset schema's checks of these tables are derived from the fields (:func:`performer.presets.checks.schema_of`),
and the code that reads a section reads its dataclass (``osc_section(preset.osc).thumbnail``) rather than
``.get("thumbnail", 0)``. A :class:`~performer.presets.Preset` keeps each table as written, so a saved preset holds
what its author wrote and no defaults. The ``[video]`` and ``[outputs.*]`` tables are declared by the packages
that read them (:class:`performer.video.factory.VideoSection`, :class:`performer.outputs.factory.OutputSection`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from performer.presets.checks import arrays_of, param_name, preset_ref

S = TypeVar("S")


def _range(lo: float, hi: float) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class OscDestination:
    """One ``[[osc.destinations]]`` table: a host and port OSC out sends to."""

    host: str
    port: int = field(metadata=_range(1, 65535))


@dataclass(frozen=True)
class OscSection:
    """``[osc]``: the OSC server, who may talk to it, and what OSC out sends where."""

    host: str = "127.0.0.1"
    port: int = field(default=9000, metadata=_range(1, 65535))
    allow: list[str] = field(default_factory=list, metadata={"items": "client addresses"})
    oscquery_port: int | None = field(default=None, metadata=_range(0, 65535))
    """None: the OSC port + 1; 0: no OSCQuery."""
    thumbnail: int = field(default=0, metadata=_range(0, 512))
    """Pixels of the JPEG thumbnail sent every fifth frame (0: none)."""
    destinations: list[OscDestination] = field(default_factory=list)


@dataclass(frozen=True)
class MidiCC:
    """One ``[[midi.cc]]`` mapping: a control change moves a parameter."""

    param: str = field(metadata={"check": param_name()})
    cc: int = field(metadata=_range(0, 127))
    channel: int | None = field(default=None, metadata=_range(1, 16))
    bits: Literal[7, 14] = 7
    takeover: bool = True


@dataclass(frozen=True)
class MidiNote:
    """One ``[[midi.notes]]`` entry: a note recalls a preset or fires a trigger."""

    note: int = field(metadata=_range(0, 127))
    channel: int | None = field(default=None, metadata=_range(1, 16))
    preset: str | None = field(default=None, metadata={"check": preset_ref})
    param: str | None = field(default=None, metadata={"check": param_name()})


@dataclass(frozen=True)
class MidiProgram:
    """One ``[[midi.programs]]`` entry: a program change recalls a preset."""

    program: int = field(metadata=_range(0, 127))
    preset: str = field(metadata={"check": preset_ref})


@dataclass(frozen=True)
class MidiSection:
    """``[midi]``: the input and output ports (parts of their names), feedback, and the mappings."""

    input: str | None = None
    """None: no MIDI input (unless ``serve --midi`` names one)."""
    output: str | None = None
    feedback: bool = True
    cc: list[MidiCC] = field(default_factory=list)
    notes: list[MidiNote] = field(default_factory=list)
    programs: list[MidiProgram] = field(default_factory=list)


@dataclass(frozen=True)
class GloveSection:
    """``[glove]``: the flex-sensor glove, on a serial port or over OSC."""

    source: Literal["serial", "osc"] = "serial"
    port: str | None = None
    baud: int = field(default=115200, metadata=_range(300, 2_000_000))
    fingers: int = field(default=5, metadata=_range(1, 10))
    calibration: str | None = None
    """A calibration file, relative to the preset's folder."""
    smoothing: float = field(default=0.05, metadata=_range(0.0, 5.0))


def section(cls: type[S], table: Mapping[str, Any]) -> S:
    """``table`` (a checked preset table) as the dataclass ``cls``: its keys' values, the defaults for the rest."""
    arrays = arrays_of(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {key: [section(arrays[key], item) for item in value] if key in arrays else value
              for key, value in table.items() if key in names}
    return cls(**values)


def osc_section(table: Mapping[str, Any]) -> OscSection:
    return section(OscSection, table)


def midi_section(table: Mapping[str, Any]) -> MidiSection:
    return section(MidiSection, table)


def glove_section(table: Mapping[str, Any]) -> GloveSection:
    return section(GloveSection, table)
