"""A streaming beat tracker over an onset envelope: tempo by autocorrelation, phase by a comb, downbeat by accent.

Every update looks at the last few seconds of the envelope
(:mod:`performer.tempo.onsets`):

- **tempo**: the envelope's autocorrelation, scored for each candidate beat
  period by a comb over its first four multiples; of a period and its half
  (the same music heard twice as fast) the faster wins when it scores nearly
  as well, so a click at 174 BPM is not taken for 87;
- **phase**: a comb of that period slid over the recent envelope (recent
  beats weigh most) says where the latest beat fell;
- **tracking**: the first tempo is taken when two measurements in a row agree;
  then the running beat clock moves towards each measurement by a fraction, so
  the phase does not jitter; a new tempo that two measurements in a row agree
  on replaces the old one at once (a new track);
- **refining**: the autocorrelation reads a period to a twentieth of a frame at
  best (0.2 % at 128 BPM, a beat off within a minute), so once beats have been
  placed for :data:`FIT_BEATS` beats the period is the slope of a line through
  the beats placed (each update places the latest beat; up to :data:`FIT_SECONDS`
  of them), which is exact to a few hundredths of a percent;
- **downbeat**: a backbeat (a snare's crack in the mid bands on two and four)
  leaves two candidates, one and three; of those, or of all four without a
  backbeat, the clearly loudest beat over the last bars is the first of the bar,
  and where one and three sound alike (a kick on every beat, four on the floor)
  the one where the low spectrum (bass, chords) changes most from the half bar
  before to the half bar after is: harmony changes on the bar (``tempo.downbeat`` sets it by hand).

Everything here counts in envelope frames; :class:`performer.tempo.listener.AudioBeat`
turns the result into a :class:`~performer.tempo.grid.BeatGrid` in seconds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from performer.tempo.grid import BEATS_PER_BAR, wrap

MIN_BPM = 70.0
MAX_BPM = 190.0
"""The tempi the tracker chooses between: 70 to 190 BPM (ballads to drum'n'bass); music outside is read at
double or half speed."""
WINDOW = 8.0
"""Seconds of envelope each tempo estimate looks at."""
MIN_SECONDS = 3.0
"""Seconds of sound needed before the first estimate."""
FASTER_WINS = 0.85
"""A period half as long is chosen when its score is at least this fraction of the best score."""
MIN_SALIENCE = 0.25
"""A comb score below this is no beat (noise, a pad, silence: 0.23 at most, measured; drum loops score 0.3 to
0.95, clicks 0.9 and more): the clock keeps running as it was."""
QUIET = 0.1
QUIET_SECONDS = 1.5
"""When the last 1.5 s hold no onset a tenth as strong as the window's strongest, the clock runs on unchanged."""
PHASE_GAIN = 0.35
TEMPO_GAIN = 0.25
ACCENT_MARGIN = 1.0
"""dB by which a beat of the bar must be louder than every other (on average) to become the downbeat."""
BACKBEAT = 1.5
"""When beats two and four (or one and three) of the bar crack in the mid bands this many times as much as the
other two, they are the backbeat (a snare on two and four) and the bar begins on one of the other two."""
CHANGE_MARGIN = 1.3
"""When no beat left is clearly the loudest, the one where the low spectrum changes this many times as much as at
any other begins the bar (chords and bass notes change on the bar); otherwise the bar stays where it is."""
TEMPO_TOLERANCE = 0.04
"""Estimates within 4 % of the running tempo refine it; further off they count as a candidate new tempo."""
OCTAVE_HOLD = 25
"""Measurements in a row (five seconds) that double or halve the running tempo before it changes: a pattern can
read at half speed now and then (a house loop at 160 flipped to 80 and back ten times in 40 s); a real change of
octave is rare, and ``tempo.double`` / ``tempo.halve`` make it at once."""
FIT_BEATS = 8
"""Beats between the first and the last beat placed before their line gives the period."""
FIT_SECONDS = 24.0
"""Seconds of placed beats the line goes through."""
FIT_OUTLIER = 0.15
"""A placed beat further than this fraction of a beat off the line is left out of it."""


@dataclass
class TrackerState:
    """The running beat clock in envelope frames: beat ``beat`` fell at frame ``frame``; ``period`` frames a beat."""

    frame: float
    beat: float
    period: float
    downbeat: int = 0
    """Beat numbers ``downbeat``, ``downbeat + 4`` ... begin bars."""
    salience: float = 0.0


def smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing (``sigma`` in frames) with a kernel cut at three sigmas."""
    r = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return np.convolve(x, k / k.sum(), mode="same")


def detrend(env: np.ndarray, width: int) -> np.ndarray:
    """The envelope above its moving average over ``width`` frames (a sound starting or stopping is no beat)."""
    if len(env) <= width:
        return np.maximum(env - env.mean(), 0.0)
    kernel = np.ones(width) / width
    padded = np.pad(env, (width // 2, width - 1 - width // 2), mode="edge")
    return np.maximum(env - np.convolve(padded, kernel, mode="valid"), 0.0)


def autocorrelation(env: np.ndarray, max_lag: int) -> np.ndarray:
    """Unbiased, normalised autocorrelation of the mean-removed envelope at lags 0..max_lag."""
    x = env.astype(np.float64) - float(env.mean())
    n = len(x)
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[: max_lag + 1]
    ac = ac / (n - np.arange(max_lag + 1))
    return ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)


def tempo_scores(env: np.ndarray, fps: float, min_bpm: float = MIN_BPM,
                 max_bpm: float = MAX_BPM) -> tuple[np.ndarray, np.ndarray]:
    """Candidate beat periods (frames, from ``60 / max_bpm`` s to ``60 / min_bpm`` s) and each one's comb score."""
    lo, hi = 60.0 * fps / max_bpm, 60.0 * fps / min_bpm
    periods = np.arange(lo, hi, 0.05)
    max_lag = int(math.ceil(4 * hi)) + 2
    if len(env) < max_lag + int(2 * fps):
        max_lag = len(env) - int(2 * fps)
    ac = autocorrelation(smooth(detrend(env, int(fps)), 1.0), max_lag)
    lags = np.arange(len(ac))
    score = np.zeros_like(periods)
    used = np.zeros_like(periods)
    for k in (1, 2, 3, 4):
        ok = k * periods <= max_lag
        score[ok] += np.interp(k * periods[ok], lags, ac)
        used[ok] += 1
    return periods, score / np.maximum(used, 1)


def best_period(env: np.ndarray, fps: float, min_bpm: float = MIN_BPM,
                max_bpm: float = MAX_BPM) -> tuple[float, float]:
    """The beat period (frames) the envelope repeats at, and its score (0..1); see the module docstring."""
    periods, score = tempo_scores(env, fps, min_bpm, max_bpm)
    i = int(np.argmax(score))
    half = periods[i] / 2.0
    if half >= periods[0]:
        j = int(np.argmin(np.abs(periods - half)))
        lo, hi = max(0, j - 3), min(len(periods), j + 4)  # the half's own peak, within +-0.15 frames
        j = lo + int(np.argmax(score[lo:hi]))
        if score[j] >= FASTER_WINS * score[i]:
            i = j
    return _refine(periods, score, i), float(score[i])


def _refine(periods: np.ndarray, score: np.ndarray, i: int) -> float:
    """The peak's period between the grid's steps (a parabola through the peak and its neighbours)."""
    if 0 < i < len(score) - 1:
        a, b, c = score[i - 1], score[i], score[i + 1]
        den = a - 2 * b + c
        if den < 0:
            shift = min(0.5, max(-0.5, 0.5 * (a - c) / den))  # a flat top must not throw the peak away
            return float(periods[i] + shift * (periods[1] - periods[0]))
    return float(periods[i])


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine distance between two spectra (0: the same shape, whatever the loudness)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0.0 or nb == 0.0 else 1.0 - float(a @ b) / (na * nb)


def onset_near(env: np.ndarray, at: float, reach: float) -> float | None:
    """The frame (between frames) of the strongest onset within ``reach`` frames of frame ``at``, or None when
    it lies at the edge of that reach (no peak there)."""
    lo, hi = int(math.floor(at - reach)), int(math.ceil(at + reach)) + 1
    if lo < 1 or hi > len(env) - 1:
        return None
    e = smooth(env[lo - 1:hi + 1], 1.0)[1:-1]
    i = int(np.argmax(e))
    if i == 0 or i == len(e) - 1:
        return None
    a, b, c = e[i - 1], e[i], e[i + 1]
    den = a - 2 * b + c
    shift = 0.5 * (a - c) / den if den < 0 else 0.0
    return lo + i + float(min(0.5, max(-0.5, shift)))


