"""The A/B crossfader between two presets, and what controllers show while a morph glides (GlideFollow)."""

from __future__ import annotations

import logging

import pytest

from conftest import PORTS_READY, wait_until
from performer.errors import PresetError
from performer.params import Change, ParamStore
from performer.params.glides import GlideFollow
from performer.presets import Preset, apply_preset, load_preset, preset_from_store, save_preset
from performer.presets.crossfader import Crossfader, mix_presets
from performer.presets.morph import Morph

A = Preset("a", params={"dream.zoom": 1.0, "dream.lr": 0.02, "dream.iterations": 2, "dream.grad_norm": "mean_abs",
                        "dream.decorrelate": True, "dream.width": 320, "tempo.bpm": 100.0})
B = Preset("b", params={"dream.zoom": 1.2, "dream.lr": 0.1, "dream.iterations": 9, "dream.grad_norm": "std",
                        "dream.decorrelate": False, "dream.width": 640, "tempo.bpm": 140.0, "tempo.latency": 40.0})


class Clock:
    def __init__(self) -> None:
        self.t = 10.0

    def __call__(self) -> float:
        return self.t


def test_the_midpoint_mixes_two_presets_values():
    store = ParamStore()
    mid = mix_presets(A, B, 0.5, store)
    assert mid["dream.zoom"] == pytest.approx(1.1) and mid["dream.lr"] == pytest.approx(0.06)
    assert mid["dream.iterations"] == 6  # 5.5, rounded (half to even)
    assert mid["dream.grad_norm"] == "std" and mid["dream.decorrelate"] is False  # B's from 0.5 on
    assert mid["dream.width"] == 640  # the frame size switches, as in a morph
    assert mid["tempo.bpm"] == pytest.approx(120.0)  # the rig: both presets name it
    assert "tempo.latency" not in mid  # only B names it: left as it runs
    assert "crossfader.position" not in mid and "crossfader.a" not in mid
    assert mix_presets(A, B, 0.0, store)["dream.zoom"] == 1.0 and mix_presets(A, B, 1.0, store)["dream.zoom"] == 1.2
    quarter = mix_presets(A, B, 0.25, store)
    assert quarter["dream.zoom"] == pytest.approx(1.05) and quarter["dream.grad_norm"] == "mean_abs"
    assert quarter["dream.width"] == 320
    # a parameter neither names mixes their defaults: the same value at any position, as a recall gives
    assert quarter["dream.octaves"] == store.registry.get("dream.octaves").default


def folder_with(tmp_path, *presets: Preset):
    for p in presets:
        save_preset(p, tmp_path / f"{p.name}.toml")

    def find(name: str):
        path = tmp_path / f"{name}.toml"
        if not path.exists():
            raise PresetError(f"no preset named {name!r} in {tmp_path}")
        return path
    return find


def test_only_a_move_of_the_fader_applies_and_a_hand_takes_over(tmp_path):
    store = ParamStore()
    errors = []
    fader = Crossfader(store, folder_with(tmp_path, A, B), load_preset, on_error=lambda *e: errors.append(e))
    try:
        store.set("crossfader.position", 0.5)  # no ends yet: nothing happens
        assert store.get("dream.zoom") == 1.0 and fader.moves == 0
        store.set("crossfader.a", "a")
        store.set("crossfader.b", "b")
        assert wait_until(lambda: fader.ends["crossfader.a"] is not None and fader.ends["crossfader.b"] is not None)
        assert store.get("dream.iterations") == 2  # naming the ends changed nothing
        fader.move(0.5)
        assert store.get("dream.zoom") == pytest.approx(1.1) and store.get("dream.iterations") == 6
        store.set("dream.zoom", 1.15, source="osc")  # a hand on another control keeps it...
        assert store.get("dream.zoom") == pytest.approx(1.15, abs=0.05)
        fader.move(1.0)  # ...until the fader moves
        assert store.target("dream.zoom") == pytest.approx(1.2)
    finally:
        fader.stop()
    assert errors == []


