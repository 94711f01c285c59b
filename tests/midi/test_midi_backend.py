"""Choosing the MIDI system: the ALSA sequencer, else JACK MIDI when a JACK server runs, else a line that says how.

This machine has no ALSA sequencer (/dev/snd/seq); the JACK tests start a private JACK dummy server.
"""

from __future__ import annotations

import os
import time

import pytest

from conftest import PORTS_READY, wait_until
from performer.control.midi import MidiController
from performer.errors import ControlError
from performer.midi.backend import ALSA_SEQUENCER, JACK, choose_backend, jack_server_running
from performer.params import ParamStore

needs_no_alsa = pytest.mark.skipif(os.path.exists(ALSA_SEQUENCER),
                                   reason=f"this machine has an ALSA sequencer ({ALSA_SEQUENCER})")


@pytest.fixture
def mido_reset():
    import mido

    yield mido
    mido.set_backend(None)


@pytest.fixture
def no_jack(monkeypatch):
    """No JACK server under this name, and no backend asked for."""
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"performer-absent-{os.getpid()}-{time.monotonic_ns() % 100000}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    monkeypatch.delenv("MIDO_BACKEND", raising=False)


@needs_no_alsa
def test_without_alsa_or_jack_the_error_says_how(no_jack, mido_reset):
    assert not jack_server_running()
    with pytest.raises(ControlError) as e:
        choose_backend()
    text = str(e.value)
    assert ALSA_SEQUENCER in text and "JACK server" in text and "MIDO_BACKEND" in text and "\n" not in text


@needs_no_alsa
def test_midi_commands_print_one_line_and_no_alsa_noise(no_jack, cli, tmp_path):
    proc = cli("midi", "ports", timeout=60)
    assert proc.returncode == 1
    assert "ALSA lib" not in proc.stderr and "Cannot connect to server" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "JACK server" in proc.stderr, proc.stderr
    preset = tmp_path / "p.toml"
    preset.write_text('format = 1\nname = "p"\n')
    proc = cli("midi", "learn", "dream.lr", "--preset", str(preset), "--timeout", "1.5", timeout=60)
    assert proc.returncode == 1
    assert "ALSA lib" not in proc.stderr and "Cannot connect to server" not in proc.stderr, proc.stderr
    assert "MIDI is unavailable" in proc.stderr and "JACK server" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "move a control" not in proc.stdout


def test_mido_backend_asking_for_jack_without_a_server_is_named(no_jack, monkeypatch, mido_reset):
    monkeypatch.setenv("MIDO_BACKEND", JACK)
    with pytest.raises(ControlError, match="asks for JACK MIDI, but no JACK server is running"):
        choose_backend()


@needs_no_alsa
@pytest.mark.jack
def test_jack_midi_is_chosen_when_a_jack_server_runs(jack_server, monkeypatch, mido_reset, cli):
    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    mido = mido_reset
    backend = choose_backend()
    assert backend.name == JACK and "JACK MIDI" in backend.description
    store = ParamStore()
    midi = MidiController(store, {"input": "autoctl", "cc": [{"param": "dream.lr", "cc": 7, "takeover": False}]},
                          poll=0.2)
    out = mido.open_output("ctl", virtual=True, client_name="autoctl")
    midi.start()
    try:
        assert wait_until(lambda: midi.stats.ports, PORTS_READY), midi.stats
        assert midi.stats.backend == backend.description
        time.sleep(0.1)
        out.send(mido.Message("control_change", control=7, value=127))
        assert wait_until(lambda: store.target("dream.lr") == pytest.approx(0.2))
        proc = cli("midi", "ports", timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "JACK MIDI" in proc.stdout and "autoctl" in proc.stdout
    finally:
        midi.stop()
        out.close()
