"""MIDI clock in: 24 clocks a beat, Start / Stop / Continue / Song Position; and over a JACK MIDI port, the clock
and a tap-tempo note, sent by a second client the way a drum machine or a DAW would."""

from __future__ import annotations

import math
import os
import threading
import time

import pytest
from jack_clock import JackClock
from load import gil_load

from conftest import PORTS_READY, wait_until
from jack_helpers import JACK_RATE
from performer.midi.backend import ALSA_SEQUENCER
from performer.params import ParamStore
from performer.tempo import Tempo
from performer.tempo.grid import wrap
from performer.tempo.midi_clock import PPQN, WINDOW, MidiClock


def msg(kind: str, **kw):
    import mido

    return mido.Message(kind, **kw)


def clocks(clock: MidiClock, t0: float, bpm: float, n: int, jitter: float = 0.0) -> float:
    """Send ``n`` clocks from ``t0`` at ``bpm`` (each one ``jitter`` s early or late in turn); returns the next time."""
    step = 60.0 / (bpm * PPQN)
    for i in range(n):
        clock.handle(msg("clock"), t0 + i * step + (jitter if i % 2 else -jitter))
    return t0 + n * step


def test_clock_gives_tempo_and_start_puts_beat_zero_on_the_next_clock():
    c = MidiClock()
    assert c.grid(0.0) is None
    c.handle(msg("start"), 9.99)
    t = clocks(c, 10.0, 125.0, 4 * PPQN + 1, jitter=0.003)  # four beats and one clock, in 6-ms bursts
    assert c.bpm == pytest.approx(125.0, rel=0.002)
    g = c.grid(t)
    assert g is not None and c.running()
    assert g.beat_at(10.0) == pytest.approx(0.0, abs=0.01)  # the first clock after Start is beat 0
    assert g.beat_at(t) == pytest.approx(4.0 + 1 / PPQN, abs=0.01)
    assert wrap(g.bar_phase(10.0 + 4 * 0.48)) == pytest.approx(0.0, abs=0.01)  # beat 4 begins bar 2


def test_stop_holds_the_beat_and_continue_goes_on_from_there_or_from_the_song_position():
    c = MidiClock()
    c.handle(msg("start"), 0.0)
    t = clocks(c, 0.0, 120.0, 2 * PPQN)  # two beats, up to t = 1 s
    c.handle(msg("stop"), t)
    assert not c.running()
    held = c.grid(t + 5.0).beat_at(t + 5.0)
    assert held == pytest.approx(2.0, abs=1 / PPQN)
    t = clocks(c, t + 5.0, 120.0, PPQN)  # a sender keeps clocking while stopped: the tempo, not the beat
    assert c.grid(t).beat_at(t) == pytest.approx(held)
    c.handle(msg("continue"), t)
    t2 = clocks(c, t + 0.02, 120.0, PPQN)
    assert c.running()
    assert c.grid(t2).beat_at(t2) == pytest.approx(3.0, abs=0.05)  # on from beat 2, one beat later
    c.handle(msg("stop"), t2)
    c.handle(msg("songpos", pos=32), t2 + 0.1)  # sixteenth notes: bar 3 (beat 8)
    assert c.grid(t2 + 0.2).beat_at(t2 + 0.2) == pytest.approx(8.0)
    c.handle(msg("continue"), t2 + 1.0)
    t3 = clocks(c, t2 + 1.02, 120.0, 7)
    assert c.grid(t3).beat_at(t3) == pytest.approx(8.0 + 7 / PPQN, abs=0.02)


def test_a_device_that_never_sends_start_is_followed_from_its_first_clock_and_a_pause_is_measured_afresh():
    c = MidiClock()
    t = clocks(c, 0.0, 90.0, PPQN * 2)
    assert c.running() and c.bpm == pytest.approx(90.0)
    t = clocks(c, t + 3.0, 140.0, PPQN + 6)  # a pause, then a new tempo: the old clocks do not pull at it
    assert c.bpm == pytest.approx(140.0)
    c.handle(msg("note_on", note=60), t)  # not a clock message: ignored
    assert c.bad == 0


def test_tempo_with_a_stopped_midi_transport_does_not_hold_a_quantised_recall():
    store = ParamStore()
    store.set("tempo.quantize", "bar")
    now = [0.0]
    tempo = Tempo(store, {}, clock=lambda: now[0])
    tempo._source = "midi"  # no ports opened: the clock is fed by hand here
    tempo.midi.handle(msg("start"), 0.0)
    now[0] = clocks(tempo.midi, 0.01, 120.0, PPQN + 12)  # 1.5 beats
    assert tempo.quantize_delay() == pytest.approx(2.5 * 0.5, abs=0.01)
    tempo.midi.handle(msg("stop"), now[0])
    assert tempo.quantize_delay() == 0.0
    assert tempo.values()["bpm"] == pytest.approx(120.0, rel=0.01)


