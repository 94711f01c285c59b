"""``/performer/classes``: the class names that label ``/performer/probs``, to every OSC-out destination (at start,
as it is added, when they change), answered to a sender that asks, and listed in OSCQuery."""

from __future__ import annotations

import json
import socket
import urllib.request

import numpy as np
from osc_peer import Client, receive

from conftest import wait_until
from none_helpers import RATE, NoneToneClassifier, RecordingRenderer
from performer.audio import ArraySource
from performer.control import ControlOptions, Controls
from performer.control.osc import OscSender
from performer.engine import Engine
from performer.params import ParamStore
from performer.presets import Preset
from sounds import tone

QUICK = {"classifier.smoothing": 0.0, "classifier.hold": 0.0, "classifier.hop": 0.1, "classifier.window": 0.5,
         "dream.width": 32, "dream.height": 32, "output.fps": 4.0}


def listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def classes_heard(sock: socket.socket, seconds: float, limit: int = 200) -> list[list]:
    """The argument lists of every /performer/classes received within ``seconds`` (at most ``limit`` packets)."""
    return [args for address, args in receive(sock, seconds, limit) if address == "/performer/classes"]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_sender_announces_at_start_to_an_added_destination_and_on_change():
    names = ["low", "high", "none"]
    first, second = listener(), listener()
    store = ParamStore()
    store.set("control.osc_out_rate", 20.0, source="test")
    # No periodic repeat within the test (status_every: an hour): each receipt is the start, an add, or a change.
    sender = OscSender(store, [("127.0.0.1", first.getsockname()[1])], status_every=3600.0,
                       analysis=lambda: [("/performer/probs", [0.5, 0.25, 0.25])],
                       announce=lambda: [("/performer/classes", list(names))])
    sender.start()
    try:
        assert classes_heard(first, 1.0) == [["low", "high", "none"]]  # once, at start, not every tick
        sender.add_destination("127.0.0.1", second.getsockname()[1])
        assert classes_heard(second, 1.0) == [["low", "high", "none"]]  # as soon as it is added
        assert classes_heard(first, 0.1) == []  # the first destination is not told again
        names[:] = ["low", "high"]  # the classifier changed
        assert classes_heard(first, 1.0) == [["low", "high"]]
        assert classes_heard(second, 0.3) == [["low", "high"]]
    finally:
        sender.stop()
        first.close()
        second.close()


def test_the_sender_repeats_the_names_once_every_status_period_and_survives_a_failing_announce():
    calls = {"n": 0}

    def announce():
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("engine restarting")
        return [("/performer/classes", ["a", "b"])]

    sock = listener()
    store = ParamStore()
    store.set("control.osc_out_rate", 20.0, source="test")
    sender = OscSender(store, [("127.0.0.1", sock.getsockname()[1])], status_every=0.4, announce=announce)
    sender.start()
    try:
        heard = classes_heard(sock, 1.5)
    finally:
        sender.stop()
        sock.close()
    assert 3 <= len(heard) <= 6 and all(h == ["a", "b"] for h in heard)  # at start, then about every 0.4 s


def test_a_udp_receiver_a_query_and_oscquery_get_the_class_names_with_none(tmp_path):
    engine = Engine(source=ArraySource(tone(300, 1.0), RATE, loop=True, name="tone"),
                    classifier=NoneToneClassifier(), renderer=RecordingRenderer(), preset=Preset("quick", params=QUICK))
    out = listener()
    controls = Controls(engine, ControlOptions(osc_port=0, oscquery_port=free_tcp_port(), preset_dir=tmp_path,
                                               osc_out=[("127.0.0.1", out.getsockname()[1])]))
    engine.start()
    controls.start()
    try:
        heard = classes_heard(out, 1.5)
        assert heard and all(h == ["low", "high", "none"] for h in heard)
        assert controls.osc is not None
        client = Client(controls.osc.port)
        client.send("/performer/classes")
        assert client.reply() == ("/performer/classes", ["low", "high", "none"])
        client.send("/performer/classes", 1)
        address, (where, message) = client.reply()
        assert address == "/performer/error" and where == "/performer/classes" and "no arguments" in message
        client.sock.close()
        assert controls.oscquery is not None
        base = f"http://127.0.0.1:{controls.oscquery.port}"
        with urllib.request.urlopen(f"{base}/performer/classes", timeout=2) as r:
            node = json.load(r)
        assert node["VALUE"] == ["low", "high", "none"] and node["TYPE"] == "sss" and node["ACCESS"] == 1
        assert "/performer/probs" in node["DESCRIPTION"]
        with urllib.request.urlopen(f"{base}/", timeout=2) as r:
            tree = json.load(r)
        assert tree["CONTENTS"]["performer"]["CONTENTS"]["classes"]["VALUE"] == ["low", "high", "none"]
        assert wait_until(lambda: engine.analysis.peek() is not None, 5)
        probs = np.asarray(engine.analysis.peek().probs)
        assert len(probs) == 3  # the names label exactly the probabilities sent
    finally:
        controls.stop()
        engine.stop()
        out.close()
