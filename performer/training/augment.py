"""Training augmentation on batches of log-mel windows ``(B, n_mels, frames)`` in dB.

What a live room does to a sound, done on the cached log-mels (mel power adds when sounds mix, so mixing in
the power domain is what a microphone hears, up to the phase between them):

* :func:`band_limit` -- nothing above a random cut-off (4 or 8 kHz, as the 8/16-kHz sources), so that a
  narrow band never tells the class (the band-limited gun-shot recordings must not teach "band-limited means
  gun shot", nor the 16-kHz background clips "band-limited means none"). The bands above the cut fall to the
  window's floor, its loudest value less ``top_db``, which is where the log-mel of a recording made at that
  bandwidth has them; it comes last, as the recorder's bandwidth comes after the room;
* :func:`quieter_room` -- the same sound recorded in a quieter place or closer to the source: what stays near
  each band's own floor (traffic, hiss, the room) sinks by a random 10-40 dB, while what rises above it (a
  siren's sweep, a bark) keeps its level, so that "a clean sound on a quiet floor" never tells ``none`` (the
  background clips and the sound-effect libraries are clean; UrbanSound8K's streets are not);
* :func:`pitch_shift` -- the sound itself a little higher or lower (another siren, a smaller dog, another
  engine's speed): each band reads the value at a frequency a random number of semitones away;
* :func:`random_eq` -- a smooth random tilt and bump across the mel bands (microphones, rooms, speakers);
* :func:`mix_background` -- background sound (none of the classes) mixed in at a random signal-to-noise
  ratio (0-20 dB);
* random gain, :func:`spec_augment` (frequency and time masks) and :func:`mixup_db` (two examples mixed in
  the power domain, soft targets). The random crop (time shift) is the data loader's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from performer.sound.features import DEFAULT_SETTINGS, FeatureSettings


@dataclass(frozen=True)
class RoomAugment:
    """How often and how strongly the room-like augmentations apply (0 turns one off)."""

    band_limit_p: float = 0.25
    band_limit_hz: tuple[float, ...] = (4000.0, 8000.0)
    eq_db: float = 6.0
    background_p: float = 0.8
    snr_db: tuple[float, float] = (0.0, 20.0)
    pitch: float = 0.0
    """Largest random pitch shift, in semitones."""
    quieter_p: float = 0.0
    """Share of examples put in a quieter room (:func:`quieter_room`)."""


def mel_band_hz(settings: FeatureSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Centre frequency of each mel band, in Hz."""
    import librosa

    return librosa.mel_frequencies(settings.n_mels + 2, fmax=settings.top_hz)[1:-1]


def floor_db(x: torch.Tensor, top_db: float = DEFAULT_SETTINGS.top_db) -> torch.Tensor:
    """Each example's silence, ``(B, 1, 1)``: its loudest value less ``top_db``, where the features put it."""
    return x.amax(dim=(1, 2), keepdim=True) - top_db


def band_limit(x: torch.Tensor, band_hz: np.ndarray, rng: np.random.Generator, p: float,
               cutoffs_hz: tuple[float, ...], top_db: float = DEFAULT_SETTINGS.top_db) -> torch.Tensor:
    """With probability ``p`` per example, the bands above a random cut-off from ``cutoffs_hz`` fall silent:
    to the example's loudest value less ``top_db``, where the features' ``top_db`` puts silence (a constant far
    below it, such as :data:`performer.sound.features.FLOOR_DB`, is something no recording shows)."""
    if p <= 0 or not cutoffs_hz:
        return x
    x = x.clone()
    silence = floor_db(x, top_db)
    for i in np.flatnonzero(rng.random(x.shape[0]) < p):
        cut = float(rng.choice(cutoffs_hz))
        x[i, band_hz > cut, :] = silence[i]
    return x


def quieter_room(x: torch.Tensor, rng: np.random.Generator, p: float, quantile: float = 0.5,
                 margin_db: float = 6.0, sink_db: tuple[float, float] = (10.0, 40.0),
                 top_db: float = DEFAULT_SETTINGS.top_db) -> torch.Tensor:
    """With probability ``p`` per example, a spectral gate: the level is the log-mel smoothed over 3 bands and
    5 frames (so that a steady noise's own flicker does not open and close the gate), each band's floor the
    ``quantile`` of its level over the window's frames; where the level is at or below the floor the value
    sinks by the example's random ``sink_db``, where it is ``margin_db`` above it or more it keeps its level,
    linearly between; nothing sinks below the example's loudest value less ``top_db``. A steady sound (every
    band near its floor) sinks nearly as a whole, which the per-window centring of the input undoes; a moving
    sound over a steady bed comes out on a quiet floor."""
    if p <= 0:
        return x
    use = np.flatnonzero(rng.random(x.shape[0]) < p)
    if not len(use):
        return x
    x = x.clone()
    part = x[use]
    level = F.avg_pool2d(part[:, None], (3, 5), stride=1, padding=(1, 2), count_include_pad=False)[:, 0]
    floor = torch.quantile(level, quantile, dim=2, keepdim=True)
    share = torch.clamp((floor + margin_db - level) / margin_db, 0.0, 1.0)
    sink = torch.from_numpy(rng.uniform(sink_db[0], sink_db[1], len(use)).astype(np.float32)).view(-1, 1, 1)
    x[use] = torch.maximum(part - share * sink, floor_db(part, top_db))
    return x