JACK_PERIOD = 1024 / JACK_RATE
"""Seconds of one cycle of the tests' JACK server."""


def xrun_events(times: list[float]) -> list[float]:
    """The xruns a JACK client was told of, one per event (each client in the graph has it said once)."""
    events: list[float] = []
    for t in sorted(times):
        if not events or t - events[-1] > JACK_PERIOD:
            events.append(t)
    return events


needs_no_alsa = pytest.mark.skipif(os.path.exists(ALSA_SEQUENCER),
                                   reason=f"this machine has an ALSA sequencer ({ALSA_SEQUENCER}); JACK is tested")


@pytest.fixture
def mido_jack(jack_server, monkeypatch):
    import mido

    from performer.midi.backend import choose_backend

    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    choose_backend()
    yield mido
    mido.set_backend(None)


@needs_no_alsa
@pytest.mark.jack
def test_midi_clock_over_a_jack_midi_port(mido_jack):
    mido = mido_jack
    out = mido.open_output("clock", virtual=True, client_name="drummachine")
    store = ParamStore()
    store.set("tempo.midi_input", "drummachine")
    store.set("tempo.source", "midi")
    sources: dict[str, float] = {}
    tempo = Tempo(store, sources, midi_poll=0.2)
    tempo.start()
    stop = threading.Event()
    sent = {"start": 0.0}

    def play(bpm: float = 128.0) -> None:
        step = 60.0 / (bpm * PPQN)
        out.send(mido.Message("start"))
        t0 = sent["start"] = time.monotonic()
        i = 0
        while not stop.is_set() and i < 6 * PPQN * 4:
            delay = t0 + i * step - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            out.send(mido.Message("clock"))
            i += 1
            sent["clocks"] = i

    try:
        ready = wait_until(lambda: tempo.midi_input is not None and tempo.midi_input.stats.ports, PORTS_READY)
        assert ready, tempo.status()
        time.sleep(0.2)  # the connection settles before the first message (see shared/TESTING.md)
        player = threading.Thread(target=play, daemon=True)
        player.start()
        assert wait_until(lambda: sources["bpm"] > 0, 5), tempo.status()
        time.sleep(2.5)  # past the clock window: the tempo is a line through four beats of clocks
        now = time.monotonic()
        assert sources["bpm"] == pytest.approx(128.0, rel=0.01), (tempo.status(), sent)
        beat = tempo.grid(now).beat_at(now)
        true = (now - sent["start"]) * 128.0 / 60.0
        # JACK's dummy driver hands MIDI over in 21-ms periods, one or two periods late (measured: 25 to 55 ms,
        # 0.05 to 0.12 beat at 128 BPM); the beat must be that late at most, and Start must begin the bar
        assert wrap(beat - true) == pytest.approx(0.0, abs=0.2), (beat, true)
        assert wrap((beat - true) / 4) == pytest.approx(0.0, abs=0.05), (beat, true)
        status = tempo.status()["midi"]
        assert status["playing"] and "drummachine" in status["following"]
        stop.set()
        player.join(5)
        out.send(mido.Message("stop"))
        assert wait_until(lambda: not tempo.running(), 2)
        assert tempo.next_boundary("bar") == 0.0
    finally:
        stop.set()
        tempo.stop()
        out.close()


@needs_no_alsa
@pytest.mark.jack
def test_tap_tempo_from_a_midi_note_over_jack_counts_when_the_note_arrived_under_load(mido_jack):
    """Issue #23: a MIDI-note tap over JACK read 98.43 BPM, +83 ms (stamped when applied, after rtmidi's callback
    waited for the GIL); the controller now reads rtmidi's queue and stamps each note with the driver's time."""
    from performer.control.midi import MidiController

    store = ParamStore()
    store.set("tempo.source", "tap")
    tempo = Tempo(store, {})
    midi = MidiController(store, {"input": "padctl", "notes": [{"note": 36, "param": "tempo.tap"}]}, poll=0.5)
    tempo.start()
    midi.start()
    source = JackClock("padctl", 100.0, 8, note=36)
    try:
        with gil_load():
            result = source.result(20)
            assert wait_until(lambda: store.get("tempo.tap") == 8, 5), midi.stats
        g = tempo.taps.grid
        assert g is not None and g.bpm == pytest.approx(100.0, abs=0.5)
        # JACK hands MIDI over in 21-ms cycles and rtmidi stamps the cycle: each tap one or two cycles late (25 to
        # 55 ms measured under load). A least-squares line through eight taps weighs the last three negatively at
        # the first (-18/56 of theirs in all), so its beat there can also come up to 0.32 x 55 ms = 18 ms early;
        # stamped when applied instead (the old bug), it was +83 ms
        late = -wrap(g.beat_at(result["start"])) * 0.6
        assert -0.02 < late < 0.03, late
    finally:
        midi.stop()
        tempo.stop()
        source.stop()


