"""Streaming analysis: a sliding window over the input, classified every hop, in its own thread.

Each hop the analyser reads the latest window from the ring, measures the
sound (RMS and peak level, onset strength, spectral centroid, spectrum bands), classifies it,
smooths the class probabilities over time and decides the top class with
hysteresis and a minimum hold, so the image does not flicker between two
classes. The result is an immutable :class:`Analysis` handed over through a
:class:`Latest` slot that keeps only the newest value.

A classifier may have the class ``none`` ("none of these", :mod:`performer.sound.labels`). The analyser
carries it like any class through the smoothing, hysteresis and hold, and reports it honestly: its top class
becomes ``none`` and ``changed`` marks the hop. Only the fast path leaves it out: it hurries a new sound's class,
and a fraction of a second cannot tell an unfamiliar sound from the room (the shipped fast model has no
``none``). Keeping the dream's picture meanwhile is the engine's part
(:attr:`Analysis.hears_none` tells it).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import soxr

from performer.analysis.bands import FLOOR_DB, BandEnvelopes, BandMeter
from performer.analysis.novelty import novelty
from performer.audio import AudioRing
from performer.latest import Latest
from performer.params import REGISTRY, ParamStore, Snapshot
from performer.runtime import LoopStats, Worker
from performer.sound.features import log_mel_numpy
from performer.sound.labels import NONE_CLASS, fast_classes_fit, is_none

log = logging.getLogger(__name__)

MAX_WINDOW: float = REGISTRY.get("classifier.window").max  # type: ignore[assignment]

SPECTRAL_FRAME = 1024
"""Samples of the hop's spectrum (onset strength and centroid)."""
_HANN = np.hanning(SPECTRAL_FRAME)


@functools.lru_cache(maxsize=8)
def _frequencies(sr: int) -> np.ndarray:
    """The bin frequencies of a :data:`SPECTRAL_FRAME`-sample spectrum at ``sr`` (made once per rate)."""
    return np.fft.rfftfreq(SPECTRAL_FRAME, 1.0 / sr)


