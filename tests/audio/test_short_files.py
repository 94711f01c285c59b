"""Short, missing and non-audio files, and an empty --input: each refused or handled with one clear line."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf

from performer.audio import AudioRing, file_source, open_source
from performer.audio.files import probe_audio_file
from performer.errors import AudioError
from sounds import tone


def test_a_file_shorter_than_one_window_is_followed_by_silence_and_finishes(tmp_path, caplog):
    path = tmp_path / "click.wav"
    sf.write(path, tone(880, 0.05, rate=8000), 8000)
    with caplog.at_level(logging.WARNING, logger="performer.audio.files"):
        src = file_source(path, realtime=False, min_seconds=1.0)
    assert len(src.audio) == 8000 and np.abs(src.audio[:400]).max() > 0.4 and not src.audio[400:].any()
    (msg,) = [r.getMessage() for r in caplog.records]
    assert "click.wav lasts 0.050 s" in msg and "(1.00 s)" in msg and "0.950 s of silence" in msg
    ring = AudioRing(8000)
    src.start(ring)
    assert src.finished.wait(5)
    src.stop()
    assert ring.total == 8000  # a whole window reaches the analysis, so the file is analysed and ends


def test_a_long_enough_file_is_played_as_it_is(tmp_path, caplog):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(440, 1.5, rate=8000), 8000)
    with caplog.at_level(logging.WARNING):
        src = file_source(path, realtime=False, min_seconds=1.0)
    assert len(src.audio) == 12000 and not caplog.records
    assert len(open_source(str(path), realtime=False, min_seconds=2.0).audio) == 16000


def test_probe_names_the_file_and_why(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(440, 0.5, rate=8000), 8000)
    assert probe_audio_file(path) == (4000, 8000)
    with pytest.raises(AudioError, match=r"missing\.wav does not exist"):
        probe_audio_file(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="is a folder"):
        probe_audio_file(tmp_path)
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    with pytest.raises(AudioError, match=r"notes\.wav cannot be read as sound"):
        probe_audio_file(text)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 8000)
    with pytest.raises(AudioError, match=r"empty\.wav holds no samples"):
        probe_audio_file(empty)


@pytest.mark.parametrize("spec", ["", "   "])
def test_an_empty_input_is_an_error_not_the_default_device(spec):
    with pytest.raises(AudioError, match="empty"):
        open_source(spec)
