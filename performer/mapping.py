"""The modulation matrix: sound features and the glove acting on parameters.

Like a synthesiser's mod matrix, each route adds ``depth`` times a shaped
source to a numeric parameter, on top of the parameter's base value (the one
OSC, MIDI or the preset set). Base and modulation are added in the
parameter's normalised 0..1 space, so a depth of 0.5 moves any parameter
across half its range, and the sum is clamped to the range. The performer's
knob and the sound both act.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from performer.params import REGISTRY, Registry

Curve = Literal["linear", "square", "sqrt", "smooth", "exp"]
CURVES: tuple[str, ...] = get_args(Curve)

# name (or pattern) -> (natural input range, description). The range maps the
# source onto 0..1 before the curve; a route may give its own range.
SOURCES: dict[str, tuple[tuple[float, float], str]] = {
    "level": ((-60.0, 0.0), "RMS level of the input, dBFS"),
    "peak": ((-60.0, 0.0), "peak level of the input, dBFS"),
    "onset": ((0.0, 1.0), "onset strength (spectral flux), 0..1"),
    "centroid": ((0.0, 8000.0), "spectral centroid, Hz"),
    "confidence": ((0.0, 1.0), "smoothed probability of the top class (of none while none wins), 0..1"),
    "prob.<class>": ((0.0, 1.0), "smoothed probability of one class, e.g. prob.dog_bark; prob.none: of none of "
                     "them, with a classifier that has the none class"),
    "band.low": ((-60.0, 0.0), "level of the input below 250 Hz, dBFS"),
    "band.mid": ((-60.0, 0.0), "level of the input between 250 Hz and 4 kHz, dBFS"),
    "band.high": ((-60.0, 0.0), "level of the input above 4 kHz, dBFS"),
    "band.<n>": ((-60.0, 0.0), "level of one of the analysis.bands log-spaced bands, band.1 (lowest) .. band.32, dBFS"),
    "env.low": ((0.0, 1.0), "envelope of band.low, 0..1 against the band's own recent peak, with analysis.attack "
                "and analysis.release"),
    "env.mid": ((0.0, 1.0), "envelope of band.mid, 0..1 (as env.low)"),
    "env.high": ((0.0, 1.0), "envelope of band.high, 0..1 (as env.low)"),
    "env.<n>": ((0.0, 1.0), "envelope of band.<n>, 0..1 (as env.low)"),
    "hit.low": ((0.0, 1.0), "the kick: 1 on an onset below 250 Hz (a rise of analysis.hit dB), falling to 0 with "
                "analysis.release"),
    "hit.mid": ((0.0, 1.0), "1 on an onset in band.mid (a snare, a clap), falling with analysis.release"),
    "hit.high": ((0.0, 1.0), "1 on an onset in band.high (a hat), falling with analysis.release"),
    "hit.<n>": ((0.0, 1.0), "1 on an onset in band.<n>, falling with analysis.release"),
    "glove.fist": ((0.0, 1.0), "how closed the gloved hand is, 0 open .. 1 fist"),
    "glove.<n>": ((0.0, 1.0), "one calibrated finger, glove.1 (thumb) .. glove.10"),
    "beat_phase": ((0.0, 1.0), "position within the beat of tempo.source, 0 on the beat .. 1 (a range of [1, 0] "
                   "makes a pulse that falls from each beat)"),
    "bar_phase": ((0.0, 1.0), "position within the 4-beat bar of tempo.source, 0 on its first beat .. 1"),
    "bpm": ((60.0, 200.0), "tempo of tempo.source, BPM (0 while none is known)"),
}
_PATTERNS = (
    (re.compile(r"prob\.[A-Za-z0-9_\-]+"), "prob.<class>"),
    (re.compile(r"glove\.(10|[1-9])"), "glove.<n>"),
    (re.compile(r"band\.(3[0-2]|[12][0-9]|[1-9])"), "band.<n>"),
    (re.compile(r"env\.(3[0-2]|[12][0-9]|[1-9])"), "env.<n>"),
    (re.compile(r"hit\.(3[0-2]|[12][0-9]|[1-9])"), "hit.<n>"),
)


def source_kind(name: str) -> str | None:
    """The entry of :data:`SOURCES` that ``name`` is an instance of, or None."""
    if name in SOURCES and "<" not in name:
        return name
    for pattern, kind in _PATTERNS:
        if pattern.fullmatch(name):
            return kind
    return None


def allowed_sources() -> str:
    return ", ".join(SOURCES)


def _shape(curve: str, x: float) -> float:
    if curve == "linear":
        return x
    if curve == "square":
        return x * x
    if curve == "sqrt":
        return math.sqrt(x)
    if curve == "smooth":
        return x * x * (3.0 - 2.0 * x)
    if curve == "exp":
        return (math.exp(3.0 * x) - 1.0) / (math.exp(3.0) - 1.0)
    raise ValueError(f"curve {curve!r} is not one of {', '.join(CURVES)}")


@dataclass(frozen=True)
class Route:
    """One row of the matrix: ``source`` moves ``target`` by ``depth`` of its range."""

    source: str
    target: str
    depth: float = 0.5
    curve: Curve = "linear"
    range: tuple[float, float] | None = None
    """Input range of the source mapped onto 0..1; None means the source's natural range."""
    smoothing: float = 0.0
    """Time constant (s) of a one-pole smoother on the shaped source."""

    def input_range(self) -> tuple[float, float]:
        if self.range is not None:
            return self.range
        kind = source_kind(self.source)
        return SOURCES[kind][0] if kind else (0.0, 1.0)


