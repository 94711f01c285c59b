"""Beat and bar events (to OSC out, over a real UDP socket), ×2 / ÷2 and nudge (issue #23 item 4); Link's lead
and start/stop are in test_link.py."""

from __future__ import annotations

import math
import socket
import time

import pytest
from pythonosc.osc_packet import OscPacket

from performer.control.osc_out import OscSender
from performer.params import ParamStore
from performer.tempo import Tempo
from performer.tempo.events import send_beats


def tap_tempo(bpm: float, now: list[float]) -> Tempo:
    """Tap tempo at ``bpm``, beat 0 (a downbeat) at ``now[0]``, on a clock the test moves."""
    store = ParamStore()
    store.set("tempo.source", "tap")
    store.set("tempo.bpm", bpm)
    tempo = Tempo(store, {}, clock=lambda: now[0])
    tempo._source = "tap"
    tempo.taps.tap(now[0])  # one tap: the downbeat is here, the tempo stays
    return tempo


def test_each_beat_is_told_once_with_its_place_in_the_bar_and_the_bar():
    now = [100.0]
    tempo = tap_tempo(120.0, now)
    heard: list[tuple[float, int, int]] = []
    tempo.beat_listeners.append(lambda beat, bar: heard.append((now[0], beat, bar)))
    for i in range(1, 501):  # five seconds of ticks, 10 ms apart
        now[0] = 100.0 + 0.01 * i
        tempo.tick(now[0])
    assert [(b, n) for _, b, n in heard] == [(k % 4, k // 4) for k in range(1, 11)]
    for t, beat, bar in heard:  # each one at the first tick on or after its beat
        assert 0.0 <= t - (100.0 + 0.5 * (4 * bar + beat)) < 0.0101


def test_double_halve_and_nudge_move_the_grid_and_refuse_what_is_not_a_tempo():
    now = [0.0]
    tempo = tap_tempo(120.0, now)
    tempo.start()  # it follows tempo.bpm set by hand
    try:
        double_halve_nudge(tempo, now)
    finally:
        tempo.stop()


def double_halve_nudge(tempo: Tempo, now: list[float]) -> None:
    tempo.double()
    assert tempo.store.get("tempo.bpm") == 240.0 and tempo.bpm() == pytest.approx(240.0)
    tempo.halve()
    tempo.halve()
    assert tempo.bpm() == pytest.approx(60.0)
    tempo.store.set("tempo.bpm", 120.0)
    tempo.store.set("tempo.nudge", 20.0)  # the beat 20 ms later
    assert tempo.next_boundary("beat", 0.5) == pytest.approx(0.02)
    tempo.store.set("tempo.nudge", 0.0)
    tempo.store.set("tempo.bpm", 240.0)
    with pytest.raises(ValueError, match="allowed: 20..400 BPM"):
        tempo.double()
    tempo.store.fire("tempo.halve")  # the trigger, as OSC or a MIDI button fires it
    assert tempo.bpm() == pytest.approx(120.0)
    tempo.store.fire("tempo.double")
    tempo.store.fire("tempo.double")  # 480: refused in one line, counted, the tempo stays
    assert tempo.bpm() == pytest.approx(240.0) and tempo.stats.source_refused == 1
    # a source the performer does not set (here MIDI clock): ×2 scales its count, bar lines stay on its beat 0
    from test_midi_clock import clocks, msg

    tempo._source = "midi"
    tempo.midi.handle(msg("start"), 10.0)
    now[0] = clocks(tempo.midi, 10.0, 100.0, 48)  # two beats at 100 BPM
    tempo.double()
    assert tempo.bpm() == pytest.approx(200.0, rel=0.002)
    assert tempo.grid(now[0]).beat_at(10.0) == pytest.approx(0.0, abs=0.02)


def test_beats_and_bars_reach_an_osc_destination_as_they_begin():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    store = ParamStore()
    store.set("control.osc_out_rate", 100.0)
    store.set("tempo.source", "tap")
    store.set("tempo.bpm", 150.0)  # a beat every 0.4 s
    tempo = Tempo(store, {})
    sender = OscSender(store, [("127.0.0.1", rx.getsockname()[1])])
    send_beats(tempo, sender.event)
    tempo.start()
    sender.start()
    got: list[tuple[float, str, list]] = []
    try:
        tempo.taps.tap(time.monotonic() + 0.3)  # the downbeat 0.3 s from now
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                data = rx.recv(65536)
            except TimeoutError:
                continue
            t = time.monotonic()
            for m in OscPacket(data).messages:
                if m.message.address in ("/performer/beat", "/performer/bar"):
                    got.append((t, m.message.address, list(m.message.params)))
        beats = [a for _, addr, a in got if addr == "/performer/beat"]
        bars = [a for _, addr, a in got if addr == "/performer/bar"]
        assert len(beats) >= 6 and bars, got
        assert [b[0] for b in beats] == [(beats[0][0] + k) % 4 for k in range(len(beats))], beats
        g = tempo.grid()
        for t, addr, args in got:  # none before its beat (how soon after is load-dependent: not asserted here)
            if addr == "/performer/beat":
                assert math.floor(g.beat_at(t)) % 4 in (args[0], (args[0] + 1) % 4), (t, args)
        for i, (_, addr, _args) in enumerate(got):  # a bar comes just before its downbeat's beat
            if addr == "/performer/bar":
                assert got[i + 1][1:] == ("/performer/beat", [0]) if i + 1 < len(got) else True
    finally:
        tempo.stop()
        sender.stop()
        rx.close()
