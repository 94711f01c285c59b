"""Streaming analysis: levels, smoothing, hysteresis, hold, lock, gate, and the hand-off."""

from __future__ import annotations

import numpy as np
import pytest

from performer.analysis import Analyzer
from performer.audio import AudioRing
from performer.latest import Latest
from performer.params import ParamStore
from sounds import ToneClassifier, noise, silence, tone

RATE = 22050


def run_offline(audio: np.ndarray, store: ParamStore, rate: int = RATE):
    """Analyse every hop of ``audio`` in order (no thread), returning the analyses."""
    ring = AudioRing(rate, seconds=len(audio) / rate + 1)
    ring.write(audio)
    an = Analyzer(ring, ToneClassifier(), store, Latest())
    hop = int(store.get("classifier.hop") * rate)
    return [an.analyse(pos, store.snapshot()) for pos in range(hop, len(audio) + 1, hop)]


def test_levels_match_the_signal():
    store = ParamStore()
    [*_, last] = run_offline(tone(440, 2.0, amp=0.5), store)
    assert last.level_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.3)
    assert last.peak_db == pytest.approx(20 * np.log10(0.5), abs=0.3)
    assert 300 < last.centroid < 700
    assert last.spectrogram.shape[0] == 128
    store.set("audio.gain", 6.0, glide=False)
    [*_, louder] = run_offline(tone(440, 2.0, amp=0.5), store)
    assert louder.level_db - last.level_db == pytest.approx(6.0, abs=0.1)


def test_onset_rises_at_a_burst():
    store = ParamStore()
    store.set("classifier.hop", 0.1, glide=False)
    audio = np.concatenate([silence(1.0) + 1e-4, noise(1.0, amp=0.5)])
    results = run_offline(audio, store)
    before = max(r.onset for r in results[:9])
    at = max(r.onset for r in results[10:12])
    assert at > 0.5 and at > 5 * before


def test_class_change_waits_for_hysteresis_and_hold():
    store = ParamStore()
    store.update({"classifier.smoothing": 0.0, "classifier.hysteresis": 0.2, "classifier.hold": 0.0,
                  "classifier.hop": 0.1, "classifier.window": 0.5, "classifier.fast": False}, glide=False)
    audio = np.concatenate([tone(300, 2.0), tone(3000, 2.0)])
    results = run_offline(audio, store)
    assert results[0].top_name == "low" and results[0].changed
    change = [r for r in results if r.changed and r.top_name == "high"]
    assert len(change) == 1
    assert 2.0 < change[0].audio_time <= 2.3  # at the switch, once the window holds enough of the new tone
    # smoothing slows the change down
    store.set("classifier.smoothing", 1.0, glide=False)
    slow = [r for r in run_offline(audio, store) if r.changed and r.top_name == "high"]
    assert slow and slow[0].audio_time > change[0].audio_time + 0.3


def test_hold_and_lock_keep_the_class():
    store = ParamStore()
    store.update({"classifier.smoothing": 0.0, "classifier.hysteresis": 0.0, "classifier.hold": 3.0,
                  "classifier.window": 0.5, "classifier.fast": False}, glide=False)
    audio = np.concatenate([tone(300, 1.0), tone(3000, 3.0)])
    changes = [r for r in run_offline(audio, store) if r.changed]
    assert [c.top_name for c in changes] == ["low", "high"]
    assert changes[1].audio_time >= 3.0  # held for 3 s after the first decision at 0.1 s
    store.update({"classifier.hold": 0.0, "classifier.lock": True}, glide=False)
    changes = [r for r in run_offline(audio, store) if r.changed]
    assert [c.top_name for c in changes] == ["low"]


def test_the_fast_path_names_a_new_sound_from_its_first_fifth_of_a_second():
    store = ParamStore()
    store.update({"classifier.window": 1.0, "classifier.smoothing": 1.0, "classifier.hysteresis": 0.1,
                  "classifier.hold": 0.5, "classifier.fast_window": 0.2}, glide=False)
    audio = np.concatenate([tone(300, 2.0), tone(3000, 3.0)])

    def switch_time(fast: bool) -> float:
        store.set("classifier.fast", fast)
        [change] = [r for r in run_offline(audio, store) if r.changed and r.top_name == "high"]
        return change.audio_time

    fast, slow = switch_time(True), switch_time(False)
    assert fast == pytest.approx(2.2, abs=0.01)  # novelty at the hop after the change, named 0.2 s in
    assert slow >= fast + 0.3, (fast, slow)  # otherwise the smoothing must catch up first
    store.update({"classifier.fast": True, "classifier.lock": True})
    assert not [r for r in run_offline(audio, store) if r.changed and r.top_name == "high"]  # the lock still wins


