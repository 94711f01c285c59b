"""Presets: round trip, every kind of bad preset, diff, recall, and the shipped presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from performer.errors import ParamTypeError, PresetError
from performer.mapping import Route
from performer.params import ParamStore
from performer.presets import (
    Preset,
    apply_preset,
    check_preset,
    diff_presets,
    find_preset,
    load_preset,
    preset_from_store,
    save_preset,
)
from performer.resources import presets_dir


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_round_trip_keeps_everything(tmp_path):
    preset = Preset(
        name="club",
        description="fast",
        params={"dream.iterations": 4, "dream.network": "efficientnet_lite0", "classifier.lock": True,
                "audio.gain": -3.5},
        routes=[Route("level", "dream.lr", 0.3, "smooth", (-40.0, -5.0), 0.2), Route("prob.siren", "dream.zoom", -0.1)],
        midi={"input": "nanoKONTROL", "cc": [{"param": "dream.lr", "cc": 14, "channel": 1, "bits": 7}]},
        glove={"port": "/dev/ttyACM0", "baud": 115200, "fingers": 5},
        osc={"port": 9000, "destinations": [{"host": "127.0.0.1", "port": 7000}]},
        classes={"dog_bark": {"image": "dog.jpg", "guide": [207, 208]}},
        outputs={"main": {"type": "ndi", "name": "Performer", "layout": "composite"}},
    )
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "dog.jpg")  # a class image must exist
    path = save_preset(preset, tmp_path / "club.toml")
    loaded = load_preset(path)
    assert loaded.params == preset.params
    assert loaded.routes == preset.routes
    assert (loaded.midi, loaded.glove, loaded.osc, loaded.classes, loaded.outputs) == (
        preset.midi, preset.glove, preset.osc, preset.classes, preset.outputs)
    assert diff_presets(preset, loaded) == []
    assert loaded.resolve("dog.jpg") == tmp_path / "dog.jpg"


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, """
name = "broken"
colour = "blue"
[params.dream]
iterations = 99
iteration = 3
network = "alexnet"
lr = "fast"
restart = 1
[params.classifier]
window = 0.1
[[mapping.routes]]
source = "loudness"
target = "dream.network"
depth = 9
[[mapping.routes]]
target = "dream.lr"
[midi]
cc = [{param = "dream.lr", cc = 300}]
[classes.dog_bark]
guide = [207, 5000]
imagee = "dog.jpg"
[outputs.main]
type = "hologram"
""")
    problems = check_preset(path)
    by_key = {p.key: p for p in problems}
    expected = {
        "colour", "params.dream.iterations", "params.dream.iteration", "params.dream.network", "params.dream.lr",
        "params.dream.restart", "params.classifier.window", "mapping.routes[0].source", "mapping.routes[0].target",
        "mapping.routes[0].depth", "mapping.routes[1].source", "midi.cc[0].cc", "classes.dog_bark.guide",
        "classes.dog_bark.imagee", "outputs.main.type",
    }
    assert expected <= set(by_key), sorted(set(by_key))
    # each problem names the file, the key, the value and what is allowed
    it = by_key["params.dream.iterations"]
    assert it.file == str(path) and it.value == 99 and "[1, 20]" in it.allowed
    assert "did you mean dream.iterations" in by_key["params.dream.iteration"].allowed
    assert "efficientnet_lite0" in by_key["params.dream.network"].allowed
    assert "only those can be modulated" in by_key["mapping.routes[0].target"].allowed
    assert by_key["mapping.routes[1].source"].allowed == "required"
    assert "image" in by_key["classes.dog_bark.imagee"].allowed
    line = str(by_key["params.dream.iterations"])
    assert str(path) in line and "params.dream.iterations = 99" in line
    with pytest.raises(PresetError) as e:
        load_preset(path)
    assert len(e.value.problems) == len(problems)


def test_syntax_errors_and_missing_files_are_clear(tmp_path):
    bad = write(tmp_path, "[params.dream\niterations = 3\n")
    [problem] = check_preset(bad)
    assert problem.key == "(syntax)" and "valid TOML" in problem.allowed
    with pytest.raises(PresetError, match="not valid TOML"):
        load_preset(bad)
    with pytest.raises(PresetError, match="does not exist"):
        load_preset(tmp_path / "nope.toml")
    with pytest.raises(PresetError, match="no preset named"):
        find_preset("no-such-preset")
    assert check_preset(write(tmp_path, 'format = 7\n'))[0].key == "format"
    assert check_preset(write(tmp_path, '[params]\ndream = 3\n'))[0].key == "params.dream"


def test_recall_sets_named_values_and_resets_the_rest(tmp_path):
    store = ParamStore()
    store.set("dream.octaves", 5)
    preset = Preset(name="p", params={"dream.iterations": 7})
    apply_preset(store, preset)
    assert store.target("dream.iterations") == 7
    assert store.target("dream.octaves") == 1  # not in the preset: back to its default


def test_a_bad_preset_at_run_time_keeps_the_current_state(tmp_path):
    store = ParamStore()
    store.set("dream.iterations", 5)
    before = dict(store.snapshot())
    with pytest.raises(PresetError):
        load_preset(write(tmp_path, "[params.dream]\niterations = 'x'\n"))
    # A preset object built in code that bypassed checking still cannot half-apply.
    with pytest.raises(ParamTypeError):
        apply_preset(store, Preset(name="bad", params={"dream.octaves": 2, "dream.lr": "x"}))
    assert dict(store.snapshot()) == before


def test_preset_from_store_and_diff():
    store = ParamStore()
    store.set("dream.iterations", 9)
    a = Preset(name="a")
    b = preset_from_store(store, "b")
    rows = diff_presets(a, b)
    assert ("params.dream.iterations", 2, 9) in rows
    assert all(k.startswith("params.") for k, _, _ in rows)


def test_shipped_presets_are_valid():
    paths = sorted(presets_dir().glob("*.toml"))
    assert any(p.name == "default.toml" for p in paths)
    for path in paths:
        assert check_preset(path) == [], path
    default = load_preset(find_preset("default"))
    assert default.routes and default.classes
    assert all(0 <= i <= 999 for spec in default.classes.values() for i in spec.get("guide", []))


def test_default_preset_guides_are_the_renderers_defaults():
    from performer.dream import DEFAULT_CLASS_GUIDES

    default = load_preset(find_preset("default"))
    assert {c: tuple(spec["guide"]) for c, spec in default.classes.items()} == DEFAULT_CLASS_GUIDES


def test_recall_keeps_the_rigs_tempo_and_osc_settings_unless_the_preset_names_them():
    store = ParamStore()
    store.set("tempo.source", "link")  # the show runs on Ableton Link, from a MIDI input with latency compensation
    store.set("tempo.midi_input", "nanoKONTROL2")
    store.set("tempo.latency", 0.04)
    store.set("control.osc_out_rate", 60.0)
    store.set("dream.octaves", 5)
    apply_preset(store, Preset(name="song-2", params={"dream.iterations": 3}))
    assert store.target("dream.octaves") == 1  # the picture's parameters: back to their defaults
    assert store.target("tempo.source") == "link"  # the rig's: as they were
    assert store.target("tempo.midi_input") == "nanoKONTROL2"
    assert store.target("tempo.latency") == 0.04
    assert store.target("control.osc_out_rate") == 60.0
    apply_preset(store, Preset(name="tapped", params={"tempo.source": "tap", "tempo.bpm": 90.0}))
    assert store.target("tempo.source") == "tap" and store.target("tempo.bpm") == 90.0  # named: applied
    assert store.target("tempo.midi_input") == "nanoKONTROL2"


def test_a_preset_carries_its_own_launch_quantize(tmp_path):
    """Issue #23 item 5: ``quantize = "bar"`` is the preset's (kept on save), a wrong one is named with what is
    allowed; the engine asks the tempo for it (tests/engine/test_quantise.py)."""
    p = load_preset(write(tmp_path, 'name = "drop"\nquantize = "bar"\n'))
    assert p.quantize == "bar"
    save_preset(p, tmp_path / "again.toml")
    assert load_preset(tmp_path / "again.toml").quantize == "bar"
    assert load_preset(write(tmp_path, 'name = "plain"\n', "plain.toml")).quantize is None
    with pytest.raises(PresetError, match=r"quantize.*'bars'.*one of off, beat, bar"):
        load_preset(write(tmp_path, 'quantize = "bars"\n', "bad.toml"))
