"""The preview page's engine panel, as a person reads it: labelled rows (engine state, frames per second, the
sound's class, drops, errors) and a table of the outputs by name (state, fps, sent, dropped, skipped, errors).

Built here from the engine's status so the page only lays it out; a status missing keys or holding odd values
still gives a panel (a value it cannot read shows as "-"), and keys it does not know are shown as plain rows.
"""

from __future__ import annotations

import math
from typing import Any

from performer.sound.labels import is_none

DASH = "-"
OUTPUT_COLUMNS = ("output", "state", "fps", "sent", "dropped", "skipped", "errors")
OUTPUT_HEADERS = ("Output", "State", "fps", "Sent", "Dropped", "Skipped", "Errors")
_KNOWN = {"uptime_s", "preset", "input", "input_lost", "input_error", "audio_blocks", "dropped_audio_blocks", "fps",
          "frames", "frame_ms", "render_errors", "classify_ms", "analysis_latency_ms", "hops", "skipped_hops",
          "class_changes", "new_sounds", "fast_switches", "analysis_errors", "top_class", "confidence", "level_db",
          "outputs", "state", "warmup_s", "fps_p5", "late_ticks", "dream_fps", "dream_size", "dream_frames", "video",
          "dream_class", "dream_frame_age_s", "tempo"}
TEMPO_SOURCES = {"audio": "from the sound", "tap": "tap tempo", "midi": "MIDI clock", "link": "Ableton Link"}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def num(v: Any, digits: int = 0) -> str:
    """A number with ``digits`` decimals (whole numbers as they are), or "-" when it is not one."""
    x = _number(v)
    if x is None:
        return DASH
    if isinstance(v, int) and digits == 0:
        return str(v)
    return f"{x:.{digits}f}"


def count(v: Any) -> int:
    x = _number(v)
    return int(x) if x is not None else 0