class ModMatrix:
    """Applies routes to a snapshot of base values, holding each route's smoother state.

    Not thread-safe: one owner (the render loop) calls :meth:`apply` per frame.
    """

    def __init__(self, routes: Sequence[Route] = (), registry: Registry = REGISTRY) -> None:
        self.registry = registry
        self.routes = tuple(routes)
        self._state: list[float | None] = [None] * len(self.routes)
        for r in self.routes:
            p = registry.get(r.target)
            if not p.numeric:
                raise ValueError(f"mapping target {r.target} is a {p.type}; "
                                 "only float and int parameters can be modulated")
            if source_kind(r.source) is None:
                raise ValueError(f"mapping source {r.source!r} is unknown; allowed: {allowed_sources()}")

    def amounts(self, sources: Mapping[str, float], dt: float) -> list[float]:
        """Each route's smoothed, shaped source in 0..1 (missing sources read as 0)."""
        out = []
        for i, r in enumerate(self.routes):
            lo, hi = r.input_range()
            raw = sources.get(r.source, lo)
            x = 0.0 if not math.isfinite(raw) or hi == lo else min(1.0, max(0.0, (raw - lo) / (hi - lo)))
            x = _shape(r.curve, x)
            prev = self._state[i]
            if prev is not None and r.smoothing > 0 and dt > 0:
                a = 1.0 - math.exp(-dt / r.smoothing)
                x = prev + a * (x - prev)
            self._state[i] = x
            out.append(x)
        return out

    def apply(self, base: Mapping[str, Any], sources: Mapping[str, float], dt: float,
              depth: float = 1.0) -> dict[str, Any]:
        """Return ``base`` with every routed parameter modulated; other values pass through."""
        result = dict(base)
        if not self.routes:
            return result
        offsets: dict[str, float] = {}
        for r, x in zip(self.routes, self.amounts(sources, dt)):
            offsets[r.target] = offsets.get(r.target, 0.0) + r.depth * depth * x
        for name, off in offsets.items():
            p = self.registry.get(name)
            n = min(1.0, max(0.0, p.normalize(base[name]) + off))
            result[name] = p.denormalize(n)
        return result
