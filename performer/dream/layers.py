"""Parsing ``dream.layers`` strings like ``'blocks.4=1,blocks.6=0.5'`` into weighted layers."""

from __future__ import annotations

import math

from performer.dream.backbones import DEFAULT_LAYERS, layer_names
from performer.errors import DreamError

MAX_WEIGHT = 100.0
"""Largest layer weight allowed (either sign): weights are relative, and the step is normalised."""
MAX_SPEC = 1000
"""Longest ``dream.layers`` string accepted, in characters."""


def parse_layers(spec: str, network: str) -> dict[str, float]:
    """Return ``{layer: weight}`` for ``spec`` on ``network``; an empty spec gives the network's default.

    Items are separated by commas; each is ``NAME`` (weight 1) or ``NAME=WEIGHT`` with ``|WEIGHT| <= 100``.
    Raises :class:`DreamError` naming the bad item and the layers that exist.
    """
    spec = (spec or "").strip()
    if not spec:
        return dict(DEFAULT_LAYERS[network])
    if len(spec) > MAX_SPEC:
        raise DreamError(f"dream.layers: {spec[:40]!r}... is {len(spec)} characters long; at most {MAX_SPEC} "
                         "are allowed")
    known = layer_names(network)
    out: dict[str, float] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, w = item.partition("=")
        name = name.strip()
        if name not in known:
            raise DreamError(
                f"dream.layers: {name!r} is not a layer of {network}; layers are {', '.join(known)}"
            )
        try:
            weight = float(w) if w.strip() else 1.0
        except ValueError:
            raise DreamError(f"dream.layers: weight {w.strip()!r} of layer {name} is not a number") from None
        if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
            raise DreamError(f"dream.layers: weight {w.strip()[:20]!r} of layer {name} is out of range: "
                             f"-{MAX_WEIGHT:g}..{MAX_WEIGHT:g}")
        out[name] = out.get(name, 0.0) + weight
    if not out or all(w == 0 for w in out.values()):
        raise DreamError(f"dream.layers: {spec!r} names no layer with a non-zero weight")
    return out


def format_layers(layers: dict[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in layers.items())
