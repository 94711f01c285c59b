"""What ``serve`` shows of a running engine: the status line and the ``--stats`` file.

The status line fits a terminal of 80 columns: when the fields do not fit, the
least important go first (the classifier's time, then the skipped hops), then
the class name is shortened. Each counter is named for what it counts; the
rare ones (dropped audio blocks, frame errors, a lost input) appear once they
happen. The stats file is the engine's status plus the counters of
the controllers (OSC in and out, MIDI, the glove).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from performer.engine_like import EngineLike

WIDTH = 79
"""Columns of the status line: one less than an 80-column terminal, so the cursor never wraps."""


def terminal_width(stream: Any = None) -> int:
    """The status line's width on ``stream`` (stderr): at most :data:`WIDTH`, narrower terminals get less."""
    columns = 0
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        pass
    if columns <= 0:
        try:
            columns = os.get_terminal_size((stream or sys.stderr).fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
    if columns <= 0:  # unknown (a pseudo-terminal without a size, a pipe): assume 80
        columns = WIDTH + 1
    return max(20, min(WIDTH, columns - 1))


def status_line(s: dict[str, Any], width: int = WIDTH) -> str:
    """One line of the engine's :meth:`~performer.engine.Engine.status`, at most ``width`` characters."""
    if s.get("state") not in (None, "running"):
        return f"{s['state']}..."[:width]
    fps = f"out {float(s.get('fps') or 0.0):.1f} fps"
    level = f"{s['level_db']:.0f} dB" if s.get("level_db") is not None else "- dB"
    name = str(s["top_class"]) if s.get("top_class") else ""
    confidence = f" {float(s.get('confidence') or 0.0):.2f}" if name else ""
    # (priority, text): lower priority goes first when the line is too long; the order here is the display order.
    fields: list[tuple[int, str]] = [
        (9, fps), (8, "CLASS"), (7, level),
        (1, f"classify {float(s.get('classify_ms') or 0.0):.0f} ms"),
        (3, f"skipped hops {int(s.get('skipped_hops') or 0)}"),
    ]
    age = s.get("dream_frame_age_s")
    if age is not None and stalled(float(age), float(s.get("frame_ms") or 0.0)):
        fields.insert(1, (6, f"last dream {float(age):.0f} s ago"))  # a frame taking long: its rate is stale
    elif s.get("dream_fps") is not None:  # the dream's own rate beside the output's: below it on a small machine
        fields.insert(1, (6, f"dream {float(s['dream_fps']):.1f} fps"))
    if s.get("dropped_audio_blocks"):  # audio lost at the input: rare, so shown only once it happens
        fields.append((5, f"dropped blocks {int(s['dropped_audio_blocks'])}"))
    if s.get("input_lost"):
        fields.append((10, "INPUT LOST"))
    if s.get("glove_fist") is not None:  # a glove is sending: how closed the hand is, 0 open .. 1 fist
        fields.append((2, f"glove fist {float(s['glove_fist']):.2f}"))
    if s.get("render_errors"):
        fields.append((4, f"frame errors {int(s['render_errors'])}"))
    sep = " | "

    def join(parts: list[tuple[int, str]], cls: str) -> str:
        return sep.join(cls if text == "CLASS" else text for _, text in parts)

    full = (name or "-") + confidence
    kept = list(fields)
    while len(join(kept, full)) > width and any(p < 7 for p, _ in kept):
        kept.remove(min((f for f in kept if f[0] < 7), key=lambda f: f[0]))
    line = join(kept, full)
    if len(line) > width and name:  # shorten the class name, keep its confidence
        room = max(1, len(name) - (len(line) - width))
        line = join(kept, name[:room] + confidence)
    return line[:width]


def stalled(age_s: float, frame_ms: float) -> bool:
    """The dream is stalled on a frame: its newest frame is over 2 s old and over twice as old as the last frame
    took (the engine's rule too, ``Engine._dream_rate``)."""
    return age_s > 2.0 and age_s > 2.0 * frame_ms / 1000.0


def live_status(engine: EngineLike, controls: Any) -> dict[str, Any]:
    """The engine's status plus what the status line shows of the controllers (the glove's fist)."""
    s = engine.status()
    glove = getattr(controls, "glove", None)
    if glove is not None and int(getattr(glove, "samples", 0)) > 0:
        s["glove_fist"] = glove.values().get("glove.fist")
    return s


def control_stats(controls: Any) -> dict[str, Any]:
    """The counters of the controllers that are running (absent ones are left out)."""
    out: dict[str, Any] = {}
    osc, sender = getattr(controls, "osc", None), getattr(controls, "sender", None)
    if osc is not None:
        out["osc_in"] = {"port": getattr(osc, "port", None), "received": int(getattr(osc, "received", 0)),
                         "errors": dict(getattr(osc, "errors", {}))}
    if sender is not None:
        out["osc_out"] = {"destinations": [f"{h}:{p}" for h, p in getattr(sender, "destinations", [])],
                          "sent_packets": int(getattr(sender, "sent", 0)),
                          "dropped_events": int(getattr(sender, "dropped_events", 0)),
                          "coalesced_changes": int(getattr(sender, "coalesced", 0)),
                          "refused_destinations": int(getattr(sender, "refused_destinations", 0))}
    if hasattr(controls, "preset_errors"):
        out["preset_command_errors"] = int(controls.preset_errors)
    midi = getattr(controls, "midi", None)
    if midi is not None:
        st = midi.stats
        out["midi"] = {"system": getattr(st, "backend", ""), "ports": list(st.ports), "messages": st.messages,
                       "applied": st.applied, "waiting_for_pickup": st.waiting_for_pickup, "unmapped": st.unmapped,
                       "errors": st.errors,
                       "learn_armed": getattr(midi, "armed", None)}
    glove = getattr(controls, "glove", None)
    if glove is not None and hasattr(glove, "stats"):
        g = glove.stats()
        serial = getattr(controls, "serial_glove", None)
        if serial is not None:
            g = {"port": serial.port, "connected": bool(serial.connected), **g}
        out["glove"] = g
    return out


def stats_document(engine: EngineLike, controls: Any) -> dict[str, Any]:
    return {**engine.status(), "control": control_stats(controls)}


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically (a reader never sees half a file); creates the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str))
    tmp.replace(path)
