"""What every generated patch shares: where the server is, what it reports, and the lines that head each file.

The patches send to ``SERVER_HOST:SERVER_PORT``, listen on ``FEEDBACK_PORT`` for the analysis messages in
:data:`ANALYSIS`, and offer a control per parameter of the registry (:func:`performance_params`) and one per
OSC command (:func:`osc_commands`).
"""

from __future__ import annotations

from pathlib import Path

from performer.params import REGISTRY, Param, Registry

SERVER_HOST = "127.0.0.1"
SERVER_PORT = 9000
"""Where ``performer serve`` listens for OSC by default."""
FEEDBACK_PORT = 9002
"""Where the patches listen for what the server sends (``performer serve --osc-out 127.0.0.1:9002``;
the OSCQuery HTTP server takes 9001)."""
NDI_SOURCE = "Performer"
"""The NDI sender name of an ``[outputs.ndi]`` table without ``name``
(the shipped club preset says "Performer Club")."""
GENERATED_BY = "performer patches --write"

# Analysis messages the server sends (address, OSC types, what it is), shown by the receiving side of the patches.
ANALYSIS: tuple[tuple[str, str, str], ...] = (
    ("/performer/class", "sif", "top class: name, index, confidence"),
    ("/performer/level", "f", "RMS level, dBFS"),
    ("/performer/peak", "f", "peak level, dBFS"),
    ("/performer/onset", "f", "onset strength 0..1"),
    ("/performer/centroid", "f", "spectral centroid, Hz"),
    ("/performer/status/fps", "f", "frames per second"),
    ("/performer/status/latency_ms", "f", "analysis latency, ms"),
    ("/performer/error", "ss", "address and message of the last error"),
)


def default_dir() -> Path:
    """The repository's ``patches/`` folder (next to ``presets/``)."""
    return Path(__file__).resolve().parents[2] / "patches"


def osc_commands() -> tuple[tuple[str, str, str], ...]:
    """The server's OSC commands (address, OSC types, what it does): :data:`performer.control.COMMANDS`."""
    from performer.control import COMMANDS

    return COMMANDS


def performance_params(registry: Registry = REGISTRY) -> list[Param]:
    """Every parameter, in registry order (a control for each)."""
    return list(registry)


def bounds(p: Param) -> tuple[float, float]:
    """A numeric parameter's ``(min, max)``; the registry refuses a number without both."""
    if p.min is None or p.max is None:
        raise ValueError(f"parameter {p.name} has no range")
    return p.min, p.max


def header_lines(tool: str) -> list[str]:
    """The two lines that open every generated file: what it is, that it is generated, and how to connect."""
    return [f"Performer for {tool}. GENERATED from the parameter registry by `{GENERATED_BY}`: do not edit by hand",
            ("(regenerate after changing performer/params/table.py). "
             f"Sends to {SERVER_HOST}:{SERVER_PORT} and listens on "
             f"{FEEDBACK_PORT}: start the server with `performer serve --osc-out 127.0.0.1:{FEEDBACK_PORT}`.")]
