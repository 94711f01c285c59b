"""The analysis values as read-only OSCQuery nodes: what the engine hears, with types, ranges and units.

The values come from the same callable that feeds OSC out (``Controls._analysis_messages``: ``[(address, args)]``),
with ``/performer/classes`` (the class names OSC out announces), so the tree lists exactly what OSC out sends. A
node's TYPE follows its arguments (``s``, ``i``, ``f``, ``T``/``F``); its RANGE, UNIT and DESCRIPTION come from
:data:`ANALYSIS` (one entry per argument, or one for every argument of a list such as the class probabilities). An
address the table does not know is still listed, typed, without a range.
Which nodes exist, and their types, can change while running (the glove starts sending, the classifier changes its
class count, the band count changes): :func:`shape` says what a client would need to fetch again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from performer.analysis.bands import FLOOR_DB

ACCESS_READ = 1
Messages = Sequence[tuple[str, Sequence[Any]]]

_DB = {"MIN": FLOOR_DB, "MAX": 0.0}
_UNIT_RANGE = {"MIN": 0.0, "MAX": 1.0}


@dataclass(frozen=True)
class Spec:
    description: str
    ranges: tuple[dict[str, Any] | None, ...] = ()
    """One range per argument; a single range applies to every argument."""
    unit: str = ""


ANALYSIS: dict[str, Spec] = {
    "/performer/classes": Spec("The class names, in the order of /performer/probs ('none' among them with a "
                               "classifier that has it). OSC out sends it at start, to each destination as it is "
                               "added, when it changes and once a second; send /performer/classes with no "
                               "arguments to have it answered."),
    "/performer/class": Spec("The class the classifier hears now: name, index, confidence (0..1); 'none' when it "
                             "hears none of its classes (the dream then holds its picture).",
                             (None, {"MIN": 0}, _UNIT_RANGE)),
    "/performer/probs": Spec("The probability of each class, in class order (they sum to 1), 'none' among them "
                             "with a classifier that has it.", (_UNIT_RANGE,)),
    "/performer/level": Spec("RMS level of the input.", (_DB,), "dBFS"),
    "/performer/peak": Spec("Peak level of the input.", (_DB,), "dBFS"),
    "/performer/onset": Spec("Onset strength of the latest hop (normalised spectral flux).", (_UNIT_RANGE,)),
    "/performer/centroid": Spec("Spectral centroid of the latest hop.", ({"MIN": 0.0},), "Hz"),
    "/performer/bands": Spec("Band levels: low (< 250 Hz), mid, high (> 4 kHz), then the analysis.bands "
                             "log-spaced bands, lowest first.", (_DB,), "dBFS"),
    "/performer/tempo/bpm": Spec("Tempo.", ({"MIN": 0.0, "MAX": 400.0},), "BPM"),
    "/performer/tempo/beat_phase": Spec("Position in the beat (0 on the beat).", (_UNIT_RANGE,)),
    "/performer/tempo/bar_phase": Spec("Position in the bar (0 on the downbeat).", (_UNIT_RANGE,)),
    "/performer/glove": Spec("Each glove finger's bend, calibrated (0 open, 1 bent), thumb first.", (_UNIT_RANGE,)),
    "/performer/glove/fist": Spec("How closed the glove's hand is (0 open, 1 fist).", (_UNIT_RANGE,)),
    "/performer/glove/raw": Spec("Each glove sensor's raw reading, before calibration.", ({"MIN": 0.0},)),
}


def osc_type(v: Any) -> str:
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, int):
        return "i"
    if isinstance(v, float):
        return "f"
    return "s"


def _ranges(address: str, args: Sequence[Any], spec: Spec) -> list[dict[str, Any] | None]:
    if len(spec.ranges) == 1:
        out = [spec.ranges[0]] * len(args)
    else:
        out = list(spec.ranges[: len(args)]) + [None] * (len(args) - len(spec.ranges))
    return [dict(r) if r is not None else None for r in out]


def analysis_node(address: str, args: Sequence[Any], classes: int | None = None) -> dict[str, Any]:
    """The read-only node for one analysis message (``classes``: the class count, for the class index's range)."""
    spec = ANALYSIS.get(address, Spec("An analysis value (as sent over OSC out)."))
    node: dict[str, Any] = {"FULL_PATH": address, "ACCESS": ACCESS_READ, "DESCRIPTION": spec.description,
                            "TYPE": "".join(osc_type(a) for a in args), "VALUE": list(args)}
    ranges = _ranges(address, args, spec)
    if address == "/performer/class" and classes and len(ranges) > 1 and ranges[1] is not None:
        ranges[1]["MAX"] = classes - 1
    if any(r is not None for r in ranges):
        node["RANGE"] = ranges
    if spec.unit:
        node["UNIT"] = [spec.unit] * len(args)
    return node


def analysis_leaves(messages: Messages) -> list[tuple[str, dict[str, Any]]]:
    """``[(address, node)]`` for every analysis message (the last one of an address wins)."""
    latest = {address: list(args) for address, args in messages}
    classes = len(latest.get("/performer/probs", latest.get("/performer/classes", []))) or None
    return [(address, analysis_node(address, args, classes)) for address, args in latest.items()]


def shape(leaves: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """What a client has to fetch again when it changes: each node's description without its value."""
    return {address: json.dumps({k: v for k, v in node.items() if k != "VALUE"}, sort_keys=True)
            for address, node in leaves}


def changed_paths(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """The paths to announce with PATH_CHANGED: a node whose description changed, and the container of a node
    that appeared or went away."""
    out: list[str] = []
    for address in sorted(old.keys() | new.keys()):
        if address in old and address in new:
            path = address if old[address] != new[address] else None
        else:
            path = _kept_container(address, old, new)
        if path is not None and path not in out:
            out.append(path)
    return out


def _kept_container(address: str, old: dict[str, str], new: dict[str, str]) -> str:
    """The deepest container of ``address`` that holds other nodes both before and after (else the root)."""
    parts = address.strip("/").split("/")
    for i in range(len(parts) - 1, 0, -1):
        prefix = "/" + "/".join(parts[:i])
        if all(any(k != address and k.startswith(prefix + "/") for k in side) for side in (old, new)):
            return prefix
    return "/"