def pitch_shift(x: torch.Tensor, band_hz: np.ndarray, semitones: np.ndarray,
                top_db: float = DEFAULT_SETTINGS.top_db) -> torch.Tensor:
    """Example ``i`` shifted by ``semitones[i]``: band ``m`` takes the value the example has at
    ``band_hz[m]`` / 2^(shift/12), interpolated between bands (in dB). Frequencies below the lowest band take
    its value; above the highest band nothing was recorded, so those bands fall to the example's floor (its
    loudest value less ``top_db``)."""
    n = x.shape[1]
    source_hz = band_hz[None, :] / np.power(2.0, np.asarray(semitones, np.float64)[:, None] / 12.0)
    pos = np.stack([np.interp(f, band_hz, np.arange(n, dtype=np.float64), right=np.inf) for f in source_hz])
    above = torch.from_numpy(np.isinf(pos))[:, :, None].expand(-1, -1, x.shape[2])
    pos = np.minimum(pos, n - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), n - 2)
    w = torch.from_numpy((pos - lo).astype(np.float32))[:, :, None]
    lo_t = torch.from_numpy(lo)[:, :, None].expand(-1, -1, x.shape[2])
    out = torch.gather(x, 1, lo_t) * (1 - w) + torch.gather(x, 1, lo_t + 1) * w
    return torch.where(above, floor_db(x, top_db).expand_as(out), out)


def random_eq(x: torch.Tensor, rng: np.random.Generator, max_db: float, points: int = 4) -> torch.Tensor:
    """A smooth random gain curve across the bands (``points`` control points within ±``max_db``)."""
    if max_db <= 0:
        return x
    b, n_mels, _ = x.shape
    knots = rng.uniform(-max_db, max_db, (b, points)).astype(np.float32)
    curve = np.stack([np.interp(np.linspace(0, points - 1, n_mels), np.arange(points), k) for k in knots])
    return x + torch.from_numpy(curve.astype(np.float32))[:, :, None]


def mix_background(x: torch.Tensor, noise: torch.Tensor, snr_db: np.ndarray) -> torch.Tensor:
    """``x`` and ``noise`` (same shape, dB) mixed in the power domain, the noise scaled to ``snr_db`` below
    each example's mean power."""
    px = torch.pow(10.0, x / 10.0)
    pn = torch.pow(10.0, noise / 10.0)
    ratio = px.mean(dim=(1, 2)) / torch.clamp(pn.mean(dim=(1, 2)), min=1e-12)
    scale = ratio * torch.from_numpy(np.power(10.0, -np.asarray(snr_db, np.float32) / 10.0))
    mixed = px + scale.view(-1, 1, 1) * pn
    return 10.0 * torch.log10(torch.clamp(mixed, min=1e-10))


def spec_augment(x: torch.Tensor, rng: np.random.Generator, n_freq: int = 2, f_max: int = 16, n_time: int = 2,
                 t_frac: float = 0.125) -> torch.Tensor:
    """SpecAugment masks on a batch ``(B, F, T)``, filled with each example's mean (in place on a copy)."""
    x = x.clone()
    b, nf, nt = x.shape
    fill = x.mean(dim=(1, 2))
    t_max = max(1, int(nt * t_frac))
    for i in range(b):
        for _ in range(n_freq):
            w = int(rng.integers(0, f_max + 1))
            f0 = int(rng.integers(0, max(1, nf - w)))
            x[i, f0:f0 + w, :] = fill[i]
        for _ in range(n_time):
            w = int(rng.integers(0, t_max + 1))
            t0 = int(rng.integers(0, max(1, nt - w)))
            x[i, :, t0:t0 + w] = fill[i]
    return x


def mixup_db(x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator, n_classes: int):
    """Mixup of dB spectrograms in the power domain; returns (mixed, soft targets)."""
    targets = F.one_hot(y, n_classes).float()
    if alpha <= 0:
        return x, targets
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=x.shape[0]).astype(np.float32))
    lam = torch.maximum(lam, 1 - lam)  # the first example dominates
    perm = torch.from_numpy(rng.permutation(x.shape[0]))
    l3 = lam.view(-1, 1, 1)
    p = l3 * torch.pow(10.0, x / 10.0) + (1 - l3) * torch.pow(10.0, x[perm] / 10.0)
    mixed = 10.0 * torch.log10(torch.clamp(p, min=1e-10))
    return mixed, lam.view(-1, 1) * targets + (1 - lam.view(-1, 1)) * targets[perm]


def room(x: torch.Tensor, rng: np.random.Generator, aug: RoomAugment, band_hz: np.ndarray,
         noise: torch.Tensor | None) -> torch.Tensor:
    """A quieter room, pitch, EQ, (when ``noise`` windows are given, one per example) background at a random
    SNR, then band-limiting: the order of a recording chain (the place and the source, room and microphone, the
    recorder's bandwidth)."""
    x = quieter_room(x, rng, aug.quieter_p)
    if aug.pitch > 0:
        x = pitch_shift(x, band_hz, rng.uniform(-aug.pitch, aug.pitch, x.shape[0]))
    x = random_eq(x, rng, aug.eq_db)
    if noise is not None and aug.background_p > 0:
        snr = rng.uniform(aug.snr_db[0], aug.snr_db[1], x.shape[0])
        mixed = mix_background(x, noise, snr)
        use = torch.from_numpy(rng.random(x.shape[0]) < aug.background_p).view(-1, 1, 1)
        x = torch.where(use, mixed, x)
    return band_limit(x, band_hz, rng, aug.band_limit_p, aug.band_limit_hz)
