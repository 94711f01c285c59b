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


FOLLOWER = textwrap.dedent("""
    import time
    import link
    peer = link.Link(100.0)
    peer.startStopSyncEnabled = True
    peer.enabled = True
    deadline = time.monotonic() + 25.0              # bounded: the peer leaves after 25 s whatever happens
    started = stopped = None
    while time.monotonic() < deadline:
        state = peer.captureAppSessionState()
        tempo = state.tempo()
        now = time.monotonic()
        if started is None and abs(tempo - 140.0) < 0.01:  # the show led: start the session ...
            state.setIsPlaying(True, peer.clock().micros())
            peer.commitAppSessionState(state)
            started = now
        elif started is not None and stopped is None and now - started > 1.5:  # ... and stop it 1.5 s later
            state.setIsPlaying(False, peer.clock().micros())
            peer.commitAppSessionState(state)
            stopped = now
        print(f"{peer.numPeers()} {tempo!r} {int(state.isPlaying())}", flush=True)
        time.sleep(0.05)
""")


def test_the_show_leads_the_link_session_and_follows_its_start_and_stop():
    """Issue #23 item 4: a tempo set here (tempo.bpm, tempo.double) reaches the session; with start/stop sync a
    session stopped by a peer stops the beat here (what waits for the bar then happens at once)."""
    peer = subprocess.Popen([sys.executable, "-c", FOLLOWER], stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(peer.stdout.readline, "")), daemon=True)
    reader.start()
    store = ParamStore()
    store.set("tempo.link_start_stop", True)
    store.set("tempo.quantize", "bar")
    store.set("tempo.source", "link")
    tempo = Tempo(store, {})
    tempo.start()
    try:
        assert wait_until(lambda: tempo.link.peers() >= 1, 10), "the two peers did not find each other"
        assert not tempo.running()  # the session has not started
        store.set("tempo.bpm", 140.0)
        reached = wait_until(lambda: lines and float(lines[-1].split()[1]) == pytest.approx(140.0, abs=0.01), 5)
        assert reached, lines[-1:]
        assert wait_until(tempo.running, 5)  # the peer started the session
        assert tempo.bpm() == pytest.approx(140.0, abs=0.01)
        assert wait_until(lambda: not tempo.running(), 5)  # ... and stopped it
        assert tempo.quantize_delay() == 0.0
        store.fire("tempo.double")
        assert wait_until(lambda: float(lines[-1].split()[1]) == pytest.approx(280.0, abs=0.01), 5), lines[-1:]
        assert tempo.bpm() == pytest.approx(280.0, abs=0.01)
    finally:
        tempo.stop()
        peer.kill()
        peer.wait(5)
        reader.join(2)
