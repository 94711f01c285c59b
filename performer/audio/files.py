"""Sound files as audio sources: anything libsndfile reads, played at the file's own rate."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from performer.audio.source import ArraySource
from performer.errors import AudioError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".opus", ".w64", ".caf")
"""Suffixes that make an ``--input`` spec a file even before it exists (so a typo is reported as a missing file)."""


def probe_audio_file(path: str | Path) -> tuple[int, int]:
    """``(frames, rate)`` of a sound file, read from its header only; :class:`AudioError` names the file and why
    it cannot be used (missing, a folder, not a sound file libsndfile reads, empty). Cheap: check a file with it
    before loading a model."""
    import soundfile as sf

    path = Path(path)
    if path.is_dir():
        raise AudioError(f"audio file {path} is a folder, not a sound file")
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile's errors: unreadable, unknown format
        raise AudioError(f"audio file {path} cannot be read as sound ({_reason(e)}); "
                         "files libsndfile reads work: WAV, FLAC, OGG, AIFF, MP3, ...") from None
    if info.frames <= 0:
        raise AudioError(f"audio file {path} holds no samples")
    return int(info.frames), int(info.samplerate)


def _reason(e: Exception) -> str:
    text = str(e).strip()
    return text.rsplit(": ", 1)[-1] if ": " in text else text or type(e).__name__


def file_source(path: str | Path, *, loop: bool = False, realtime: bool = True,
                min_seconds: float = 0.0) -> ArraySource:
    """A sound file (anything libsndfile reads: WAV, FLAC, OGG, ...) as a source at its own rate.

    A file shorter than ``min_seconds`` (one analysis window: the engine analyses whole hops and windows) is
    played followed by silence up to that length, so it is heard, classified and ends like any other file;
    the log says so.
    """
    import soundfile as sf

    path = Path(path)
    probe_audio_file(path)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's errors: unreadable, unknown format
        raise AudioError(f"audio file {path} cannot be read: {e}") from None
    if len(audio) == 0:
        raise AudioError(f"audio file {path} holds no samples")
    if not np.isfinite(audio).all():
        raise AudioError(f"audio file {path} holds NaN or infinite samples")
    mono = audio.mean(axis=1)
    wanted = int(np.ceil(min_seconds * rate))
    if len(mono) < wanted:
        log.warning("audio file %s lasts %.3f s, less than one analysis window (%.2f s): it is played followed "
                    "by %.3f s of silence", path.name, len(mono) / rate, min_seconds, (wanted - len(mono)) / rate)
        mono = np.concatenate([mono, np.zeros(wanted - len(mono), np.float32)])
    return ArraySource(mono, rate, name=path.name, loop=loop, realtime=realtime)
