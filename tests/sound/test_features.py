"""Log-mel features: librosa reference vs torch implementation, input policy (rates, channels, NaN, silence)."""

from __future__ import annotations

import numpy as np
import pytest

from performer.errors import FeatureError
from performer.sound import features as F

SR = 22050


def tone(freq: float, seconds: float = 1.0, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def sweep(seconds: float = 1.0, sr: int = SR, f0: float = 100.0, f1: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds))
    return (0.3 * np.sin(phase)).astype(np.float32)


def noise_burst(seconds: float = 1.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * sr), np.float32)
    n = int(0.2 * sr)
    x[n: 2 * n] = rng.normal(0, 0.2, n)
    return x


@pytest.mark.parametrize("make", [lambda: tone(440), sweep, noise_burst,
                                  lambda: tone(3000, 2.3) + 0.01 * noise_burst(2.3)])
def test_torch_matches_librosa_within_tolerance(make):
    x = make()
    ref = F.log_mel(x, SR)
    got = F.log_mel_torch(x, SR, device="cpu")
    assert ref.shape == got.shape
    assert ref.shape[0] == 128
    diff = np.abs(ref - got).max()
    assert diff < F.PARITY_TOLERANCE_DB, f"torch and librosa log-mels differ by {diff:.4f} dB"


def test_torch_module_batches_like_single_examples():
    import torch

    batch = np.stack([tone(440), sweep(), noise_burst()])
    mod = F.TorchLogMel(device="cpu")
    with torch.inference_mode():
        out = mod(torch.from_numpy(batch)).numpy()
    for i in range(3):
        assert np.abs(out[i] - F.log_mel(batch[i], SR)).max() < F.PARITY_TOLERANCE_DB


def test_shape_and_settings_of_the_paper():
    x = tone(440, 1.0)
    db = F.log_mel(x, SR)
    assert db.shape == (128, 1 + SR // 512) == (128, F.DEFAULT_SETTINGS.frames(1.0))
    assert db.dtype == np.float32
    # power_to_db with top_db=80: nothing more than 80 dB below the peak
    assert db.max() - db.min() <= 80.0 + 1e-3
    # a 440 Hz tone peaks in a low mel band
    band = int(np.argmax(db.mean(axis=1)))
    assert 5 < band < 40


def test_image_tensor_for_imagenet_models():
    img = F.mel_image(sweep(), SR)
    assert tuple(img.shape) == (3, 224, 224)
    assert np.isfinite(img.numpy()).all()
    assert (img[0] != img[1]).any()  # ImageNet normalisation differs per channel
    batch = F.to_image(np.stack([F.log_mel(tone(440)), F.log_mel(sweep())]), size=96)
    assert tuple(batch.shape) == (2, 3, 96, 96)


def test_any_rate_and_channel_count_is_resampled_and_downmixed():
    ref = F.log_mel(tone(1000, 1.0, SR), SR)
    stereo_44k = np.stack([tone(1000, 1.0, 44100), tone(1000, 1.0, 44100)], axis=1)  # (samples, channels)
    got = F.log_mel(stereo_44k, 44100)
    assert got.shape == ref.shape
    assert np.abs(got - ref)[:, 2:-2].mean() < 1.0
    chan_first = F.log_mel(stereo_44k.T.copy(), 44100)
    np.testing.assert_allclose(chan_first, got, atol=1e-4)
    pcm16 = (tone(1000) * 32767).astype(np.int16)
    assert np.abs(F.log_mel(pcm16, SR) - ref).max() < 0.5
    assert F.prepare_audio(tone(1000, 1.0, 16000), 16000).shape == (SR,)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_rejected(bad):
    x = tone(440)
    x[100] = bad
    with pytest.raises(FeatureError, match="NaN or infinite"):
        F.log_mel(x, SR)
    with pytest.raises(FeatureError):
        F.log_mel_torch(x, SR, device="cpu")


def test_empty_and_malformed_input_are_rejected():
    with pytest.raises(FeatureError, match="empty"):
        F.log_mel(np.zeros(0, np.float32), SR)
    with pytest.raises(FeatureError, match="shape"):
        F.log_mel(np.zeros((2, 2, 100), np.float32), SR)
    with pytest.raises(FeatureError, match="sample rate"):
        F.log_mel(tone(440), 0)


def test_silence_gives_the_floor_and_short_input_is_padded():
    db = F.log_mel(np.zeros(SR, np.float32), SR)
    np.testing.assert_allclose(db, F.FLOOR_DB, atol=1e-3)
    assert F.is_silent(np.zeros(100)) and not F.is_silent(tone(440))
    short = F.log_mel(tone(440, 0.01), SR)  # 220 samples < n_fft
    assert short.shape == (128, 5) and np.isfinite(short).all()
    assert F.log_mel_torch(tone(440, 0.01), SR, device="cpu").shape == (128, 5)


def test_fmax_bounds_the_mel_bands_in_every_implementation():
    s8 = F.FeatureSettings(fmax=8000.0)
    high, low = tone(9500), tone(3000)
    # a tone above 8 kHz is in the full-band bands and reaches the 8-kHz ones only as the window's leakage
    assert F.log_mel(high, SR).max() - F.log_mel(high, SR, s8).max() > 30, "a 9.5-kHz tone reached bands below 8 kHz"
    assert abs(F.log_mel(low, SR).max() - F.log_mel(low, SR, s8).max()) < 3  # a 3-kHz one is there in both
    # below fmax the bands are finer: a 3-kHz tone peaks in a higher band index than with the full range
    assert int(F.log_mel(low, SR, s8).mean(1).argmax()) > int(F.log_mel(low, SR).mean(1).argmax())
    for x in (high, low, sweep()):
        ref = F.log_mel(x, SR, s8)
        assert np.abs(ref - F.log_mel_torch(x, SR, s8, device="cpu")).max() < F.PARITY_TOLERANCE_DB
        assert np.abs(ref - F.log_mel_numpy(x, SR, s8)).max() < F.PARITY_TOLERANCE_DB


def test_fmax_is_stored_only_when_set_and_checked():
    assert "fmax" not in F.DEFAULT_SETTINGS.to_dict()  # models and cache names from before fmax are unchanged
    assert F.FeatureSettings.from_dict(F.DEFAULT_SETTINGS.to_dict()) == F.DEFAULT_SETTINGS
    s8 = F.FeatureSettings(fmax=8000.0)
    assert s8.to_dict()["fmax"] == 8000.0 and F.FeatureSettings.from_dict(s8.to_dict()) == s8
    assert s8.top_hz == 8000.0 and F.DEFAULT_SETTINGS.top_hz == SR / 2
    with pytest.raises(FeatureError, match=r"fmax 12000.0 Hz is outside the allowed \(0, 11025\]"):
        F.FeatureSettings(fmax=12000.0)