def test_a_new_sound_passes_the_hold_but_a_change_without_novelty_does_not():
    store = ParamStore()
    store.update({"classifier.window": 1.0, "classifier.smoothing": 0.0, "classifier.hysteresis": 0.0,
                  "classifier.hold": 3.0, "classifier.fast_window": 0.2}, glide=False)
    audio = np.concatenate([tone(300, 1.5), tone(3000, 2.5)])
    [_, change] = [r for r in run_offline(audio, store) if r.changed]
    assert change.top_name == "high" and change.audio_time == pytest.approx(1.7, abs=0.01)
    fade = np.linspace(0.0, 1.0, int(2.0 * RATE), dtype=np.float32)
    gradual = np.concatenate([tone(300, 1.5), (1 - fade) * tone(300, 2.0) + fade * tone(3000, 2.0), tone(3000, 1.0)])
    [_, change] = [r for r in run_offline(gradual, store) if r.changed]  # a cross-fade is nothing new:
    assert change.top_name == "high" and change.audio_time >= 3.1  # the hold (3 s from the first hop) decides


def test_novelty_is_high_where_the_sound_changes_and_low_where_it_goes_on():
    from performer.analysis import novelty

    def nov(audio):
        return novelty(audio[-RATE:], RATE, 0.1)

    threshold = ParamStore().get("classifier.novelty")
    steady = tone(300, 1.0) + noise(1.0, amp=0.05)
    bursts = np.concatenate([np.concatenate([silence(0.12), noise(0.08, amp=0.5, seed=k)]) for k in range(5)])
    bursts += noise(1.0, amp=0.01, seed=9)
    assert nov(steady)[0] < threshold / 3
    assert nov(bursts)[0] < threshold  # a bursty sound going on: each burst is like the ones before
    for before in (steady, bursts):
        value, onset = nov(np.concatenate([before[:int(0.94 * RATE)], tone(3000, 0.06)]))
        assert value > threshold
        assert onset == pytest.approx(0.06, abs=0.015)  # where the new sound began, within a frame
    assert novelty(tone(300, 0.15), RATE, 0.1) == (0.0, 0.1)  # too short to tell


def test_a_fast_classifier_must_know_the_same_classes():
    class Other(ToneClassifier):
        classes = ["quiet", "loud"]

    ring = AudioRing(RATE, seconds=2)
    with pytest.raises(ValueError, match="fast classifier"):
        Analyzer(ring, ToneClassifier(), ParamStore(), Latest(), fast_classifier=Other())


def test_silence_below_the_gate_holds_the_class_and_skips_the_classifier():
    store = ParamStore()
    store.update({"classifier.smoothing": 0.0, "classifier.hold": 0.0, "classifier.window": 0.5}, glide=False)
    audio = np.concatenate([tone(3000, 1.0), silence(2.0)])
    results = run_offline(audio, store)
    assert all(r.top_name == "high" for r in results)
    assert results[-1].silent and not results[0].silent


def test_latest_keeps_only_the_newest_and_counts_drops():
    slot: Latest[int] = Latest()
    assert slot.take() is None
    slot.put(1)
    slot.put(2)
    assert slot.dropped == 1
    assert slot.take() == 2 and slot.take() is None
    assert slot.peek() == 2


def test_the_thread_follows_a_real_time_ring_and_skips_stale_hops():
    store = ParamStore()
    store.update({"classifier.window": 0.5, "classifier.hop": 0.1}, glide=False)
    ring = AudioRing(RATE)
    out: Latest = Latest()
    an = Analyzer(ring, ToneClassifier(), store, out)
    an.start()
    try:
        ring.write(tone(3000, 2.0))  # two seconds arrive at once: the analyser jumps to the newest window
        deadline = 50
        while (out.peek() is None or out.peek().position < 2 * RATE - 2205) and deadline:
            import time

            time.sleep(0.05)
            deadline -= 1
        a = out.peek()
        assert a is not None and a.top_name == "high"
        assert an.stats.skipped_hops >= 15
    finally:
        an.stop()
