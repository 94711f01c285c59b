"""The controls around a running engine: OSC commands, OSC out, presets, the glove over OSC."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_packet import OscPacket
from sounds import ToneClassifier, tone
from small import small_preset

from performer.audio import ArraySource
from performer.control import ControlOptions, Controls
from performer.control.osc import build_message
from performer.engine import Engine
from performer.outputs import NullOutput
from performer.presets import check_preset, save_preset


def receive_all(sock: socket.socket, seconds: float) -> list[tuple[str, list]]:
    out = []
    deadline = time.monotonic() + seconds
    sock.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            continue
        for m in OscPacket(data).messages:
            out.append((m.message.address, list(m.message.params)))
    return out


@pytest.fixture
def rig(tmp_path):
    from performer.dream import DreamRenderer

    a = small_preset()
    a.name, a.path = "a", tmp_path / "a.toml"
    save_preset(a, a.path)
    b = small_preset(**{"dream.octaves": 2})
    b.name = "b"
    save_preset(b, tmp_path / "b.toml")
    from performer.presets import load_preset

    engine = Engine(source=ArraySource(tone(3000, 2.0), 22050, loop=True), classifier=ToneClassifier(),
                    renderer=DreamRenderer(device="cpu"), outputs=[NullOutput()], preset=load_preset(a.path))
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    controls = Controls(engine, ControlOptions(osc_port=0, oscquery_port=0,
                                               osc_out=[("127.0.0.1", listener.getsockname()[1])]))
    engine.start()
    controls.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(5)

    def send(address, *args):
        client.sendto(build_message(address, args), ("127.0.0.1", controls.osc.port))

    def reply():
        data, _ = client.recvfrom(65536)
        m = OscPacket(data).messages[0].message
        return m.address, list(m.params)

    yield engine, controls, send, reply, listener, tmp_path
    controls.stop()
    engine.stop()
    listener.close()
    client.close()


def test_osc_out_reports_class_probabilities_frames_status_and_changes(rig):
    engine, controls, send, reply, listener, _ = rig
    deadline = time.monotonic() + 30
    while (engine.render_stats.frames < 3 or engine.analysis.peek() is None) and time.monotonic() < deadline:
        time.sleep(0.05)
    send("/dream/jitter", 4)
    got = receive_all(listener, 2.5)
    by_address = {address: args for address, args in got}  # the newest of each
    assert by_address["/performer/class"][0] == "high" and by_address["/performer/class"][1] == 1
    assert len(by_address["/performer/probs"]) == 2
    assert "/performer/level" in by_address and "/performer/onset" in by_address
    assert by_address["/performer/frame"][2] == "null"
    assert by_address["/performer/status/fps"][0] > 0
    assert ("/dream/jitter", [4]) in got  # every parameter change is echoed, so faders follow


def test_preset_commands_glove_status_and_errors(rig):
    engine, controls, send, reply, _, tmp_path = rig
    send("/preset/load", str(tmp_path / "b.toml"))
    assert reply() == ("/preset/loaded", ["b"])
    assert engine.store.get("dream.octaves") == 2
    send("/preset/next")  # b -> a (sorted, wrapping)
    assert reply() == ("/preset/loaded", ["a"])
    controls._recall("prev")  # what a MIDI note or program change naming preset "prev" does
    assert engine.preset.name == "b"
    controls._recall("next")
    assert engine.preset.name == "a"
    send("/preset/load", str(tmp_path / "missing.toml"))
    address, (where, message) = reply()
    assert address == "/performer/error" and where == "/preset/load" and "missing.toml" in message
    assert engine.preset.name == "a"  # kept
    send("/glove/flex", 1023.0, 1023.0, 1023.0, 1023.0, 1023.0)
    deadline = time.monotonic() + 3
    while engine.extra_sources.get("glove.fist") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.extra_sources["glove.fist"] == pytest.approx(1.0)
    send("/glove/flex", 1.0, 2.0)
    assert reply()[1][0] == "/glove/flex"
    send("/midi/learn", "dream.lr")
    address, (where, message) = reply()
    assert where == "/midi/learn" and "MIDI input" in message
    send("/performer/status")
    addresses = {reply()[0] for _ in range(6)}
    assert "/performer/status/fps" in addresses
    send("/dream/iterations", 7)
    send("/preset/save", str(tmp_path / "saved.toml"))
    assert reply() == ("/preset/saved", [str(tmp_path / "saved.toml")])
    assert check_preset(tmp_path / "saved.toml") == []
    assert "iterations = 7" in (tmp_path / "saved.toml").read_text()
