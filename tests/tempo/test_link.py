"""Ableton Link with two peers on this machine: the show follows a session another process leads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from conftest import wait_until
from performer.params import ParamStore
from performer.tempo import Tempo
from performer.tempo.grid import wrap

pytest.importorskip("link", reason="the Ableton Link binding LinkPython-extern is not installed")

PEER = textwrap.dedent("""
    import sys, time
    import link
    peer = link.Link(100.0)
    peer.enabled = True
    deadline = time.monotonic() + 20.0              # bounded: the peer leaves after 20 s whatever happens
    while peer.numPeers() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    state = peer.captureAppSessionState()
    state.setTempo(133.0, peer.clock().micros())    # the peer leads: a new tempo for the whole session
    peer.commitAppSessionState(state)
    while time.monotonic() < deadline:
        state = peer.captureAppSessionState()
        micros, mono = peer.clock().micros(), time.monotonic()
        print(f"{peer.numPeers()} {mono!r} {state.beatAtTime(micros, 4)!r} {state.tempo()!r}", flush=True)
        time.sleep(0.05)
""")


def test_two_link_peers_share_tempo_and_bar_phase():
    peer = subprocess.Popen([sys.executable, "-c", PEER], stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(peer.stdout.readline, "")), daemon=True)
    reader.start()
    store = ParamStore()
    store.set("tempo.source", "link")
    sources: dict[str, float] = {}
    tempo = Tempo(store, sources)
    tempo.start()
    try:
        assert tempo.link is not None and tempo.link.enabled
        assert wait_until(lambda: tempo.link.peers() >= 1, 10), "the two peers did not find each other"
        assert wait_until(lambda: sources["bpm"] == pytest.approx(133.0, abs=0.01), 5), sources
        assert wait_until(lambda: len(lines) > 3, 5)
        peers, mono, beat, bpm = lines[-1].split()
        assert int(peers) >= 1 and float(bpm) == pytest.approx(133.0)
        ours = tempo.grid().beat_at(float(mono))
        assert wrap((ours - float(beat)) / 4) == pytest.approx(0.0, abs=0.005)  # same beat, same bar: < 10 ms
        assert tempo.status()["link"]["peers"] >= 1
        store.set("tempo.source", "audio")  # leaving Link: this peer leaves the session
        assert not tempo.link.enabled
        assert wait_until(lambda: lines[-1].split()[0] == "0", 5), lines[-1]
    finally:
        tempo.stop()
        peer.kill()
        peer.wait(5)
        reader.join(2)
