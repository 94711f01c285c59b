"""Streaming analysis: a sliding window over the input, classified every hop, in its own thread.

Each hop the analyser reads the latest window from the ring, measures the
sound (RMS and peak level, onset strength, spectral centroid), classifies it,
smooths the class probabilities over time and decides the top class with
hysteresis and a minimum hold, so the image does not flicker between two
classes. The result is an immutable :class:`Analysis` handed over through a
:class:`Latest` slot that keeps only the newest value.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from performer.audio_input import AudioRing
from performer.params import REGISTRY, ParamStore

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_WINDOW: float = REGISTRY.get("classifier.window").max  # type: ignore[assignment]



class Latest(Generic[T]):
    """A one-slot hand-off: writers replace the value; a value replaced before anyone took it counts as dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._fresh = False
        self.dropped = 0
        self.version = 0

    def put(self, value: T) -> None:
        with self._lock:
            if self._fresh:
                self.dropped += 1
            self._value = value
            self._fresh = True
            self.version += 1

    def take(self) -> T | None:
        """The newest value if it is new since the last take, else None."""
        with self._lock:
            if not self._fresh:
                return None
            self._fresh = False
            return self._value

    def peek(self) -> T | None:
        """The newest value, new or not (marks it taken)."""
        with self._lock:
            self._fresh = False
            return self._value


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
    """True on the hop where the top class changed."""
    level_db: float
    peak_db: float
    onset: float
    centroid: float
    silent: bool
    spectrogram: np.ndarray = field(repr=False)
    """Log-mel spectrogram of the window, dB (mels x frames)."""
    classify_ms: float

    def sources(self) -> dict[str, float]:
        """The modulation sources this analysis provides (see performer.mapping.SOURCES)."""
        out = {"level": self.level_db, "peak": self.peak_db, "onset": self.onset, "centroid": self.centroid,
               "confidence": self.confidence}
        for name, p in zip(self.classes, self.probs):
            out[f"prob.{name}"] = float(p)
        return out


def _db(x: float) -> float:
    return 20.0 * math.log10(max(x, 1e-6))


@dataclass
class AnalyzerStats:
    hops: int = 0
    skipped_hops: int = 0
    """Hops dropped because the analyser fell behind real time (stale work is skipped, not queued)."""
    classify_ms: float = 0.0
    """Exponential moving average of the time one hop's analysis takes."""
    hop_late_ms: float = 0.0
    class_changes: int = 0
    fast_switches: int = 0
    """Hops where the short window's estimate took over (the fast path)."""
    errors: int = 0