def test_a_bad_end_is_refused_in_one_line_and_set_back(tmp_path, caplog):
    store = ParamStore()
    errors = []
    bad = tmp_path / "broken.toml"
    bad.write_text("[params.dream]\nzoom = 'fast'\n")
    find = folder_with(tmp_path, A)

    def finder(name):
        return bad if name == "broken" else find(name)

    fader = Crossfader(store, finder, load_preset, on_error=lambda *e: errors.append(e))
    store.set("crossfader.a", "a")
    with caplog.at_level(logging.ERROR, "performer.presets.crossfader"):
        store.set("crossfader.a", "nowhere")
        store.set("crossfader.b", "broken")
        assert wait_until(lambda: fader.refused == 2)
    fader.stop()
    assert store.get("crossfader.a") == "a" and store.get("crossfader.b") == ""  # set back to what each end holds
    assert fader.ends["crossfader.a"].name == "a" and fader.ends["crossfader.b"] is None and fader.refused == 2
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    assert "crossfader.a 'nowhere' refused, keeping 'a'" in lines[0] and "no preset named" in lines[0]
    assert "crossfader.b 'broken' refused, keeping no preset" in lines[1] and "zoom" in lines[1]
    assert [e[:2] for e in errors] == [("crossfader.a", "nowhere"), ("crossfader.b", "broken")]


def test_presets_neither_hold_nor_recall_the_crossfader(caplog):
    store = ParamStore()
    store.update({"crossfader.a": "a", "crossfader.b": "b", "crossfader.position": 0.3})
    saved = preset_from_store(store, "now")
    assert not any(name.startswith("crossfader.") for name in saved.params)
    with caplog.at_level(logging.WARNING, "performer.presets.preset"):
        apply_preset(store, Preset("odd", params={"crossfader.position": 1.0, "dream.zoom": 1.1}))
    assert store.get("crossfader.position") == 0.3 and store.target("dream.zoom") == pytest.approx(1.1)
    assert "crossfader.position not recalled" in caplog.text


def test_controllers_see_a_glide_from_its_start_and_each_value_until_it_arrives():
    clock = Clock()
    store = ParamStore(clock=clock)
    follow = GlideFollow(store)
    shown: list = []
    store.subscribe(lambda c: shown.append((c.name, follow.shown(c))))
    apply_preset(store, Preset("b", params={"dream.zoom": 1.2, "dream.grad_norm": "std"}, morph=Morph(1.0)))
    assert ("dream.zoom", 1.0) in shown and ("dream.grad_norm", "std") in shown  # the start, not the target
    clock.t += 0.5
    assert follow.due() == {"dream.zoom": pytest.approx(1.1)}
    clock.t += 0.6
    assert follow.due() == {"dream.zoom": pytest.approx(1.2)}  # arrived: given once more...
    assert follow.due() == {} and follow.following == 0  # ...then dropped
    # a hand's own slew is not followed: its controller hears the value it set
    assert follow.shown(Change("dream.zoom", 1.0, 1.2, "osc")) == 1.0 and follow.following == 0


@pytest.mark.jack
def test_a_midi_fader_learned_onto_the_crossfader_moves_between_two_presets(jack_server, monkeypatch, tmp_path):
    import mido

    from performer.control.midi import MidiController

    backend = "mido.backends.rtmidi/UNIX_JACK"
    monkeypatch.setenv("MIDO_BACKEND", backend)
    mido.set_backend(backend, load=True)
    store = ParamStore()
    fader = Crossfader(store, folder_with(tmp_path, A, B), load_preset)
    midi = MidiController(store, {"input": "xfaderctl", "cc": [{"param": "crossfader.position", "cc": 8,
                                                                 "takeover": False}]}, poll=0.2)
    midi.start()
    out = mido.open_output("ctl", virtual=True, client_name="xfaderctl")
    try:
        store.update({"crossfader.a": "a", "crossfader.b": "b"})
        assert wait_until(lambda: None not in fader.ends.values(), 5)
        assert wait_until(lambda: any("xfaderctl" in p for p in midi.stats.ports), PORTS_READY), midi.stats

        def fader_to(value: int, zoom: float) -> bool:
            """Send the CC until the mix arrives: a fader moved sends many (a message sent just after the port
            connects can be lost, TESTING.md)."""
            for _ in range(50):
                out.send(mido.Message("control_change", control=8, value=value))
                if wait_until(lambda: store.target("dream.zoom") == pytest.approx(zoom), 0.1, 0.01):
                    return True
            return False

        assert fader_to(127, 1.2), (midi.stats, fader.moves)
        assert fader_to(32, 1.0 + 0.2 * 32 / 127)  # 32/127 = 0.252
        assert store.get("dream.grad_norm") == "mean_abs" and store.get("dream.iterations") == 4
    finally:
        out.close()
        midi.stop()
        fader.stop()
        mido.set_backend(None)
