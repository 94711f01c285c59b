"""The "none of these" class over OSC out and OSCQuery: a client on 127.0.0.1 reads 'none' when it wins."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import numpy as np
from osc_peer import receive

from conftest import wait_until
from none_helpers import RATE, NoneToneClassifier, RecordingRenderer
from performer.audio import ArraySource
from performer.control import ControlOptions, Controls
from performer.engine import Engine
from performer.presets import Preset
from sounds import noise, tone

QUICK = {"classifier.smoothing": 0.0, "classifier.hold": 0.0, "classifier.hop": 0.1, "classifier.window": 0.5,
         "dream.width": 64, "dream.height": 64, "output.fps": 8.0}


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_udp_receiver_and_oscquery_read_none_when_it_wins(tmp_path):
    audio = np.concatenate([tone(300, 1.0), noise(1.0)])  # a tone, then the room, looped
    engine = Engine(source=ArraySource(audio, RATE, loop=True, name="tone-then-room"),
                    classifier=NoneToneClassifier(), renderer=RecordingRenderer(), preset=Preset("quick", params=QUICK))
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    controls = Controls(engine, ControlOptions(osc_port=0, oscquery_port=free_tcp_port(), preset_dir=tmp_path,
                                               osc_out=[("127.0.0.1", listener.getsockname()[1])]))
    engine.start()
    controls.start()
    try:
        got = receive(listener, 4.5)
        classes = [args for address, args in got if address == "/performer/class"]
        probs = [args for address, args in got if address == "/performer/probs"]
        assert any(c[0] == "low" and c[1] == 0 for c in classes)
        none = [c for c in classes if c[0] == "none"]
        assert none and all(c[1] == 2 and c[2] > 0.5 for c in none)  # name, its index, its confidence
        assert probs and all(len(p) == 3 for p in probs)
        assert any(p[2] > 0.5 and p[2] == max(p) for p in probs)  # its probability, in class order
        assert wait_until(lambda: engine.analysis.peek() is not None and engine.analysis.peek().hears_none, 5)
        assert controls.oscquery is not None and oscquery_says_none(controls.oscquery.port)
    finally:
        controls.stop()
        engine.stop()
        listener.close()
    assert "none" not in {s.key for s in engine.renderer.scenes}  # type: ignore[attr-defined]


def oscquery_says_none(port: int) -> bool:
    """The /performer/class node names 'none' (checked a few times: the loop may move on to the tone)."""
    for _ in range(20):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/performer/class", timeout=2) as r:
            node = json.load(r)
        assert "'none'" in node["DESCRIPTION"] and node["RANGE"][1]["MAX"] == 2  # three classes
        if node["VALUE"][0] == "none":
            return True
        time.sleep(0.1)
    return False
