"""The preview's engine panel as a person reads it: the tempo in words (not a dump of the tempo's status) and a
dream that is stalled on a frame shown by the frame's age."""

from __future__ import annotations

import pytest

from performer.outputs.preview.panel import engine_panel

AUDIO_TEMPO = {"source": "audio", "bpm": None, "running": False, "errors": 0, "source_refused": 0,
               "audio": {"locked": False, "bpm": None, "salience": 0.0, "tempo_changes": 0, "gaps": 0},
               "tap": {"taps": 0, "ignored": 0},
               "midi": {"clocks": 0, "playing": False, "ports": [], "following": "", "error": ""}}


def rows(status: dict) -> dict[str, tuple[str, bool]]:
    return {r["label"]: (r["value"], r["warn"]) for r in engine_panel(status)["rows"]}


def tempo(**kw) -> dict:
    t = {k: (dict(v) if isinstance(v, dict) else v) for k, v in AUDIO_TEMPO.items()}
    for k, v in kw.items():
        if isinstance(v, dict) and k in t:
            t[k].update(v)
        else:
            t[k] = v
    return t


@pytest.mark.parametrize("t, shown", [
    (tempo(), "from the sound · no beat yet"),
    (tempo(bpm=123.96, running=True, audio={"locked": True, "bpm": 123.96, "salience": 0.41}),
     "from the sound · 124.0 BPM · locked on"),
    (tempo(bpm=118.0, running=True, audio={"locked": False, "bpm": 118.0, "salience": 0.12}),
     "from the sound · 118.0 BPM · unsure (salience 0.12)"),
    (tempo(source="tap", bpm=96.0, running=True, tap={"taps": 7, "ignored": 1}), "tap tempo · 96.0 BPM · 7 taps"),
    (tempo(source="midi", midi={"ports": ["nanoKONTROL2", "Digitakt"], "following": ""}),
     "MIDI clock · no beat yet · no clock from nanoKONTROL2, Digitakt"),
    (tempo(source="midi", bpm=120.0, running=True, midi={"clocks": 960, "playing": True, "ports": ["Digitakt"],
                                                         "following": "Digitakt"}),
     "MIDI clock · 120.0 BPM · playing · from Digitakt"),
    (tempo(source="link", bpm=128.0, running=True, link={"enabled": True, "peers": 2}),
     "Ableton Link · 128.0 BPM · 2 peers"),
])
def test_the_tempo_reads_as_words(t, shown):
    value, warn = rows({"tempo": t})["Tempo"]
    assert value == shown and not warn
    assert not any(c in value for c in "{}[]:") and "salience 0.0" not in value.replace("(salience 0.12)", "")


def test_tempo_errors_and_a_midi_port_problem_are_red():
    value, warn = rows({"tempo": tempo(source="midi", errors=2, midi={"error": "no MIDI backend"})})["Tempo"]
    assert warn and "2 errors" in value and "no MIDI backend" in value


def test_an_odd_tempo_status_still_gives_a_row():
    assert rows({"tempo": {"source": "future", "bpm": "fast"}})["Tempo"][0] == "future · no beat yet"
    assert rows({"tempo": None})["Tempo"] == ("-", False)


def test_a_stalled_dream_shows_the_age_of_its_last_frame():
    flowing = rows({"dream_fps": 3.04, "frame_ms": 310.0, "dream_frame_age_s": 0.2, "dream_frames": 40})["Dream"]
    assert flowing == ("3.0 fps · 310.0 ms a frame · 40 frames", False)
    value, warn = rows({"dream_fps": 0.02, "frame_ms": 310.0, "dream_frame_age_s": 44.3, "dream_frames": 40})["Dream"]
    assert value.startswith("last frame 44 s ago") and warn, value
    assert "Dream frame age s" not in rows({"dream_fps": 3.0, "dream_frame_age_s": 0.1})  # not shown as a raw key
