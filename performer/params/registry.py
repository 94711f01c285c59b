"""The registry: the declared parameters looked up by name or OSC address, and the documents derived from them.

:data:`REGISTRY` is the registry of the whole table (:data:`performer.params.table.PARAMS`);
it also renders the parameter table as JSON, Markdown and plain text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from performer.errors import UnknownParamError
from performer.params.spec import GROUPS, Param, format_number
from performer.params.table import PARAMS


class Registry:
    """The declared parameters, looked up by name or OSC address."""

    def __init__(self, params: Iterable[Param]) -> None:
        self._by_name: dict[str, Param] = {}
        self._by_address: dict[str, Param] = {}
        for p in params:
            if p.name in self._by_name:
                raise ValueError(f"parameter {p.name} is declared twice")
            if p.address in self._by_address:
                raise ValueError(f"OSC address {p.address} is used by {self._by_address[p.address].name} and {p.name}")
            self._by_name[p.name] = p
            self._by_address[p.address] = p

    def __iter__(self) -> Iterator[Param]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownParamError(f"no parameter named {name!r}{_suggest(name, self._by_name)}") from None

    def by_address(self, address: str) -> Param:
        try:
            return self._by_address[address]
        except KeyError:
            hint = _suggest(address, self._by_address)
            raise UnknownParamError(f"no parameter at OSC address {address!r}{hint}") from None

    def in_group(self, group: str) -> list[Param]:
        return [p for p in self if p.group == group]

    def defaults(self) -> dict[str, Any]:
        return {p.name: (0 if p.type == "trigger" else p.default) for p in self}

    # --- derived documents -------------------------------------------------
    def to_json(self) -> str:
        return json.dumps([p.to_dict() for p in self], indent=2)

    def to_markdown(self) -> str:
        rows = ["| name | OSC address | type | range / choices | default | unit | description |",
                "|---|---|---|---|---|---|---|"]
        for p in self:
            rows.append(
                f"| `{p.name}` | `{p.address}` | {p.type} | {_range_words(p)} | {_default_words(p)} "
                f"| {p.unit} | {p.description}{_extras(p)} |"
            )
        return "\n".join(rows) + "\n"

    def to_text(self) -> str:
        lines = []
        for g in GROUPS:
            params = self.in_group(g)
            if not params:
                continue
            lines.append(f"[{g}]")
            for p in params:
                unit = f" {p.unit}" if p.unit else ""
                lines.append(f"  {p.name:<24} {p.type:<7} {_range_words(p):<28} default {_default_words(p)}{unit}")
                lines.append(f"  {'':<24} {p.description}{_extras(p)}")
            lines.append("")
        return "\n".join(lines)


def _range_words(p: Param) -> str:
    if p.numeric:
        return f"{format_number(p.min)} .. {format_number(p.max)}"
    if p.type == "enum":
        return " / ".join(p.choices)
    return ""


def _default_words(p: Param) -> str:
    if p.type == "trigger":
        return ""
    if p.type == "string":
        return repr(p.default) if p.default else "''"
    if p.type == "bool":
        return "true" if p.default else "false"
    return str(p.default)


def _extras(p: Param) -> str:
    bits = []
    if p.clamp:
        bits.append("clamps")
    if p.slew:
        bits.append(f"slews over {format_number(p.slew)} s")
    return f" ({', '.join(bits)})" if bits else ""


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


REGISTRY = Registry(PARAMS)
