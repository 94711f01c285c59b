"""The "none of these" class through the analyser: carried like any class, reported honestly."""

from __future__ import annotations

import numpy as np
import pytest

from none_helpers import RATE, NoneToneClassifier
from performer.analysis import Analyzer
from performer.audio import AudioRing
from performer.latest import Latest
from performer.params import ParamStore
from sounds import ToneClassifier, noise, tone

STEADY = {"classifier.smoothing": 0.0, "classifier.hysteresis": 0.2, "classifier.hold": 0.0,
          "classifier.hop": 0.1, "classifier.window": 0.5, "classifier.fast": False}


def run_offline(audio: np.ndarray, store: ParamStore, classifier=None) -> list:
    ring = AudioRing(RATE, seconds=len(audio) / RATE + 1)
    ring.write(audio)
    an = Analyzer(ring, classifier or NoneToneClassifier(), store, Latest())
    hop = int(store.get("classifier.hop") * RATE)
    results = [an.analyse(pos, store.snapshot()) for pos in range(hop, len(audio) + 1, hop)]
    run_offline.analyzer = an  # type: ignore[attr-defined]
    return results


def store_with(**values) -> ParamStore:
    store = ParamStore()
    store.update({**STEADY, **values}, glide=False)
    return store


def test_none_wins_like_any_class_and_is_reported_as_none():
    audio = np.concatenate([tone(300, 2.0), noise(2.0), tone(300, 2.0)])
    results = run_offline(audio, store_with())
    changes = [(r.audio_time, r.top_name) for r in results if r.changed]
    assert [name for _, name in changes] == ["low", "none", "low"]
    assert 2.0 < changes[1][0] <= 2.4 and 4.0 < changes[2][0] <= 4.4
    during = [r for r in results if 2.6 <= r.audio_time <= 3.9]
    assert during and all(r.hears_none and r.top_name == "none" and r.top == 2 for r in during)
    assert all(r.confidence == r.probs[2] > 0.9 for r in during)
    assert all(r.sources()["prob.none"] == r.confidence for r in during)  # a source a route may name
    assert not any(r.hears_none for r in results if r.audio_time < 2.0 or r.audio_time > 4.6)
    assert run_offline.analyzer.stats.class_changes == 3  # type: ignore[attr-defined]


def test_the_hold_and_the_lock_keep_none_out_like_any_class():
    audio = np.concatenate([tone(300, 1.0), noise(1.0), tone(300, 2.0)])
    assert any(r.hears_none for r in run_offline(audio, store_with()))  # without a hold, the noise wins
    held = run_offline(audio, store_with(**{"classifier.hold": 3.0}))
    assert not any(r.hears_none for r in held) and [r.top_name for r in held if r.changed] == ["low"]
    # a classifier.lock holds the class whatever comes, the fast path included
    locked = store_with(**{"classifier.fast": True})
    ring = AudioRing(RATE, seconds=5)
    ring.write(audio)
    an = Analyzer(ring, NoneToneClassifier(), locked, Latest())
    hop = int(0.1 * RATE)
    first = an.analyse(hop * 5, locked.snapshot())
    locked.set("classifier.lock", True, glide=False)
    rest = [an.analyse(pos, locked.snapshot()) for pos in range(hop * 6, len(audio) + 1, hop)]
    assert first.top_name == "low" and not any(r.hears_none for r in rest)


def test_the_fast_path_never_names_none_the_smoothed_path_does():
    """A new sound's class is hurried past the smoothing; "none of these" is not: it comes through the main path."""
    audio = np.concatenate([tone(300, 2.0), noise(2.0), tone(3000, 2.0)])
    slow = {"classifier.smoothing": 1.0, "classifier.fast": True}
    results = run_offline(audio, store_with(**slow))
    first_none = next(r for r in results if r.hears_none)
    assert first_none.audio_time > 2.6  # not in the fast path's first fraction of a second
    first_high = next(r for r in results if r.top_name == "high")
    assert 4.0 < first_high.audio_time <= 4.6 and first_high.changed  # the fast path still names a class
    assert run_offline.analyzer.stats.fast_switches >= 1  # type: ignore[attr-defined]


class NoNoneTones(ToneClassifier):
    """The fast path's model without ``none``: NoneToneClassifier's classes less it."""

    classes = ["low", "high"]
    sample_rate = RATE


def test_a_fast_model_without_none_serves_beside_a_main_model_with_it():
    audio = np.concatenate([tone(300, 2.0), tone(3000, 2.0)])
    store = store_with(**{"classifier.smoothing": 3.0, "classifier.fast": True})
    ring = AudioRing(RATE, seconds=5)
    ring.write(audio)
    an = Analyzer(ring, NoneToneClassifier(), store, Latest(), fast_classifier=NoNoneTones())
    hop = int(0.1 * RATE)
    results = [an.analyse(pos, store.snapshot()) for pos in range(hop, len(audio) + 1, hop)]
    switch = next(r for r in results if r.top_name == "high")
    assert 2.0 < switch.audio_time <= 2.6 and an.stats.fast_switches >= 1
    assert len(switch.probs) == 3 and switch.classes[switch.top] == "high"


def test_a_fast_model_with_other_classes_is_refused():
    class Other(ToneClassifier):
        classes = ["high", "low"]
        sample_rate = RATE

    ring = AudioRing(RATE, seconds=1)
    with pytest.raises(ValueError, match="allowed: the same classes, or the same without 'none'"):
        Analyzer(ring, NoneToneClassifier(), ParamStore(), Latest(), fast_classifier=Other())


def test_a_classifier_without_none_never_hears_none():
    audio = np.concatenate([tone(300, 2.0), noise(2.0)])
    results = run_offline(audio, store_with(), ToneClassifier())
    assert results and not any(r.hears_none for r in results)
    assert all("prob.none" not in r.sources() for r in results)
