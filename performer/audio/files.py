"""Sound files as audio sources: anything libsndfile reads, played at the file's own rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from performer.audio.source import ArraySource
from performer.errors import AudioError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".opus", ".w64", ".caf")
"""Suffixes that make an ``--input`` spec a file even before it exists (so a typo is reported as a missing file)."""


def file_source(path: str | Path, *, loop: bool = False, realtime: bool = True) -> ArraySource:
    """A sound file (anything libsndfile reads: WAV, FLAC, OGG, ...) as a source at its own rate."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's errors: unreadable, unknown format
        raise AudioError(f"audio file {path} cannot be read: {e}") from None
    if len(audio) == 0:
        raise AudioError(f"audio file {path} holds no samples")
    if not np.isfinite(audio).all():
        raise AudioError(f"audio file {path} holds NaN or infinite samples")
    return ArraySource(audio.mean(axis=1), rate, name=path.name, loop=loop, realtime=realtime)