def latest_beat(env: np.ndarray, period: float, beats: int = 8, decay: float = 0.8) -> float:
    """Frames back from the envelope's last frame to the latest beat, by a decaying comb of ``period``."""
    e = smooth(env, 1.5)
    n = len(e)
    offsets = np.arange(0.0, period, 0.25)
    idx = np.arange(n, dtype=np.float64)
    score = np.zeros_like(offsets)
    for k in range(beats):
        pos = n - 1 - offsets - k * period
        ok = pos >= 0
        score[ok] += decay ** k * np.interp(pos[ok], idx, e)
    return _refine(offsets, score, int(np.argmax(score)))  # between the quarter frames: the line's slope is exact


class BeatTracker:
    """Keeps a beat clock in step with an onset envelope; call :meth:`update` a few times a second."""

    def __init__(self, fps: float, *, min_bpm: float = MIN_BPM, max_bpm: float = MAX_BPM) -> None:
        self.fps = fps
        self.min_bpm, self.max_bpm = min_bpm, max_bpm
        self.state: TrackerState | None = None
        self._candidate: float | None = None
        self._accents = np.zeros(BEATS_PER_BAR)
        self._snare = np.zeros(BEATS_PER_BAR)
        self._change = np.zeros(BEATS_PER_BAR)
        self._placed: deque[tuple[float, float]] = deque(maxlen=int(FIT_SECONDS * 5))
        """``(beat number, frame)`` of the beats placed since the tempo was taken (one an update)."""
        self._octave_run = 0
        """Measurements in a row at double or half the running tempo."""
        self.manual_downbeat = False
        """Set by :meth:`set_downbeat`: the accent guess no longer moves the bar."""
        self.updates = 0
        self.tempo_changes = 0

    def update(self, env: np.ndarray, last_frame: int, level: np.ndarray | None = None,
               mid: np.ndarray | None = None, low: np.ndarray | None = None) -> TrackerState | None:
        """Measure the envelope ``env`` (its last value is frame ``last_frame``) and move the clock towards it.

        ``level`` (dB per frame, aligned with ``env``) is what the downbeat guess compares; without it, ``env``.
        ``mid`` (the mid bands' flux) and ``low`` (the low spectrum, frames × bands), aligned too, let it find
        a backbeat and where the harmony changes (:meth:`~performer.tempo.onsets.OnsetEnvelope.recent_bands`).
        """
        if len(env) < MIN_SECONDS * self.fps or not np.any(env > 0):
            return self.state
        if env[-int(QUIET_SECONDS * self.fps):].max() < QUIET * env.max():
            return self.state  # a break: nothing new to follow, the clock runs on
        period, salience = best_period(env[-int(WINDOW * self.fps):], self.fps, self.min_bpm, self.max_bpm)
        if salience < MIN_SALIENCE:
            return self.state
        self.updates += 1
        st = self.state
        # a period the line refined places the beat better than the measurement's own, once they agree
        comb = st.period if st is not None and abs(period / st.period - 1.0) <= TEMPO_TOLERANCE else period
        beat_frame = last_frame - latest_beat(env, comb)
        if st is None:  # the first tempo needs two measurements that agree
            if self._candidate is not None and abs(period / self._candidate - 1.0) <= TEMPO_TOLERANCE:
                self._candidate = None
                self.state = TrackerState(beat_frame, 0.0, period, 0, salience)
                self._placed.clear()
                self._placed.append((0.0, beat_frame))
            else:
                self._candidate = period
            return self.state
        st.salience = salience
        predicted = st.beat + (beat_frame - st.frame) / st.period
        octave = any(abs(period / st.period - r) <= TEMPO_TOLERANCE * r for r in (0.5, 2.0))
        self._octave_run = self._octave_run + 1 if octave else 0
        if abs(period / st.period - 1.0) <= TEMPO_TOLERANCE:
            self._candidate = None
            st.period += TEMPO_GAIN * (period - st.period)
        elif octave and self._octave_run < OCTAVE_HOLD:
            return st  # the same music heard at double or half speed for a moment: not a new tempo yet
        elif self._candidate is not None and abs(period / self._candidate - 1.0) <= TEMPO_TOLERANCE:
            # two measurements agree on a new tempo: take it, and its phase, at once
            self._candidate = None
            self.tempo_changes += 1
            self.state = TrackerState(beat_frame, float(round(predicted)), period,
                                      st.downbeat, salience)
            self._placed.clear()
            self._placed.append((float(round(predicted)), beat_frame))
            if not self.manual_downbeat:
                for evidence in (self._accents, self._snare, self._change):
                    evidence[:] = 0.0
            return self.state
        else:
            self._candidate = period
            return st
        error = wrap(predicted)
        st.beat = predicted - PHASE_GAIN * error
        st.frame = beat_frame
        peak = onset_near(env, len(env) - 1 - (last_frame - beat_frame), 0.2 * st.period)
        if peak is not None:  # placed by its own onset: a comb of a slightly wrong period would bend the line
            self._placed.append((float(round(predicted)), last_frame - (len(env) - 1) + peak))
        fitted = self._fit()
        if fitted is not None and abs(fitted / st.period - 1.0) <= TEMPO_TOLERANCE:
            st.period = fitted
        self._guess_downbeat(level if level is not None else smooth(env, 1.5), last_frame, mid, low)
        return st

    def _fit(self) -> float | None:
        """The period (frames) of the line through the beats placed, leaving out the ones far off it; None
        until they span :data:`FIT_BEATS` beats."""
        if len(self._placed) < 4:
            return None
        beats = np.array([b for b, _ in self._placed])
        frames = np.array([f for _, f in self._placed])
        keep = np.ones(len(beats), dtype=bool)
        for _ in range(2):
            if np.ptp(beats[keep]) < FIT_BEATS:
                return None
            slope, intercept = np.polyfit(beats[keep], frames[keep], 1)
            keep = np.abs(frames - (intercept + slope * beats)) <= FIT_OUTLIER * slope
            if keep.sum() < 4:
                return None
        return float(slope)

    def _guess_downbeat(self, e: np.ndarray, last_frame: int, mid: np.ndarray | None = None,
                        low: np.ndarray | None = None) -> None:
        """Accumulate, for each beat of the bar, its accent (the loudest frame at the beat), its mid-band onset
        (a snare's crack) and how much the low spectrum changes from the half bar before to the half bar after
        (a new chord or bass note);
        then pick the bar's first beat (see :data:`BACKBEAT`)."""
        st = self.state
        if st is None or self.manual_downbeat:
            return
        first = last_frame - len(e) + 1
        strength, snare, change, count = (np.zeros(BEATS_PER_BAR) for _ in range(4))
        b = math.ceil(st.beat + (first - st.frame) / st.period)
        half = max(1, int(2 * st.period))  # half a bar, in frames
        while True:
            f = st.frame + (b - st.beat) * st.period
            i = int(round(f - first))
            if i >= len(e) - 5:
                break
            if i >= 2:
                j = b % BEATS_PER_BAR
                strength[j] += float(e[i - 2:i + 5].max())
                count[j] += 1
                if mid is not None:
                    snare[j] += float(mid[i - 2:i + 5].max())
                if low is not None and half <= i <= len(low) - half:
                    # the half bar before against the half bar after: the rhythm differs as much either way
                    # round (a kick on the and of three), the harmony changes on the bar
                    change[j] += _distance(low[i - half:i].mean(axis=0), low[i:i + half].mean(axis=0))
            b += 1
        if not count.all():
            return
        strength /= count
        strength -= strength.mean()  # levels in dB: only the differences between the beats count
        self._accents = 0.8 * self._accents + 0.2 * strength
        self._snare = 0.8 * self._snare + 0.2 * snare / count
        self._change = 0.8 * self._change + 0.2 * change / count
        st.downbeat = self._pick(st.downbeat)

    def _pick(self, current: int) -> int:
        """The bar's first beat from the accumulated evidence (``current`` where it does not say)."""
        candidates = list(range(BEATS_PER_BAR))
        s = self._snare
        on_odd, on_even = s[1] + s[3], s[0] + s[2]
        if min(on_odd, on_even) > 0 and max(on_odd, on_even) > BACKBEAT * min(on_odd, on_even):
            candidates = [0, 2] if on_odd > on_even else [1, 3]  # the cracks are on two and four
        by_accent = sorted(candidates, key=lambda j: self._accents[j], reverse=True)
        if self._accents[by_accent[0]] > self._accents[by_accent[1]] + ACCENT_MARGIN:
            return by_accent[0]  # the loudest beat, clearly
        # the beats sound alike (a kick on every beat, or on one and three): where the harmony changes, a bar begins
        by_change = sorted(candidates, key=lambda j: self._change[j], reverse=True)
        if self._change[by_change[0]] > CHANGE_MARGIN * self._change[by_change[1]]:
            return by_change[0]
        return current if current in candidates else by_accent[0]

    def set_downbeat(self, frame: float) -> None:
        """The beat nearest ``frame`` begins a bar (the performer's ``tempo.downbeat``)."""
        st = self.state
        if st is None:
            return
        b = int(round(st.beat + (frame - st.frame) / st.period))
        st.downbeat = b % BEATS_PER_BAR
        self.manual_downbeat = True

    def bpm(self) -> float | None:
        return None if self.state is None else 60.0 * self.fps / self.state.period