@needs_no_alsa
@pytest.mark.jack
@pytest.mark.parametrize("bpm", [110.0, 140.0])
def test_every_clock_of_a_jack_clock_source_is_counted_while_the_process_is_loaded(mido_jack, bpm):
    """Issue #23: under load the server counted 759 of 880 clocks (JACK xruns in rtmidi's callback, which waits for
    the GIL); the clock is now read in a process of its own and stamped on arrival."""
    store = ParamStore()
    store.set("tempo.midi_input", "clocksrc")
    store.set("tempo.source", "midi")
    tempo = Tempo(store, {}, midi_poll=0.5)
    tempo.start()
    clocks = int(10 * bpm / 60 * PPQN)  # ten seconds
    source = JackClock("clocksrc", bpm, clocks)
    beats: list[tuple[float, float]] = []
    try:
        with gil_load():
            while source.proc.poll() is None and tempo.midi.clocks < clocks:
                time.sleep(0.25)
                now = time.monotonic()
                g = tempo.grid(now)
                if g is not None and tempo.running() and tempo.midi.clocks > 4 * PPQN:
                    beats.append((now, g.beat_at(now)))
            result = source.result(15)
        assert result["sent"] == clocks
        assert wait_until(lambda: not tempo.running(), 5), tempo.status()  # Stop came after the last clock
        # Every clock the JACK server delivered is counted. The server itself may drop a cycle's MIDI on a
        # machine this loaded: its dummy driver's timer woke 46-52 us late in 2 of 16 runs here with three
        # busy processes on two cores (jackd: "JackTimedDriver::Process XRun", the clients "not finished"),
        # and one or two clocks went missing with it, never without. An xrun costs the cycle the source wrote
        # and the one the reader read: at most two cycles' clocks. Reading on JACK's thread under the GIL (the
        # old bug) overran most cycles: 288 of 440 clocks lost.
        xruns = xrun_events(result["xruns"])
        lost = clocks - tempo.midi.clocks
        step = 60.0 / (bpm * PPQN)
        per_cycle = math.ceil(JACK_PERIOD / step)
        assert len(xruns) <= 3 and 0 <= lost <= 2 * per_cycle * len(xruns), (lost, xruns, tempo.status())
        assert tempo.midi_input is not None and tempo.midi_input.stats.received == tempo.midi.clocks + 2
        # A clock the server dropped is one no follower can count: the tempo's line is fitted across it (a tick
        # missing among the WINDOW fitted moves the slope by 1.5 / WINDOW at most; CI: 137.2 BPM for 140 with
        # two lost) and the beat falls behind by its length until the next Start or Song Position.
        assert tempo.midi.bpm == pytest.approx(bpm, rel=0.003 + 1.5 * lost / WINDOW), (lost, xruns)
        # the beat against the source's own: rtmidi stamps a message with its JACK cycle (21 ms here), not its
        # frame in it, so the beat is up to a cycle late, never more (it was 248 ms p95 in the issue)
        late = [(b - (t - result["start"]) * bpm / 60) * 60 / bpm for t, b in beats]
        # Sampled every 0.25 s. On a loaded machine a JACK cycle may itself come late, and the clocks stamped in
        # it with it (a fresh clone's suite, the other test worker busy: a sample of 19 past the bound at 140 BPM,
        # the others near 0.01 s; it passed alone and beside three busy processes; another, with two clocks lost at
        # 110 BPM, had one sample 66 ms behind against a floor of 50): nine in ten samples within the cycle, every
        # one within 70 ms either side of that band, which the old reader's 248 ms p95 fails. An xrun can pass its
        # cycle's clocks on to the next cycle, stamped a cycle late: they pull the fitted line back by up to a cycle
        # while they are in its window (CI, two xruns and two clocks lost at 140 BPM: 6 of 21 samples 47-72 ms
        # behind, the floor then 41).
        floor = -0.005 - lost * step - JACK_PERIOD * len(xruns)
        outside = [round(x, 4) for x in late if not floor < x < 0.03]
        assert len(late) >= 5 and len(outside) <= len(late) // 10, (outside, len(late), lost, xruns)
        assert all(floor - 0.07 < x < 0.1 for x in late), (outside, len(late), lost, xruns)
    finally:
        tempo.stop()
        source.stop()
