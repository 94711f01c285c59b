"""The onset envelope a beat tracker listens to: log-compressed spectral flux, 100 frames a second.

The analyser's own onset strength comes once per classifier hop (a tenth of a
second); a beat tracker needs the onsets placed within a few milliseconds, so
this envelope is computed from the audio ring on its own: a 46 ms Hann frame
every 10 ms, its magnitude spectrum summed into 40 mel bands, log-compressed,
and the positive change against the previous frame (maximum-filtered across
neighbouring bands, so a slide in pitch does not read as a new note) summed
over the bands, the bands below 300 Hz (kick, bass, the body of a snare) weighing
six times as much, so the beat is heard where the drums put it rather than on the
hi-hats. Frame ``i`` ends at sample ``i * hop``; an onset it reports is placed
three eighths of a frame before that end (:meth:`OnsetEnvelope.position`: the
log-compressed flux rises as soon as a sound enters the window's tail), which
puts the beats of clicks and drum loops within about 6 ms of the truth
(measured in ``benchmarks/tempo.md``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from performer.sound.features import mel_filter_bank, mel_frequencies

FRAME_RATE = 100.0
"""Envelope frames per second (nominal: the hop is a whole number of samples)."""
N_BANDS = 40
COMPRESSION = 30.0
"""``log10(1 + COMPRESSION * magnitude)``: loudness compressed, so quiet hits count too."""
LOW_HZ = 300.0
LOW_WEIGHT = 6.0
"""Bands centred below ``LOW_HZ`` weigh ``LOW_WEIGHT`` times as much in the flux."""
MID_HZ = (300.0, 4000.0)
"""Bands whose own flux is kept as the mid envelope: where a snare's crack is, and not a kick (the backbeat)."""
HARMONY_HZ = 600.0
"""Bands centred below this are kept as the low spectrum (bass notes and chords: a bar's harmony)."""
SILENT_DB = -100.0

Reader = Callable[[int, int], np.ndarray]
"""``read(end, n)``: the ``n`` samples ending at absolute position ``end`` (``AudioRing.read``)."""