class Analyzer:
    """Runs the sliding-window analysis over an :class:`AudioRing` in its own thread.

    The window and hop come from the store (``classifier.window``, ``classifier.hop``),
    as do smoothing, hysteresis, hold, lock, gain and gate, read afresh every hop.
    """

    def __init__(self, ring: AudioRing, classifier: ClassifierLike, store: ParamStore, out: Latest[Analysis],
                 *, realtime: bool = True) -> None:
        self.ring = ring
        self.clf = classifier
        self.store = store
        self.out = out
        self.realtime = realtime
        self.classes = tuple(classifier.classes)
        self.stats = AnalyzerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        n = len(self.classes)
        self._smoothed = np.full(n, 1.0 / n, dtype=np.float32)
        self._top = -1
        self._top_since = -math.inf  # audio time of the last change
        self._prev_spectrum: np.ndarray | None = None
        self._onset_peak = 1e-3
        self._fast_candidate = -1  # the class the short window saw on the previous hop, for the fast path
        self.changes: deque[tuple[float, int, str]] = deque(maxlen=1024)
        """Recent top-class changes as (wall time, sample position, class name), oldest first."""

    # --- thread ------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="analysis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.5)

    def _run(self) -> None:
        rate = self.ring.rate
        next_pos = None
        while not self._stop.is_set():
            p = self.store.snapshot()
            hop = max(1, int(p["classifier.hop"] * rate))
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
            except Exception:  # one bad window must not stop the show
                self.stats.errors += 1
                log.exception("analysis of the window ending at %.2f s failed; going on", next_pos / rate)
            # a back-pressured file may run ahead by as much as the longest window still needs
            self.ring.consumed(next_pos - int(MAX_WINDOW * rate))
            next_pos += hop

    # --- one hop -----------------------------------------------------------------
    def analyse(self, position: int, p: Mapping[str, Any]) -> Analysis:
        """Analyse the window ending at ``position`` with parameters ``p`` (a snapshot)."""
        t0 = time.perf_counter()
        rate = self.ring.rate
        win_n = int(p["classifier.window"] * rate)
        hop_s = float(p["classifier.hop"])
        audio = self.ring.read(position, win_n)
        gain = 10.0 ** (p["audio.gain"] / 20.0)
        if gain != 1.0:
            audio = audio * np.float32(gain)
        sr = int(self.clf.sample_rate)
        if rate != sr:
            import soxr

            audio = soxr.resample(audio, rate, sr).astype(np.float32, copy=False)
        hop_n = max(256, int(hop_s * sr))
        recent = audio[-hop_n:]
        level = _db(float(np.sqrt(np.mean(recent.astype(np.float64) ** 2))))
        peak = _db(float(np.max(np.abs(recent))) if len(recent) else 0.0)
        onset, centroid = self._spectral(recent, sr)
        silent = level < p["audio.gate"]

        from performer.features import log_mel

        spec = log_mel(audio, sr)
        raw = self._smoothed
        if p["classifier.enabled"] and not silent:
            raw = np.asarray(self.clf.predict(audio), dtype=np.float32)
            tau = p["classifier.smoothing"]
            a = 1.0 if tau <= 0 else 1.0 - math.exp(-hop_s / tau)
            self._smoothed = (1.0 - a) * self._smoothed + a * raw
            self._fast_path(audio, sr, p)
        probs = self._smoothed
        audio_time = position / rate
        changed = self._decide(probs, audio_time, p)
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
                        spectrogram=spec, classify_ms=ms)

    def _fast_path(self, audio: np.ndarray, sr: int, p: Mapping[str, Any]) -> bool:
        """The fast path: classify a short recent window too; when two hops in a row agree, confidently,
        on a class other than the current one, take that estimate at once instead of waiting for the new
        sound to fill the long window and the smoothing.

        Returns True when the estimate replaced the smoothed probabilities (hysteresis and hold still apply).
        """
        if not p["classifier.fast"]:
            self._fast_candidate = -1
            return False
        n = int(p["classifier.fast_window"] * sr)
        estimate = np.asarray(self.clf.predict(audio[-n:]), dtype=np.float32)
        best = int(np.argmax(estimate))
        if best == self._top or estimate[best] < p["classifier.fast_confidence"]:
            self._fast_candidate = -1
            return False
        if best != self._fast_candidate:  # a first sighting: wait for the next hop to agree
            self._fast_candidate = best
            return False
        self._fast_candidate = -1
        self._smoothed = estimate
        self.stats.fast_switches += 1
        return True

    def _decide(self, probs: np.ndarray, now: float, p: Mapping[str, Any]) -> bool:
        best = int(np.argmax(probs))
        if self._top < 0:
            self._top, self._top_since = best, now
            return True
        if best == self._top or p["classifier.lock"]:
            return False
        if now - self._top_since < p["classifier.hold"]:
            return False
        if probs[best] - probs[self._top] <= p["classifier.hysteresis"]:
            return False
        self._top, self._top_since = best, now
        return True

    def _spectral(self, x: np.ndarray, sr: int) -> tuple[float, float]:
        """Onset strength (normalised spectral flux, 0..1) and spectral centroid (Hz) of the latest hop."""
        n = 1024
        frame = x[-n:] if len(x) >= n else np.pad(x, (n - len(x), 0))
        mag = np.abs(np.fft.rfft(frame * np.hanning(n)))
        total = float(mag.sum())
        freqs = np.fft.rfftfreq(n, 1.0 / sr)
        centroid = float((freqs * mag).sum() / total) if total > 1e-9 else 0.0
        flux = 0.0
        if self._prev_spectrum is not None:
            flux = float(np.maximum(mag - self._prev_spectrum, 0.0).sum())
        self._prev_spectrum = mag
        # adaptive normalisation: the flux relative to a slowly decaying recent maximum
        self._onset_peak = max(self._onset_peak * 0.995, flux, 1e-3)
        return min(1.0, flux / self._onset_peak), centroid
