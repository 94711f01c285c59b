"""MIDI through real rtmidi ports on the JACK dummy server (shared/TESTING.md)."""

from __future__ import annotations

import time

import pytest

from conftest import PORTS_READY, wait_until
from performer.control.midi import MidiController
from performer.params import ParamStore

pytestmark = pytest.mark.jack

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"


@pytest.fixture
def mido_jack(jack_server, monkeypatch):
    import mido

    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    mido.set_backend(JACK_MIDI, load=True)
    yield mido
    mido.set_backend(None)


def cc(mido, control, value, channel=0):
    return mido.Message("control_change", channel=channel, control=control, value=value)


def controller(store, config, **kw):
    midi = MidiController(store, config, poll=0.2, **kw)
    midi.start()
    return midi


def test_cc_mapping_hot_plug_14bit_and_soft_takeover(mido_jack):
    mido = mido_jack
    store = ParamStore()
    midi = controller(store, {"input": "testctl", "cc": [
        {"param": "dream.lr", "cc": 7, "channel": 1, "takeover": False},
        {"param": "audio.gain", "cc": 1, "bits": 14, "takeover": False},
        {"param": "dream.iterations", "cc": 20, "takeover": True},
    ]})
    try:
        out = mido.open_output("ctl", virtual=True, client_name="testctl")  # plugged in after start
        assert wait_until(lambda: any("testctl" in p for p in midi.stats.ports), PORTS_READY), midi.stats
        time.sleep(0.1)
        out.send(cc(mido, 7, 127))
        assert wait_until(lambda: store.target("dream.lr") == pytest.approx(0.2))
        out.send(cc(mido, 7, 64, channel=3))  # mapped to channel 1 only
        out.send(cc(mido, 1, 127))  # 14-bit: MSB then LSB
        out.send(cc(mido, 33, 127))
        assert wait_until(lambda: store.target("audio.gain") == pytest.approx(24.0))
        assert store.target("dream.lr") == pytest.approx(0.2)
        # soft takeover: iterations is at 2 (0.053 normalised); a fader at 100 must not make it jump
        out.send(cc(mido, 20, 100))
        assert wait_until(lambda: midi.stats.waiting_for_pickup >= 1)
        assert store.target("dream.iterations") == 2
        out.send(cc(mido, 20, 7))  # the fader reaches the value: picked up
        out.send(cc(mido, 20, 127))
        assert wait_until(lambda: store.target("dream.iterations") == 20)
        out.close()
    finally:
        midi.stop()


def test_midi_learn_maps_the_next_control_and_notes_recall_presets(mido_jack):
    mido = mido_jack
    store = ParamStore()
    learned, recalled = [], []
    midi = controller(store, {"input": "learnctl", "notes": [{"note": 60, "preset": "club"}],
                              "programs": [{"program": 3, "preset": "slow"}]},
                      on_learned=learned.append, on_preset=recalled.append)
    out = mido.open_output("ctl", virtual=True, client_name="learnctl")
    try:
        assert wait_until(lambda: midi.stats.ports, PORTS_READY), midi.stats
        time.sleep(0.1)
        midi.arm("/dream/octaves")
        out.send(cc(mido, 21, 90, channel=2))
        assert wait_until(lambda: learned)
        assert learned[-1] == [{"param": "dream.octaves", "cc": 21, "channel": 3, "bits": 7, "takeover": True}]
        assert midi.armed is None
        out.send(cc(mido, 21, 0, channel=2))  # pick up at the current value, then move
        out.send(cc(mido, 21, 127, channel=2))
        assert wait_until(lambda: store.target("dream.octaves") == 6)
        out.send(mido.Message("note_on", note=60, velocity=100))
        out.send(mido.Message("program_change", program=3))
        assert wait_until(lambda: recalled == ["club", "slow"])
    finally:
        out.close()
        midi.stop()


def test_feedback_echoes_changes_from_elsewhere_as_cc(mido_jack):
    mido = mido_jack
    store = ParamStore()
    received = []
    fb = mido.open_input("fb", virtual=True, client_name="testfb", callback=received.append)
    src = mido.open_output("ctl", virtual=True, client_name="fbctl")
    midi = controller(store, {"input": "fbctl", "output": "testfb", "feedback": True,
                              "cc": [{"param": "dream.lr", "cc": 7, "channel": 2}]})
    try:
        assert wait_until(lambda: midi._output is not None and midi.stats.ports, PORTS_READY), (
            midi._output, midi.stats, mido.get_output_names())
        time.sleep(0.1)
        store.set("dream.lr", 0.2, source="osc")
        assert wait_until(lambda: any(m.type == "control_change" and m.control == 7 for m in received))
        msg = [m for m in received if m.type == "control_change"][-1]
        assert (msg.channel, msg.value) == (1, 127)
    finally:
        midi.stop()
        fb.close()
        src.close()