class OnsetEnvelope:
    """Streaming onset envelope over absolute sample positions, keeping the last ``keep`` seconds of it."""

    def __init__(self, rate: int, keep: float = 12.0) -> None:
        self.rate = int(rate)
        self.hop = max(1, int(round(self.rate / FRAME_RATE)))
        self.fps = self.rate / self.hop
        """Exact envelope frames per second."""
        self.n_fft = 1 << int(round(np.log2(0.046 * self.rate)))
        window = np.hanning(self.n_fft).astype(np.float32)
        self._window = window * np.float32(2.0 / window.sum())  # a full-scale sine reads about 1
        fmax = min(11025.0, self.rate / 2.0)
        bands = mel_filter_bank(self.rate, self.n_fft, N_BANDS, 30.0, fmax, norm=None)  # numpy: no numba
        self._bins = int(np.nonzero(bands.any(axis=0))[0].max()) + 1
        self._bands = np.ascontiguousarray(bands[:, :self._bins], dtype=np.float32)
        centres = mel_frequencies(N_BANDS + 2, 30.0, fmax)[1:-1]
        self._weights = np.where(centres < LOW_HZ, LOW_WEIGHT, 1.0).astype(np.float32)
        self._mid_bands = ((centres >= MID_HZ[0]) & (centres < MID_HZ[1])).astype(np.float32)
        self._harmony = int(np.count_nonzero(centres < HARMONY_HZ))
        self.size = int(keep * self.fps)
        self._env = np.zeros(self.size, dtype=np.float32)
        self._level = np.full(self.size, SILENT_DB, dtype=np.float32)
        self._mid = np.zeros(self.size, dtype=np.float32)
        self._low = np.zeros((self.size, self._harmony), dtype=np.float32)
        self.computed = 0
        """Frames computed so far (silence filled in for a skip counts too), at most the ``keep`` seconds held."""
        self.frames = 0
        """Index of the next frame to compute (frame ``i`` ends at sample ``i * hop``)."""
        self._prev: np.ndarray | None = None
        self.gaps = 0
        """Times the envelope skipped ahead because it fell more than ``max_behind`` seconds behind the input."""

    def position(self, frame: float) -> float:
        """Sample position of an onset that frame ``frame`` reports (see the module docstring)."""
        return frame * self.hop - 3.0 * self.n_fft / 8.0

    def frame_at(self, position: float) -> float:
        """The frame that reports an onset at sample ``position`` (the inverse of :meth:`position`)."""
        return (position + 3.0 * self.n_fft / 8.0) / self.hop

    def update(self, read: Reader, total: int, max_behind: float = 2.0, chunk: int = 64) -> int:
        """Compute every frame that ends at or before sample ``total``; returns how many were added.

        When more than ``max_behind`` seconds wait, the older frames are left as silence and the envelope
        picks up near the newest audio, so a stalled reader never works through stale sound.
        """
        last = total // self.hop
        if self.frames == 0 and last > 0:
            self.frames = max(1, last - int(self.fps))  # the first call starts a second back
        behind = last - self.frames
        if behind > max_behind * self.fps:
            skip = behind - int(max_behind * self.fps / 2)
            n = min(skip, self.size)
            self._append(np.zeros(n, dtype=np.float32), np.full(n, SILENT_DB, dtype=np.float32),
                         np.zeros(n, dtype=np.float32), np.zeros((n, self._harmony), dtype=np.float32))
            self.frames += skip
            self._prev = None
            self.gaps += 1
        added = 0
        while self.frames <= last:
            n = min(chunk, last + 1 - self.frames)
            first_end = self.frames * self.hop
            end = first_end + (n - 1) * self.hop
            audio = np.asarray(read(end, self.n_fft + (n - 1) * self.hop), dtype=np.float32)
            self._append(*self._flux(audio, n))
            self.frames += n
            added += n
        return added

    def _flux(self, audio: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
        """The flux, the level (dB), the mid bands' flux and the low spectrum of ``n`` frames of ``audio``."""
        frames = np.lib.stride_tricks.sliding_window_view(audio, self.n_fft)[:: self.hop][:n] * self._window
        level = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
        mag = np.abs(np.fft.rfft(frames, axis=1)[:, :self._bins]).astype(np.float32)
        # einsum rather than a matrix product: small products through a multi-threaded BLAS stall on a busy machine
        bands = np.log10(1.0 + COMPRESSION * np.einsum("fb,kb->fk", mag, self._bands))
        prev = self._prev if self._prev is not None else bands[0]
        stacked = np.vstack([prev[None, :], bands])
        ref = stacked[:-1]
        # maximum over neighbouring bands of the previous frame (SuperFlux's trick against vibrato)
        wide = np.maximum(ref, np.maximum(np.roll(ref, 1, axis=1), np.roll(ref, -1, axis=1)))
        rise = np.maximum(stacked[1:] - wide, 0.0)
        flux = rise @ self._weights
        self._prev = bands[-1]
        return (flux.astype(np.float32), np.maximum(level, SILENT_DB).astype(np.float32),
                (rise @ self._mid_bands).astype(np.float32), bands[:, :self._harmony].astype(np.float32))

    def _append(self, flux: np.ndarray, level: np.ndarray, mid: np.ndarray, low: np.ndarray) -> None:
        n = min(len(flux), self.size)
        if n == 0:
            return
        self.computed = min(self.size, self.computed + len(flux))
        for buf, values in ((self._env, flux), (self._level, level), (self._mid, mid), (self._low, low)):
            if n < self.size:
                buf[:-n] = buf[n:].copy()
            buf[-n:] = values[-n:]

    def recent(self, seconds: float) -> tuple[np.ndarray, np.ndarray, int]:
        """The last ``seconds`` (at most) of the envelope and of the frames' level in dB, oldest first, and the
        index of their last frame."""
        n = min(int(seconds * self.fps), self.computed)
        return self._env[self.size - n:].copy(), self._level[self.size - n:].copy(), self.frames - 1

    def recent_bands(self, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """The last ``seconds`` (at most, as :meth:`recent`) of the mid bands' flux and of the low spectrum
        (frames × bands below :data:`HARMONY_HZ`, log-compressed): what the downbeat guess reads."""
        n = min(int(seconds * self.fps), self.computed)
        return self._mid[self.size - n:].copy(), self._low[self.size - n:].copy()