def duration(seconds: Any) -> str:
    """``12 s``, ``3 min 04 s``, ``2 h 05 min``."""
    x = _number(seconds)
    if x is None or x < 0:
        return DASH
    s = int(x)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def plain(v: Any) -> str:
    """Any status value as words: lists joined with commas, mappings as ``key value`` pairs, no braces."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return num(v, 0 if isinstance(v, int) else 2)
    if isinstance(v, dict):
        return ", ".join(f"{str(k).replace('_', ' ')} {plain(x)}" for k, x in v.items()) or DASH
    if isinstance(v, (list, tuple)):
        return ", ".join(plain(x) for x in v) or DASH
    return str(v)


def many(v: Any, word: str, plural: str | None = None) -> str:
    """``1 hop``, ``3 hops``, ``- hops``."""
    return f"{num(v)} {word if _number(v) == 1 else plural or word + 's'}"


def _row(label: str, value: str, warn: bool = False) -> dict[str, Any]:
    return {"label": label, "value": value, "warn": bool(warn)}


def _joined(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _output_rows(outputs: Any) -> list[dict[str, Any]]:
    rows = []
    for name, o in (outputs.items() if isinstance(outputs, dict) else ()):
        o = o if isinstance(o, dict) else {}
        error = o.get("error")
        rows.append({"output": str(name), "state": plain(o.get("state")), "fps": num(o.get("fps"), 1),
                     "sent": num(o.get("sent")), "dropped": num(o.get("dropped")), "skipped": num(o.get("skipped")),
                     "errors": num(o.get("errors")), "error": None if error in (None, "") else str(error),
                     "warn": count(o.get("errors")) > 0 or o.get("state") in ("failed", "error")})
    return rows


def stalled(age: Any, frame_ms: Any) -> bool:
    """The dream is stalled on a frame: its newest frame is over 2 s old and over twice as old as the last frame
    took (the engine's rule, ``Engine._dream_rate``)."""
    a, ms = _number(age), _number(frame_ms) or 0.0
    return a is not None and a > 2.0 and a > 2.0 * ms / 1000.0


def tempo_row(t: Any) -> dict[str, Any]:
    """The beat in words: where it comes from, its BPM (or that there is none yet) and what the source says."""
    if not isinstance(t, dict):
        return _row("Tempo", DASH)
    source = t.get("source")
    bpm = _number(t.get("bpm"))
    parts = [TEMPO_SOURCES.get(str(source), plain(source)),
             f"{bpm:.1f} BPM" if bpm and t.get("running", True) else "no beat yet"]
    found = t.get(str(source))
    detail: dict[str, Any] = found if isinstance(found, dict) else {}
    warn = False
    if source == "audio" and bpm:
        parts.append("locked on" if detail.get("locked") else f"unsure (salience {num(detail.get('salience'), 2)})")
    elif source == "tap" and count(detail.get("taps")):
        parts.append(many(detail.get("taps"), "tap"))
    elif source == "midi":
        ports = [str(p) for p in detail.get("ports") or [] if p]
        if detail.get("following"):
            parts += ["playing" if detail.get("playing") else "stopped", f"from {detail['following']}"]
        elif ports:
            parts.append(f"no clock from {', '.join(ports)}")
        else:
            parts.append("no MIDI input")
        if detail.get("error"):
            parts.append(str(detail["error"]))
            warn = True
    elif source == "link":
        parts.append(many(detail.get("peers"), "peer") if detail.get("enabled", True) else "off")
    if count(t.get("errors")):
        parts.append(many(t.get("errors"), "error"))
        warn = True
    return _row("Tempo", _joined(*parts), warn)


def engine_panel(status: Any, frame: int | None = None, level_db: float | None = None) -> dict[str, Any]:
    """``{"rows": [{"label", "value", "warn"}], "outputs": [{output, state, fps, sent, ..., error, warn}]}``."""
    s = status if isinstance(status, dict) else {}
    rows = []
    lost = bool(s.get("input_lost"))
    if not s:
        state = "waiting for the engine"
    else:
        state = _joined(plain(s.get("state", "running")) + (", input lost" if lost else ""),
                        f"up {duration(s['uptime_s'])}" if "uptime_s" in s else "",
                        f"warmed up in {num(s['warmup_s'], 1)} s" if _number(s.get("warmup_s")) else "")
    rows.append(_row("Engine", state, lost))
    if "preset" in s:
        rows.append(_row("Preset", plain(s["preset"])))
    if "input" in s:
        rows.append(_row("Input", _joined(plain(s["input"]), "lost" if lost else ""), lost))
    dream = "dream_fps" in s  # the engine reports its output clock and the renderer apart
    late = count(s.get("late_ticks"))
    rows.append(_row("Frames", _joined(f"{num(s.get('fps'), 1)} fps",
                                       f"slowest 5% {num(s['fps_p5'], 1)} fps" if "fps_p5" in s else "",
                                       f"{num(s.get('frame_ms'), 1)} ms a frame" if "frame_ms" in s and not dream
                                       else "",
                                       f"frame {num(frame)}" if frame is not None else "",
                                       many(late, "late tick") if late else "")))
    if dream:
        size = s.get("dream_size")
        stuck = stalled(s.get("dream_frame_age_s"), s.get("frame_ms"))  # a red line: the picture stands still
        rows.append(_row("Dream", _joined(f"last frame {num(s.get('dream_frame_age_s'))} s ago" if stuck else
                                          f"{num(s.get('dream_fps'), 1)} fps",
                                          f"{num(s.get('frame_ms'), 1)} ms a frame" if "frame_ms" in s else "",
                                          "×".join(plain(v) for v in size) if isinstance(size, (list, tuple)) else "",
                                          many(s.get("dream_frames"), "frame") if "dream_frames" in s else ""),
                         stuck))
    top = s.get("top_class")
    level = level_db if level_db is not None else s.get("level_db")
    held = s.get("dream_class") if is_none(top) else None  # "none of these": the dream holds its class
    rows.append(_row("Sound", _joined(str(top).replace("_", " ") if top else "listening",
                                      f"confidence {num(s.get('confidence'), 2)}" if top else "",
                                      f"the dream holds {str(held).replace('_', ' ')}" if held else "",
                                      f"{num(level, 1)} dB" if level is not None else "")))
    if "classify_ms" in s or "hops" in s:
        rows.append(_row("Analysis", _joined(f"classify {num(s.get('classify_ms'), 1)} ms",
                                             f"latency {num(s.get('analysis_latency_ms'), 1)} ms",
                                             many(s.get("hops"), "hop"))))
    if any(k in s for k in ("class_changes", "new_sounds", "fast_switches")):
        rows.append(_row("Events", _joined(many(s.get("class_changes"), "class change"),
                                           many(s.get("new_sounds"), "new sound"),
                                           many(s.get("fast_switches"), "fast switch", "fast switches"))))
    audio_drops, hop_drops = count(s.get("dropped_audio_blocks")), count(s.get("skipped_hops"))
    if "dropped_audio_blocks" in s or "skipped_hops" in s:
        rows.append(_row("Drops", f"{many(audio_drops, 'audio block')} · {many(hop_drops, 'analysis hop')}",
                         audio_drops > 0))  # lost sound is worth a red line; a skipped hop is routine
    errors = [f"render {count(s.get('render_errors'))}" if count(s.get("render_errors")) else "",
              f"analysis {count(s.get('analysis_errors'))}" if count(s.get("analysis_errors")) else "",
              f"input: {s['input_error']}" if s.get("input_error") else ""]
    rows.append(_row("Errors", _joined(*errors) or "none", any(errors)))
    if "tempo" in s:
        rows.append(tempo_row(s["tempo"]))
    if s.get("video") is not None:
        rows.append(_row("Video", plain(s["video"])))
    for key in sorted(k for k in s if k not in _KNOWN):
        rows.append(_row(str(key).replace("_", " ").capitalize(), plain(s[key])))
    return {"rows": rows, "outputs": _output_rows(s.get("outputs")), "columns": list(OUTPUT_COLUMNS),
            "headers": list(OUTPUT_HEADERS)}
