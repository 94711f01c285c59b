"""The shipped presets: each one checks clean and does what its description promises."""

from __future__ import annotations

import pytest

from conftest import PORTS_READY, REPO, wait_until
from performer.control.midi import CCMap
from performer.mapping import ModMatrix
from performer.params import REGISTRY, ParamStore
from performer.presets import apply_preset, check_preset, load_preset

PRESETS = REPO / "presets"
SHIPPED = sorted(PRESETS.glob("*.toml"))
REQUIRED = ("default", "paper", "club", "installation", "midi-nanokontrol2", "glove")


def test_the_promised_presets_are_shipped():
    assert set(REQUIRED) <= {p.stem for p in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_preset_checks_clean_and_recalls(path):
    assert check_preset(path) == []
    preset = load_preset(path)
    assert preset.name == path.stem
    assert preset.description.strip(), f"{path.name} needs a description"
    store = ParamStore()
    apply_preset(store, preset)
    for name, value in preset.params.items():
        assert store.target(name) == value
    ModMatrix(preset.routes)  # every route builds
    for cc in preset.midi.get("cc", []):
        CCMap.from_dict(cc)


def test_preset_check_command(cli):
    proc = cli("preset", "check", *map(str, SHIPPED), timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_paper_reproduces_table1_scenario():
    p = load_preset(PRESETS / "paper.toml")
    v = p.values()
    assert v["classifier.window"] == 4.0
    assert v["dream.octaves"] == 1
    assert len([x for x in v["dream.layers"].split(",") if x]) == 1
    assert (v["dream.width"], v["dream.height"]) in ((200, 200), (400, 400))
    assert v["dream.seed"] == "class_image"
    assert not p.routes and v["mapping.enabled"] is False
    # No photographs ship: no class names an image (the seed falls back to noise), and the file says why.
    assert all("image" not in spec for spec in p.classes.values())
    assert "image =" in (PRESETS / "paper.toml").read_text()


def test_club_is_fast_and_modulated_with_ndi_and_preview():
    p = load_preset(PRESETS / "club.toml")
    v = p.values()
    assert v["classifier.window"] == 0.5
    assert v["dream.crossfade"] <= 0.5
    sources = {r.source for r in p.routes}
    targets = {r.target for r in p.routes}
    assert {"onset", "level", "centroid"} <= sources
    assert {"dream.zoom", "dream.lr", "dream.rotate"} <= targets
    types = {spec["type"] for spec in p.outputs.values() if spec.get("enabled", True)}
    assert {"ndi", "preview"} <= types


def test_installation_is_slow():
    default = load_preset(PRESETS / "default.toml").values()
    v = load_preset(PRESETS / "installation.toml").values()
    for name in ("classifier.window", "classifier.smoothing", "classifier.hold", "dream.crossfade"):
        assert v[name] > default[name], name
    assert 1.0 < v["dream.zoom"] < 1.01  # slow endless zoom


def test_nanokontrol2_layout():
    p = load_preset(PRESETS / "midi-nanokontrol2.toml")
    assert "nanoKONTROL2" in p.midi["input"] and "nanoKONTROL2" in p.midi["output"] and p.midi["feedback"]
    maps = p.midi["cc"]
    ccs = [m["cc"] for m in maps]
    assert len(ccs) == len(set(ccs)), "a CC is mapped twice"
    assert set(range(8)) <= set(ccs) and set(range(16, 24)) <= set(ccs)  # every fader and knob
    for m in maps:
        assert m["cc"] in range(8) or m["cc"] in range(16, 24) or m["cc"] in range(32, 40) \
            or m["cc"] in range(48, 56) or m["cc"] in range(64, 72), m
        continuous = m["cc"] < 24
        assert m["takeover"] is continuous, f"{m['param']}: takeover on faders and knobs only"
    params = {m["param"] for m in maps}
    assert {"dream.lr", "dream.iterations", "dream.zoom", "dream.rotate", "mapping.depth"} <= params
    assert all(m["param"] in REGISTRY for m in maps)


def test_glove_preset():
    p = load_preset(PRESETS / "glove.toml")
    assert p.glove["fingers"] == 5
    by_source = {}
    for r in p.routes:
        by_source.setdefault(r.source, set()).add(r.target)
    assert "dream.lr" in by_source["glove.fist"]
    assert {"dream.zoom", "dream.rotate"} <= set().union(*(by_source.get(f"glove.{i}", set()) for i in range(1, 6)))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_preset_layers_and_outputs_build(path):
    from performer.dream.layers import parse_layers
    from performer.outputs import build_outputs

    v = load_preset(path).values()
    assert parse_layers(v["dream.layers"], v["dream.network"])  # names layers of its own network
    preset = load_preset(path)
    outputs = build_outputs(preset)  # constructs only; nothing opens
    enabled = [k for k, spec in preset.outputs.items() if spec.get("enabled", True)]
    assert sorted(o.name for o in outputs) == sorted(enabled)


@pytest.mark.jack
def test_nanokontrol2_preset_on_a_real_midi_port(jack_server, monkeypatch):
    """A stand-in nanoKONTROL2 on JACK MIDI: soft takeover on a fader, a momentary button, LED feedback."""
    import time

    import mido

    from performer.control.midi import MidiController

    backend = "mido.backends.rtmidi/UNIX_JACK"
    monkeypatch.setenv("MIDO_BACKEND", backend)
    mido.set_backend(backend, load=True)


    preset = load_preset(PRESETS / "midi-nanokontrol2.toml")
    store = ParamStore()
    apply_preset(store, preset)
    device = mido.open_output("nanoKONTROL2 SLIDER/KNOB", virtual=True, client_name="nanoKONTROL2")
    leds = mido.open_input("nanoKONTROL2 CTRL", virtual=True, client_name="nanoKONTROL2-leds")
    midi = MidiController(store, preset.midi, poll=0.2)
    midi.start()
    try:
        assert wait_until(lambda: midi.stats.ports and midi._output is not None, PORTS_READY), (
            midi.stats, mido.get_output_names())
        time.sleep(0.1)

        def cc(control, value):
            device.send(mido.Message("control_change", channel=0, control=control, value=value))

        lr = store.target("dream.lr")
        cc(0, 120)  # fader 1 far from dream.lr: soft takeover ignores it
        assert wait_until(lambda: midi.stats.waiting_for_pickup >= 1)
        assert store.target("dream.lr") == lr
        cc(0, 5)    # sweeps past the current value: picked up
        cc(0, 127)
        assert wait_until(lambda: store.target("dream.lr") == pytest.approx(0.2))
        cc(33, 127)  # S2 held: the class freezes
        assert wait_until(lambda: store.target("classifier.lock") is True)
        cc(33, 0)
        assert wait_until(lambda: store.target("classifier.lock") is False)
        while leds.poll() is not None:  # forget feedback so far
            pass
        store.set("output.layout", "composite", source="osc")  # R1's LED follows a change from elsewhere
        got = []
        assert wait_until(lambda: got.extend(m for m in leds.iter_pending()) or any(
            m.type == "control_change" and m.control == 64 and m.value == 127 for m in got)), got
    finally:
        midi.stop()
        device.close()
        leds.close()
        mido.set_backend(None)


def test_glove_preset_moves_the_dream():
    from performer.control.glove import Glove

    preset = load_preset(PRESETS / "glove.toml")
    base = preset.values()
    sources: dict[str, float] = {}
    glove = Glove(sources, fingers=preset.glove["fingers"], smoothing=0.0)
    matrix = ModMatrix(preset.routes)
    glove.feed([0.0] * 5)  # open hand: the dream is as the preset set it
    open_hand = matrix.apply(base, sources, dt=1.0)
    assert open_hand["dream.lr"] == pytest.approx(base["dream.lr"], rel=0.05)
    assert open_hand["dream.zoom"] == pytest.approx(base["dream.zoom"])
    glove.feed([1023.0, 1023.0, 0.0, 0.0, 0.0])  # thumb and index bent
    bent = ModMatrix(preset.routes).apply(base, sources, dt=1.0)
    assert bent["dream.rotate"] > base["dream.rotate"] and bent["dream.zoom"] > base["dream.zoom"]
    glove.feed([1023.0] * 5)  # a fist: more intense
    fist = ModMatrix(preset.routes).apply(base, sources, dt=1.0)
    assert fist["dream.lr"] > 2 * base["dream.lr"] and fist["dream.iterations"] > base["dream.iterations"]
