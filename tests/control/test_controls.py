"""The controls around a running engine: OSC commands, OSC out, presets, the glove over OSC.

Probed as a client on loopback would: nothing it sends reaches a file outside the preset folders or stalls OSC.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from pythonosc.osc_packet import OscPacket

from conftest import wait_until
from performer.audio import ArraySource
from performer.control import ControlOptions, Controls
from performer.control.osc import build_message
from performer.engine import Engine
from performer.outputs import NullOutput
from performer.presets import check_preset, save_preset
from small import small_preset
from sounds import ToneClassifier, tone


def receive_all(sock: socket.socket, seconds: float) -> list[tuple[str, list]]:
    out = []
    deadline = time.monotonic() + seconds
    sock.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
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
    controls = Controls(engine, ControlOptions(osc_port=0, oscquery_port=0, preset_dir=tmp_path,
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
    send("/preset/load", "b")
    assert reply() == ("/preset/loaded", ["b"])
    assert engine.store.get("dream.octaves") == 2
    send("/preset/next")  # b -> a (sorted, wrapping)
    assert reply() == ("/preset/loaded", ["a"])
    controls._recall("prev")  # what a MIDI note or program change naming preset "prev" does
    assert wait_until(lambda: engine.preset.name == "b")
    controls._recall("next")
    assert wait_until(lambda: engine.preset.name == "a")
    send("/preset/load", "missing")
    address, (where, message) = reply()
    assert address == "/performer/error" and where == "/preset/load" and "no preset named 'missing'" in message
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
    addresses = {reply()[0] for _ in range(len(controls._status_messages()))}
    assert "/performer/status/fps" in addresses
    send("/dream/iterations", 7)
    send("/preset/save", "saved")
    assert reply() == ("/preset/saved", [str(tmp_path / "saved.toml")])
    assert check_preset(tmp_path / "saved.toml") == []
    assert "iterations = 7" in (tmp_path / "saved.toml").read_text()


def error_for(reply, address: str) -> str:
    got, args = reply()
    assert got == "/performer/error" and args[0] == address, (got, args)
    return args[1]


def answers_queries(send, reply) -> bool:
    send("/dream/iterations")
    return reply()[0] == "/dream/iterations"


def test_preset_commands_reach_no_file_outside_the_preset_folders(rig, tmp_path_factory):
    engine, controls, send, reply, _, presets = rig
    outside = tmp_path_factory.mktemp("outside")
    before = sorted(presets.iterdir())
    for name in (str(outside / "x.toml"), str(outside / "x"), f"../{outside.name}/x", "sub/../../x"):
        send("/preset/save", name)
        assert "preset name" in error_for(reply, "/preset/save")
    send("/preset/save", "new/dir/x")  # saving makes no folders
    assert "has no '/'" in error_for(reply, "/preset/save")
    assert list(outside.iterdir()) == [] and sorted(presets.iterdir()) == before
    send("/preset/save", "default")  # shipped presets are read-only
    assert "read-only" in error_for(reply, "/preset/save")
    send("/preset/save", "b")  # an existing preset is replaced only when asked
    assert "/preset/save/overwrite" in error_for(reply, "/preset/save")
    send("/preset/save", "b", 1)
    assert "/preset/save/overwrite" in error_for(reply, "/preset/save")
    engine.store.set("dream.iterations", 5)
    send("/preset/save/overwrite", "b")
    assert reply() == ("/preset/saved", [str(presets / "b.toml")])
    assert "iterations = 5" in (presets / "b.toml").read_text()
    for path in ("/dev/zero", "/dev/stdin", "/etc/passwd", "../../etc/passwd"):
        send("/preset/load", path)
        assert "preset name" in error_for(reply, "/preset/load")
    assert answers_queries(send, reply)
    assert engine.preset.name == "a"


def test_a_refused_preset_tells_the_sender_why(rig):
    engine, controls, send, reply, _, presets = rig
    (presets / "bad.toml").write_text("[params.dream]\niterations = 99\n")
    send("/preset/load", "bad")
    message = error_for(reply, "/preset/load")
    assert "params.dream.iterations = 99" in message and "[1, 20]" in message and "server log" not in message
    (presets / "huge.toml").write_text("[params.dream]\n" + "".join(f"k{i} = 1\n" for i in range(200_000)))
    send("/preset/load", "huge")  # 3 MB of unknown keys: refused by its size, unread
    assert "larger than" in error_for(reply, "/preset/load")
    if hasattr(os, "mkfifo"):
        os.mkfifo(presets / "pipe.toml")
        send("/preset/load", "pipe")
        assert "not a preset" in error_for(reply, "/preset/load")
    assert engine.preset.name == "a" and answers_queries(send, reply)


def test_recalls_run_off_the_osc_thread(rig, monkeypatch):
    engine, controls, send, reply, _, _ = rig
    release = threading.Event()
    started = threading.Event()
    real = engine.load_preset

    def slow(path):
        started.set()
        release.wait(20)
        return real(path)

    monkeypatch.setattr(engine, "load_preset", slow)
    try:
        send("/preset/load", "b")
        assert started.wait(10)
        assert answers_queries(send, reply)  # OSC answers while the recall waits
        for _ in range(10):  # one running, 7 waiting, the rest refused
            send("/preset/next")
        refused = [error_for(reply, "/preset/next") for _ in range(3)]
        assert all("still waiting" in m for m in refused)
    finally:
        release.set()
    assert reply() == ("/preset/loaded", ["b"])
    assert controls.preset_errors == 3


def test_destination_errors_reach_the_sender(rig, monkeypatch):
    _, controls, send, reply, _, _ = rig
    send("/osc/destination/add", "127.0.0.1", 0)
    assert "0" in error_for(reply, "/osc/destination/add")

    def refuse(host, port):
        raise OSError(f"cannot send to {host}")

    monkeypatch.setattr(controls.sender, "add_destination", refuse)
    send("/osc/destination/add", "example.invalid", 7000)
    assert "cannot send to example.invalid" in error_for(reply, "/osc/destination/add")
    send("/osc/destination/add", "127.0.0.1")
    assert "takes a string, an int" in error_for(reply, "/osc/destination/add")


def test_glove_values_and_engine_errors_go_out_over_osc(rig, monkeypatch):
    engine, controls, send, reply, listener, tmp_path = rig
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no googlenet weights here: the change cannot take effect
    send("/glove/flex", 0.0, 256.0, 512.0, 768.0, 1023.0)
    assert wait_until(lambda: controls.glove.samples > 0, 5)
    send("/dream/network", "googlenet")
    got: list[tuple[str, list]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(address == "/performer/error" for address, _ in got):
        got += receive_all(listener, 0.5)
    got += receive_all(listener, 0.5)
    by_address = {address: args for address, args in got}
    fingers = by_address["/performer/glove"]
    assert len(fingers) == 5 and fingers[0] < fingers[-1]
    assert by_address["/performer/glove/raw"] == [0.0, 256.0, 512.0, 768.0, 1023.0]
    errors = [args for address, args in got if address == "/performer/error"]
    assert any(args[0] == "/dream/network" and "googlenet" in args[1] for args in errors), errors
    assert ("/dream/network", ["efficientnet_lite0"]) in got  # the set-back value is echoed, so clients follow
    assert engine.store.get("dream.network") == engine.renderer.network == "efficientnet_lite0"
