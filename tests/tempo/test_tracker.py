"""The audio beat tracker on generated sound at known tempi: clicks at 90, 120 and 174 BPM, a drum loop, silence,
a tempo change, and the live path (a ring written in real time, the tempo thread writing the sources)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from conftest import wait_until
from performer.audio.ring import AudioRing
from performer.bench.tempo import measure
from performer.params import ParamStore
from performer.tempo import Tempo
from performer.tempo.grid import wrap
from performer.tempo.listener import AudioBeat
from performer.tempo.signals import clicks, drum_loop

RATE = 48000


@pytest.mark.parametrize("bpm", [90.0, 120.0, 174.0])
def test_clicks_at_known_tempi(bpm):
    audio, beats = clicks(bpm, 16.0, RATE)
    r = measure(audio, beats, bpm, RATE)
    assert r["first_estimate_s"] <= 4.0
    assert r["lock_s"] is not None and r["lock_s"] <= 6.0, r
    assert r["bpm_error_pct"] < 0.2, r  # measured: 0.02 % or less
    assert r["octave"] == ""
    assert r["beat_error_ms_median_abs"] < 15.0, r  # measured: 2 to 6 ms
    assert r["bar_right"] == 1.0, r  # the metronome's accented first beat begins the bar


def test_a_drum_loop_at_174_is_not_taken_for_87():
    audio, beats = drum_loop(174.0, 16.0, RATE, style="dnb", seed=3)
    r = measure(audio, beats, 174.0, RATE)
    assert r["octave"] == "" and r["bpm_error_pct"] < 0.3, r
    assert r["beat_error_ms_median_abs"] < 20.0, r


@pytest.mark.parametrize("bpm", [80.0, 128.0, 130.0, 140.0, 180.0])
@pytest.mark.parametrize("signal", ["clicks", "house"])
def test_the_tempo_is_within_a_twentieth_of_a_percent_from_80_to_180(bpm, signal):
    """Issue #23: 128 / 130 / 140 read 127.75 / 130.30 / 139.66 (the autocorrelation's period to a twentieth of a
    frame); the period is now the slope of a line through the beats placed. Every reading from 10 s on counts."""
    audio, beats = clicks(bpm, 24.0, RATE) if signal == "clicks" else drum_loop(bpm, 24.0, RATE, style="house")
    r = measure(audio, beats, bpm, RATE)
    assert r["octave"] == "" and r["bpm_error_pct_max"] < 0.05, r


@pytest.mark.parametrize("seed", [0, 1])
def test_four_on_the_floor_with_a_backbeat_at_124_starts_the_bar_on_one(seed):
    """Issue #23: a kick on every beat and a snare on two and four at 124 BPM got the bar two beats off every
    time (every beat as loud as the others); the snare's beats are the backbeat, and of one and three the bar
    begins where the bass and the chords change."""
    audio, beats = drum_loop(124.0, 30.0, RATE, style="house", seed=seed)
    r = measure(audio, beats, 124.0, RATE)
    assert r["bar_right"] >= 0.9, r  # measured: 1.0 and 0.96 (the first readings after 10 s)


def _feed(beat: AudioBeat, audio: np.ndarray, t0: float = 0.0) -> None:
    block = RATE // 100
    for start in range(0, len(audio) - block + 1, block):
        beat.ring.write(audio[start:start + block])
        beat.poll(t0 + (start + block) / RATE)


def test_silence_and_noise_give_no_tempo_and_a_known_tempo_keeps_running_through_silence():
    beat = AudioBeat(AudioRing(RATE, seconds=30.0))
    _feed(beat, np.zeros(6 * RATE, dtype=np.float32))
    assert beat.grid is None
    noise = (0.2 * np.random.default_rng(0).standard_normal(6 * RATE)).astype(np.float32)
    _feed(beat, noise, 6.0)
    assert beat.grid is None
    audio, _ = clicks(120.0, 8.0, RATE)
    _feed(beat, audio, 12.0)
    assert beat.grid is not None and beat.grid.bpm == pytest.approx(120.0, rel=0.005)
    _feed(beat, np.zeros(4 * RATE, dtype=np.float32), 20.0)  # the band stops: the beat runs on
    assert beat.grid.bpm == pytest.approx(120.0, rel=0.005)
    assert not beat.locked(24.0)
    assert wrap(beat.grid.beat_phase(24.0 + 0.004)) == pytest.approx(0.0, abs=0.03)  # the clicks' grid, on time


def test_a_new_tempo_is_taken_within_seconds():
    beat = AudioBeat(AudioRing(RATE, seconds=30.0))
    a, _ = clicks(120.0, 10.0, RATE)
    b, _ = clicks(140.0, 10.0, RATE)
    _feed(beat, a)
    assert beat.grid is not None and beat.grid.bpm == pytest.approx(120.0, rel=0.005)
    block = RATE // 100
    taken = None
    for start in range(0, len(b) - block + 1, block):
        beat.ring.write(b[start:start + block])
        t = 10.0 + (start + block) / RATE
        beat.poll(t)
        if taken is None and beat.grid.bpm == pytest.approx(140.0, rel=0.01):
            taken = t - 10.0
    assert taken is not None and taken < 6.0
    assert beat.stats.tempo_changes >= 1


def test_the_tempo_thread_follows_a_ring_written_in_real_time_and_writes_the_sources():
    """The live path: a source writes 1024-sample blocks at the pace of the sound; the thread writes the
    modulation sources a hundred times a second. The phase is compared with the clicks' own clock."""
    bpm = 174.0
    audio, _ = clicks(bpm, 7.0, RATE)
    ring = AudioRing(RATE)
    store = ParamStore()
    sources: dict[str, float] = {}
    tempo = Tempo(store, sources, ring=ring)
    started = threading.Event()
    t0 = [0.0]

    def play() -> None:
        block = 1024
        t0[0] = time.monotonic()
        started.set()
        for i in range(0, len(audio), block):
            delay = t0[0] + (i + block) / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            ring.write(audio[i:i + block])

    player = threading.Thread(target=play, daemon=True)
    tempo.start()
    player.start()
    try:
        assert started.wait(2.0)
        assert wait_until(lambda: sources["bpm"] > 0, 6.0), tempo.status()
        time.sleep(1.0)
        now = time.monotonic()
        g = tempo.grid(now)
        assert g is not None and g.bpm == pytest.approx(bpm, rel=0.01)
        true_beat = (now - t0[0]) * bpm / 60.0
        assert wrap(g.beat_at(now) - true_beat) == pytest.approx(0.0, abs=0.15)  # within 50 ms, on a loaded machine
        assert wrap(g.beat_at(now) / 4 - true_beat / 4) == pytest.approx(0.0, abs=0.05)  # the bar too
        assert 0.0 <= sources["beat_phase"] < 1.0 and 0.0 <= sources["bar_phase"] < 1.0
        assert sources["bpm"] == pytest.approx(bpm, rel=0.01)
        assert tempo.status()["audio"]["locked"]
    finally:
        player.join(timeout=10)
        tempo.stop()
