"""The first minute on a fresh install: building the engine's beat listener compiles nothing.

librosa's ``norm=None`` mel filters import ``librosa.util``, whose numba kernels compile when imported (11 to 18 s
with an empty numba cache); the onset envelope's filters, built in the engine's constructor, held back the first
frame that long. They are numpy now, with librosa's numbers to the last bit. Checked by what a fresh interpreter
has imported, never by the clock.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from performer.sound.features import mel_filter_bank, mel_filters, mel_frequencies
from performer.tempo.onsets import N_BANDS, OnsetEnvelope

PROBE = """
import json, sys
from performer.audio.ring import AudioRing
from performer.sound.features import mel_filters
from performer.analysis.novelty import novelty
from performer.tempo.listener import AudioBeat
import numpy as np
beat = AudioBeat(AudioRing(48000, seconds=8.0))
mel_filters()                                    # the classifier's TorchLogMel filters
novelty(np.zeros(44100, np.float32), 22050, 0.1)  # the analyser's novelty filters
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("librosa", "numba", "scipy"))))
"""


def test_the_beat_listener_and_the_filter_banks_import_neither_librosa_nor_numba():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (22050, 2048, 128, 0.0, None),    # the classifier's
    (22050, 512, 40, 0.0, None),      # novelty's
    (48000, 2048, 40, 30.0, 11025.0),  # the onset envelope's at 48 kHz
    (44100, 2048, 40, 30.0, 11025.0),
    (22050, 1024, 40, 30.0, 11025.0),
    (16000, 512, 64, 50.0, 7000.0),
])
def test_mel_filters_are_librosas_to_the_last_bit(sr, n_fft, n_mels, fmin, fmax):
    librosa = pytest.importorskip("librosa")
    # norm="slaney" only: librosa's norm=None is the slow path this replaces (it would compile numba here)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    got = mel_filter_bank(sr, n_fft, n_mels, fmin, fmax)
    assert got.dtype == np.float32 and got.shape == (n_mels, 1 + n_fft // 2)
    assert np.array_equal(got, ref)
    centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=fmin, fmax=fmax if fmax else sr / 2)
    assert np.array_equal(mel_frequencies(n_mels + 2, fmin, fmax if fmax else sr / 2), centres)
    # without the norm: the same triangles, peaks at (nearly) 1, one scale factor per band
    plain = mel_filter_bank(sr, n_fft, n_mels, fmin, fmax, norm=None)
    ratio = got.sum(axis=1) / plain.sum(axis=1)
    np.testing.assert_allclose(got, plain * ratio[:, None].astype(np.float32), rtol=1e-6, atol=1e-12)
    assert plain.max() <= 1.0 and plain.max(axis=1).min() > 0.3


def test_the_classifier_filters_are_cached_and_unknown_norms_refused():
    assert mel_filters() is mel_filters()
    with pytest.raises(ValueError, match="norm"):
        mel_filter_bank(22050, 512, 40, norm="l2")


def test_the_onset_envelope_weighs_the_bands_below_300_hz():
    env = OnsetEnvelope(48000)
    assert env._bands.shape[0] == N_BANDS and env._bands.dtype == np.float32
    centres = mel_frequencies(N_BANDS + 2, 30.0, 11025.0)[1:-1]
    assert np.array_equal(env._weights > 1.0, centres < 300.0)
