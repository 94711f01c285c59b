"""Spectrum bands: low / mid / high and N log-spaced bands, as modulation sources and over OSC out."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from performer.analysis import Analyzer
from performer.analysis.bands import BandMeter, log_edges
from performer.audio import AudioRing
from performer.control.controls import Controls
from performer.latest import Latest
from performer.mapping import ModMatrix, Route, source_kind
from performer.params import ParamStore
from performer.presets import parse_preset
from sounds import ToneClassifier, noise, tone


def last_analysis(audio: np.ndarray, store: ParamStore, rate: int):
    """The analysis of the last hop of ``audio`` at ``rate`` (no thread)."""
    ring = AudioRing(rate, seconds=len(audio) / rate + 1)
    ring.write(audio)
    an = Analyzer(ring, ToneClassifier(), store, Latest())
    return an.analyse(len(audio), store.snapshot())


@pytest.mark.parametrize("rate", [22050, 48000])
def test_a_low_tone_lights_band_low_and_a_high_one_band_high(rate):
    store = ParamStore()
    low = last_analysis(tone(100, 1.5, rate, amp=0.5), store, rate).sources()
    high = last_analysis(tone(8000, 1.5, rate, amp=0.5), store, rate).sources()
    mid = last_analysis(tone(1000, 1.5, rate, amp=0.5), store, rate).sources()
    sine_db = 20 * np.log10(0.5 / np.sqrt(2))  # the RMS level of the tone: what `level` reads too
    assert low["band.low"] == pytest.approx(sine_db, abs=0.3)
    assert low["band.mid"] < sine_db - 40 and low["band.high"] < sine_db - 40
    assert high["band.high"] == pytest.approx(sine_db, abs=0.3)
    assert high["band.low"] < sine_db - 40 and high["band.mid"] < sine_db - 40
    assert mid["band.mid"] == pytest.approx(sine_db, abs=0.3)
    assert mid["band.low"] < sine_db - 40 and mid["band.high"] < sine_db - 40


def test_band_levels_follow_the_gain_and_add_up_to_the_level():
    store = ParamStore()
    rate = 22050
    quiet = last_analysis(noise(1.5, rate, amp=0.1), store, rate)
    total = 10 * np.log10(sum(10 ** (v / 10) for v in quiet.low_mid_high))
    assert total == pytest.approx(quiet.level_db, abs=0.5)  # the bands split the input's power
    store.set("audio.gain", 12.0, glide=False)
    loud = last_analysis(noise(1.5, rate, amp=0.1), store, rate)
    for a, b in zip(quiet.low_mid_high, loud.low_mid_high):
        assert b - a == pytest.approx(12.0, abs=0.1)


def test_n_bands_are_log_spaced_and_light_where_the_tone_is():
    store = ParamStore()
    rate = 48000
    assert store.get("analysis.bands") == 3
    a = last_analysis(tone(1000, 1.5, rate), store, rate)
    assert len(a.bands) == 3 and "band.3" in a.sources() and "band.4" not in a.sources()
    store.set("analysis.bands", 8)
    edges = log_edges(8, rate)
    assert edges[0] == pytest.approx(30.0) and edges[-1] == pytest.approx(16000.0)
    assert np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))
    for expected in (1, 4, 7):
        freq = float(np.sqrt(edges[expected] * edges[expected + 1]))  # the middle of a band
        bands = last_analysis(tone(freq, 1.5, rate), store, rate).bands
        assert len(bands) == 8
        assert int(np.argmax(bands)) == expected
        assert sorted(bands)[-2] < bands[expected] - 20
    store.set("analysis.bands", 99)  # clamped to the most there are
    assert len(last_analysis(tone(1000, 1.5, rate), store, rate).bands) == 32


def test_silence_reads_the_floor_and_a_short_hop_still_measures():
    meter = BandMeter()
    (low, mid, high), bands = meter.measure(np.zeros(4000, np.float32), 22050, 4, 2205)
    assert low == mid == high == -120.0 and bands == (-120.0,) * 4
    # a hop shorter than one FFT frame is measured over a frame of the audio before it
    (low, _, _), _ = meter.measure(tone(100, 1.0, 16000), 16000, 3, 1600)
    assert low == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.3)


def test_bands_are_modulation_sources_a_preset_may_route():
    for name in ("band.low", "band.mid", "band.high", "band.1", "band.32"):
        assert source_kind(name) is not None, name
    for name in ("band.0", "band.33", "band.lows"):
        assert source_kind(name) is None, name
    preset, problems = parse_preset({"mapping": {"routes": [
        {"source": "band.low", "target": "dream.zoom", "depth": 0.5},
        {"source": "band.33", "target": "dream.lr"}]}}, classes=["low", "high"])
    assert preset is None and [p.key for p in problems] == ["mapping.routes[1].source"]
    matrix = ModMatrix([Route("band.low", "dream.lr", 1.0)])
    store = ParamStore()
    base = store.snapshot()
    loud = matrix.apply(base, last_analysis(tone(80, 1.5, 22050, amp=0.9), store, 22050).sources(), 0.1)
    quiet = matrix.apply(base, last_analysis(tone(3000, 1.5, 22050, amp=0.9), store, 22050).sources(), 0.1)
    assert loud["dream.lr"] > 0.15 and quiet["dream.lr"] == pytest.approx(base["dream.lr"])


def test_osc_out_sends_low_mid_high_then_the_n_bands():
    store = ParamStore()
    store.set("analysis.bands", 5)
    latest = Latest()
    latest.put(last_analysis(tone(100, 1.5, 22050), store, 22050))
    controls = SimpleNamespace(engine=SimpleNamespace(analysis=latest), glove=SimpleNamespace(samples=0))
    messages = dict(Controls._analysis_messages(controls))  # type: ignore[arg-type]
    bands = messages["/performer/bands"]
    assert len(bands) == 3 + 5 and all(isinstance(v, float) for v in bands)
    assert bands[0] == max(bands[:3]) and bands[0] > -10


def hops(audio: np.ndarray, store: ParamStore, rate: int = 22050) -> list:
    """The analysis of every hop of ``audio`` in order, as the analyser's thread makes them."""
    ring = AudioRing(rate, seconds=len(audio) / rate + 1)
    ring.write(audio)
    an = Analyzer(ring, ToneClassifier(), store, Latest())
    hop = int(store.get("classifier.hop") * rate)
    return [an.analyse(pos, store.snapshot()) for pos in range(hop, len(audio) + 1, hop)]