class ClassifierLike(Protocol):
    classes: list[str]
    sample_rate: int

    def predict(self, audio: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Analysis:
    """What the analyser knows about the sound at one hop."""

    position: int
    """Absolute sample position (source rate) at the end of the analysed window."""
    audio_time: float
    classes: tuple[str, ...]
    probs: np.ndarray
    """Smoothed class probabilities."""
    raw_probs: np.ndarray
    top: int
    top_name: str
    confidence: float
    changed: bool
    """True on the hop where the top class changed (to or from ``none`` too)."""
    level_db: float
    peak_db: float
    onset: float
    centroid: float
    silent: bool
    spectrogram: np.ndarray = field(repr=False)
    """Log-mel spectrogram of the window, dB (mels x frames)."""
    classify_ms: float
    low_mid_high: tuple[float, float, float] = (FLOOR_DB, FLOOR_DB, FLOOR_DB)
    """Levels (dBFS) of the latest hop below 250 Hz, 250-4000 Hz and above 4 kHz (performer.analysis.bands)."""
    bands: tuple[float, ...] = ()
    """Levels (dBFS) of the latest hop in ``analysis.bands`` log-spaced bands, lowest first."""
    envelopes: tuple[float, ...] = ()
    hits: tuple[float, ...] = ()
    """0..1 envelopes and hits of low, mid, high and the N bands, in that order (bands.BandEnvelopes)."""

    @property
    def hears_none(self) -> bool:
        """The top class is ``none``: the classifier hears none of its classes, and the dream keeps its picture."""
        return is_none(self.top_name)

    def sources(self) -> dict[str, float]:
        """The modulation sources this analysis provides (see performer.mapping.SOURCES)."""
        out = {"level": self.level_db, "peak": self.peak_db, "onset": self.onset, "centroid": self.centroid,
               "confidence": self.confidence}
        out.update(zip(("band.low", "band.mid", "band.high"), self.low_mid_high))
        out.update((f"band.{i}", v) for i, v in enumerate(self.bands, 1))
        names = ("low", "mid", "high", *range(1, len(self.bands) + 1))
        out.update((f"env.{n}", v) for n, v in zip(names, self.envelopes))
        out.update((f"hit.{n}", v) for n, v in zip(names, self.hits))
        for name, p in zip(self.classes, self.probs):
            out[f"prob.{name}"] = float(p)
        return out


def _db(x: float) -> float:
    return 20.0 * math.log10(max(x, 1e-6))


@dataclass
class AnalyzerStats(LoopStats):
    """The analyser's counts (``errors``: hops whose analysis failed, each logged; the thread goes on)."""

    hops: int = 0
    skipped_hops: int = 0
    """Hops dropped because the analyser fell behind real time (stale work is skipped, not queued)."""
    classify_ms: float = 0.0
    """Exponential moving average of the time one hop's analysis takes."""
    hop_late_ms: float = 0.0
    class_changes: int = 0
    events: int = 0
    """New sounds detected by their novelty (the fast path's events)."""
    fast_switches: int = 0
    """Class changes made by the fast path."""


class Analyzer:
    """Runs the sliding-window analysis over an :class:`AudioRing` in its own thread.

    The window and hop come from the store (``classifier.window``, ``classifier.hop``),
    as do smoothing, hysteresis, hold, lock, gain and gate, read afresh every hop.
    """

    def __init__(self, ring: AudioRing, classifier: ClassifierLike, store: ParamStore, out: Latest[Analysis],
                 *, realtime: bool = True, fast_classifier: ClassifierLike | None = None) -> None:
        self.ring = ring
        self.clf = classifier
        self.fast_clf = fast_classifier or classifier
        """Names new sounds on the fast path: a model trained on short windows, else the main classifier."""
        if (not fast_classes_fit(self.fast_clf.classes, classifier.classes)
                or self.fast_clf.sample_rate != classifier.sample_rate):
            raise ValueError(f"the fast classifier's classes and rate ({list(self.fast_clf.classes)}, "
                             f"{self.fast_clf.sample_rate} Hz) differ from the classifier's "
                             f"({list(classifier.classes)}, {classifier.sample_rate} Hz); allowed: the same "
                             f"classes, or the same without '{NONE_CLASS}'")
        self._fast_index = np.asarray([list(classifier.classes).index(c) for c in self.fast_clf.classes])
        """Where each of the fast classifier's classes is among the main classifier's."""
        self.store = store
        self.out = out
        self.realtime = realtime
        self.classes = tuple(classifier.classes)
        self.stats = AnalyzerStats()
        self._worker = Worker("analysis", self._run, timeout=1.5)
        n = len(self.classes)
        self._smoothed = np.full(n, 1.0 / n, dtype=np.float32)
        self._top = -1
        self._top_since = -math.inf  # audio time of the last change
        self._prev_spectrum: np.ndarray | None = None
        self._onset_peak = 1e-3
        self._bands = BandMeter()
        self._envelopes = BandEnvelopes()
        self._event_start: float | None = None  # audio time the current new sound began (fast path)
        self._event_confidence = 0.0  # confidence of the fast path's latest choice in this event
        self._event_named = False  # the fast path has named the event's sound (switched, or confirmed the class)
        self._last_position: int | None = None
        self.last_novelty = 0.0
        self._novelty_armed = True
        self.changes: deque[tuple[float, int, str]] = deque(maxlen=1024)
        """Recent top-class changes as (wall time, sample position, class name), oldest first."""

    # --- thread ------------------------------------------------------------------
    def warm_up(self) -> None:
        """Run every step of a hop once on made-up sound (models, FFT plans, filter banks), so the first real
        sound is classified at full speed. The engine calls it before it reports running."""
        sr = int(self.clf.sample_rate)
        t = np.arange(int(MAX_WINDOW * sr), dtype=np.float32) / sr
        audio = (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        self.clf.predict(audio[-int(float(getattr(self.clf, "window_seconds", 1.0)) * sr):])
        if self.fast_clf is not self.clf:
            self.fast_clf.predict(audio[-int(float(getattr(self.fast_clf, "window_seconds", 0.25)) * sr):])
        log_mel_numpy(audio[-sr:], sr)
        novelty(audio[-2 * sr:], sr, 0.1)
        self._spectral(audio, sr)
        self._bands.measure(audio, self.ring.rate, int(self.store.get("analysis.bands")), self.ring.rate // 10)
        self._prev_spectrum = None
        self._onset_peak = 1e-3

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        rate = self.ring.rate
        next_pos = None
        while self._worker.running:
            p = self.store.snapshot()
            hop = max(1, int(p.classifier.hop * rate))
            if next_pos is None:
                next_pos = hop
            if not self.ring.wait_for(next_pos, timeout=0.25):
                continue
            total = self.ring.total
            if self.realtime and total - next_pos >= hop:
                skipped = (total - next_pos) // hop
                self.stats.skipped_hops += skipped
                next_pos += skipped * hop
            late = (total - next_pos) / rate
            self.stats.hop_late_ms = 1000.0 * late
            try:
                self.out.put(self.analyse(next_pos, p))
            except Exception as e:  # one bad window must not stop the show
                self.stats.failed(f"{type(e).__name__}: {e}")
                log.exception("analysis of the window ending at %.2f s failed; going on", next_pos / rate)
            # a back-pressured file may run ahead by as much as the longest window still needs
            self.ring.consumed(next_pos - int(MAX_WINDOW * rate))
            next_pos += self.step(hop, next_pos / rate, p)

    def step(self, hop: int, now: float, p: Snapshot) -> int:
        """Samples to the next analysis: a hop, or half of one while a new sound waits to be named (the fast
        path looks twice as often then, so the sound is named as soon as enough of it has been heard)."""
        c = p.classifier
        waiting = (c.fast and self._event_start is not None and not self._event_named
                   and now - self._event_start < c.fast_window + 2 * c.hop)
        return max(1, hop // 2) if waiting else hop

    # --- one hop -----------------------------------------------------------------
    def analyse(self, position: int, p: Snapshot) -> Analysis:
        """Analyse the window ending at ``position`` with parameters ``p`` (a snapshot)."""
        t0 = time.perf_counter()
        rate = self.ring.rate
        c, bands_p = p.classifier, p.analysis
        win_n = int(c.window * rate)
        hop_s = c.hop
        audio = self.ring.read(position, win_n)
        gain = 10.0 ** (p.audio.gain / 20.0)
        if gain != 1.0:
            audio = audio * np.float32(gain)
        low_mid_high, bands = self._bands.measure(audio, rate, bands_p.bands, int(hop_s * rate))
        envelopes, hits = self._envelopes.update((*low_mid_high, *bands), position / rate, bands_p.attack,
                                                 bands_p.release, bands_p.hit)
        sr = int(self.clf.sample_rate)
        if rate != sr:
            audio = soxr.resample(audio, rate, sr).astype(np.float32, copy=False)
        hop_n = max(256, int(hop_s * sr))
        recent = audio[-hop_n:]
        level = _db(float(np.sqrt(np.mean(recent.astype(np.float64) ** 2))))
        peak = _db(float(np.max(np.abs(recent))) if len(recent) else 0.0)
        onset, centroid = self._spectral(recent, sr)
        silent = level < p.audio.gate

        raw = self._smoothed
        forced = None
        if c.enabled and not silent:
            # A new sound is named first; on the hop it is, its estimate stands in for the window's.
            forced = self._fast_path(audio, sr, position / rate, p)
            if forced is None:
                raw = np.asarray(self.clf.predict(audio), dtype=np.float32)
                tau = c.smoothing
                dt = hop_s if self._last_position is None else max(0.0, (position - self._last_position) / rate)
                a = 1.0 if tau <= 0 else 1.0 - math.exp(-dt / tau)
                self._smoothed = (1.0 - a) * self._smoothed + a * raw
            else:
                raw = self._smoothed
        spec = log_mel_numpy(audio, sr)
        self._last_position = position
        probs = self._smoothed
        audio_time = position / rate
        changed = self._decide(probs, audio_time, p, forced)
        ms = 1000.0 * (time.perf_counter() - t0)
        st = self.stats
        st.hops += 1
        st.classify_ms = ms if st.hops == 1 else 0.9 * st.classify_ms + 0.1 * ms
        top = self._top
        if changed:
            st.class_changes += 1
            self.changes.append((time.monotonic(), position, self.classes[top]))
        return Analysis(position=position, audio_time=audio_time, classes=self.classes,
                        probs=probs.copy(), raw_probs=np.array(raw, dtype=np.float32), top=top,
                        top_name=self.classes[top], confidence=float(probs[top]), changed=changed,
                        level_db=level, peak_db=peak, onset=onset, centroid=centroid, silent=silent,
                        spectrogram=spec, classify_ms=ms, low_mid_high=low_mid_high, bands=bands,
                        envelopes=envelopes, hits=hits)

    def _fast_path(self, audio: np.ndarray, sr: int, now: float, p: Snapshot) -> int | None:
        """The fast path: name a new sound from its first fraction of a second.

        A hop whose :func:`novelty` rises through ``classifier.novelty`` opens an *event* that starts where
        :func:`novelty` places the onset. While the event is younger than the long window, each look classifies
        the audio since the onset, once ``classifier.fast_window`` of it has arrived (with the fast classifier,
        with the main one once the sound is longer than the fast one's training windows): a class other than
        the current one at ``classifier.fast_confidence`` or more takes over at once, past the smoothing and
        the hold, since a new sound is what the hold waits for. A later look in the same event may correct that
        choice only with a more confident estimate, from more of the sound. ``classifier.lock`` stops it all.
        The fast path never names ``none``: that is left to the smoothed main path (a fast model may lack it).

        Returns the class to switch to now, or None.
        """
        c = p.classifier
        if not c.fast:
            self._event_start = None
            return None
        hop_s = c.hop
        self.last_novelty, onset = novelty(audio, sr, hop_s)
        # An event opens when the novelty rises through the threshold, or stays above it half a second on.
        if self.last_novelty < c.novelty or (
                self._event_start is not None and now - self._event_start >= 0.5):
            self._novelty_armed = True
        if self.last_novelty >= c.novelty and self._novelty_armed:
            self._novelty_armed = False
            self._event_start = now - onset
            self._event_confidence = 0.0
            self._event_named = False
            self.stats.events += 1
        if self._event_start is None:
            return None
        age = now - self._event_start
        if age > c.window:
            self._event_start = None
            return None
        if age < c.fast_window - 0.01 or c.lock:
            return None
        n = min(len(audio), int(round(age * sr)))
        # A short-window model names the first moments; once the sound is longer than the windows it was
        # trained on (by a fifth), the main classifier hears all of it since the onset.
        longest = getattr(self.fast_clf, "longest_window_seconds", getattr(self.fast_clf, "window_seconds", 1.0))
        clf = self.fast_clf if age <= 1.2 * float(longest) else self.clf
        estimate = np.asarray(clf.predict(audio[-n:]), dtype=np.float32)
        if clf is self.fast_clf and len(estimate) != len(self.classes):  # a fast model without 'none'
            full = np.zeros(len(self.classes), np.float32)
            full[self._fast_index] = estimate
            estimate = full
        best = int(np.argmax(estimate))
        confidence = float(estimate[best])
        if is_none(self.classes[best]):
            # The fast path hurries a new sound's class; "none of these" is not one, and a short window cannot
            # tell an unfamiliar sound from the room: none is left to the smoothed main path.
            return None
        if best == self._top:
            self._event_confidence = max(self._event_confidence, confidence)
            self._event_named = self._event_named or confidence >= c.fast_confidence
            return None
        if confidence < c.fast_confidence or confidence <= self._event_confidence:
            return None
        self._event_confidence = confidence
        self._event_named = True
        self._smoothed = estimate
        self.stats.fast_switches += 1
        return best

    def _decide(self, probs: np.ndarray, now: float, p: Snapshot, forced: int | None = None) -> bool:
        best = int(np.argmax(probs))
        if self._top < 0:
            self._top, self._top_since = best, now
            return True
        if p.classifier.lock:
            return False
        if forced is not None and forced != self._top:
            self._top, self._top_since = forced, now
            return True
        if best == self._top:
            return False
        if now - self._top_since < p.classifier.hold:
            return False
        if probs[best] - probs[self._top] <= p.classifier.hysteresis:
            return False
        self._top, self._top_since = best, now
        return True

    def _spectral(self, x: np.ndarray, sr: int) -> tuple[float, float]:
        """Onset strength (normalised spectral flux, 0..1) and spectral centroid (Hz) of the latest hop."""
        n = SPECTRAL_FRAME
        frame = x[-n:] if len(x) >= n else np.pad(x, (n - len(x), 0))
        mag = np.abs(np.fft.rfft(frame * _HANN))
        total = float(mag.sum())
        freqs = _frequencies(sr)
        centroid = float((freqs * mag).sum() / total) if total > 1e-9 else 0.0
        flux = 0.0
        if self._prev_spectrum is not None:
            flux = float(np.maximum(mag - self._prev_spectrum, 0.0).sum())
        self._prev_spectrum = mag
        # adaptive normalisation: the flux relative to a slowly decaying recent maximum
        self._onset_peak = max(self._onset_peak * 0.995, flux, 1e-3)
        return min(1.0, flux / self._onset_peak), centroid
