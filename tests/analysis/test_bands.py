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