def test_an_envelope_rises_with_the_attack_and_falls_with_the_release():
    rate = 22050
    quiet = noise(1.0, rate, amp=1e-4)
    audio = np.concatenate([quiet, tone(100, 1.0, rate, amp=0.5), quiet, quiet])
    store = ParamStore()
    store.update({"analysis.attack": 0.2, "analysis.release": 0.5}, glide=False)
    env = [a.sources()["env.low"] for a in hops(audio, store)]  # one a hop: 0.1 s
    high = [a.sources()["env.high"] for a in hops(audio, store)]
    assert max(env[:10]) < 0.05  # quiet: far below what the band will reach
    for n in range(1, 11):  # the tone: a one-pole rise with a 0.2-s time constant towards 1
        assert env[9 + n] == pytest.approx(1 - np.exp(-n * 0.1 / 0.2), abs=0.03), (n, env[9 + n])
    top = env[19]
    for n in range(1, 15):  # after it: a fall with a 0.5-s time constant towards 0
        assert env[19 + n] == pytest.approx(top * np.exp(-n * 0.1 / 0.5), abs=0.03), (n, env[19 + n])
    assert max(high) < 0.05  # a 100-Hz tone does not light the high band
    store.set("analysis.attack", 0.0, glide=False)  # no attack: there at once
    assert [a.sources()["env.low"] for a in hops(audio, store)][10] == pytest.approx(1.0, abs=0.01)


def kicks(seconds: float, rate: int = 22050, every: float = 0.5) -> np.ndarray:
    """A kick drum every ``every`` seconds from ``every`` on (60 Hz, 40-ms decay, 150 ms long) over a steady
    1-kHz tone and a little noise."""
    out = tone(1000, seconds, rate, amp=0.1) + noise(seconds, rate, amp=1e-3)
    t = np.arange(int(0.15 * rate)) / rate
    kick = (0.8 * np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.04)).astype(np.float32)
    for start in np.arange(every, seconds - 0.15, every):
        i = int(round(start * rate))
        out[i:i + len(kick)] += kick
    return out


def test_each_kick_is_one_hit_in_the_low_band_and_none_elsewhere():
    store = ParamStore()
    store.update({"analysis.release": 0.2}, glide=False)
    result = hops(kicks(3.0), store)
    low = [a.sources()["hit.low"] for a in result]
    mid = [a.sources()["hit.mid"] for a in result]
    fired = [i for i, v in enumerate(low) if v == 1.0]
    assert fired == [5, 10, 15, 20, 25]  # the hops that hold the kicks at 0.5, 1.0 ... 2.5 s
    after = low[6]  # the hit falls with the release
    assert after == pytest.approx(np.exp(-0.1 / 0.2), abs=0.01) and low[9] < 0.2
    assert max(mid) == 0.0  # the steady tone never hits
    store.set("analysis.hit", 30.0, glide=False)  # a rise of 30 dB: these kicks still make it...
    assert sum(a.sources()["hit.low"] == 1.0 for a in hops(kicks(3.0), store)) == 5
    quiet = kicks(3.0) * 0 + tone(1000, 3.0, 22050, amp=0.1)
    assert all(a.sources()["hit.low"] == 0.0 for a in hops(quiet, store))  # ...no kick, no hit


def test_envelopes_and_hits_are_sources_a_preset_may_route():
    for name in ("env.low", "env.mid", "env.high", "env.1", "env.32", "hit.low", "hit.high", "hit.7"):
        assert source_kind(name) is not None, name
    for name in ("env.0", "env.33", "hit.kick", "hit"):
        assert source_kind(name) is None, name
    preset, problems = parse_preset({"mapping": {"routes": [
        {"source": "hit.low", "target": "dream.zoom", "depth": 0.2},
        {"source": "env.high", "target": "master.brightness", "depth": 0.3}]}}, classes=["low", "high"])
    assert not problems and preset is not None
    store = ParamStore()
    store.set("analysis.bands", 4)
    a = hops(kicks(1.2), store)[5]  # the hop of the first kick
    assert len(a.envelopes) == len(a.hits) == 3 + 4 and "env.4" in a.sources() and "hit.4" in a.sources()
    moved = ModMatrix(preset.routes).apply(store.snapshot(), a.sources(), 0.1)
    assert moved["dream.zoom"] == pytest.approx(store.get("dream.zoom") + 0.2 * (1.2 - 0.9), abs=1e-6)
