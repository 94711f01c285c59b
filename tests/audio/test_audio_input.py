"""Audio input: the ring buffer, file and demo sources, device lookup errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from performer.audio import (
    ArraySource,
    AudioRing,
    demo_signal,
    file_source,
    open_source,
)
from performer.errors import AudioError
from sounds import tone


def test_ring_reads_the_window_ending_at_a_position_across_the_wrap():
    ring = AudioRing(rate=10, seconds=1.0)  # 10 samples
    ring.write(np.arange(7, dtype=np.float32))
    ring.write(np.arange(7, 14, dtype=np.float32))
    assert ring.total == 14
    assert ring.read(14, 4).tolist() == [10, 11, 12, 13]
    assert ring.read(12, 5).tolist() == [7, 8, 9, 10, 11]
    # older than the ring holds, or never written: zeros on the left
    assert ring.read(14, 12).tolist() == [0, 0] + list(range(4, 14))
    assert ring.read(3, 5).tolist() == [0, 0, 0, 0, 0]  # overwritten long ago
    fresh = AudioRing(rate=10, seconds=1.0)
    fresh.write(np.arange(1, 4, dtype=np.float32))
    assert fresh.read(3, 5).tolist() == [0, 0, 1, 2, 3]


def test_ring_backpressure_waits_for_the_reader():
    ring = AudioRing(rate=10, seconds=1.0, backpressure=True)
    assert ring.write(np.zeros(10))
    assert not ring.write(np.zeros(5), timeout=0.05)  # would overwrite unread samples
    done = threading.Event()
    threading.Thread(target=lambda: (ring.write(np.ones(5), timeout=5), done.set())).start()
    time.sleep(0.05)
    assert not done.is_set()
    ring.consumed(5)
    assert done.wait(2)
    assert ring.total == 15


def test_array_source_is_paced_in_real_time():
    src = ArraySource(tone(440, 0.5, rate=8000), 8000, block=400)
    ring = AudioRing(8000)
    t0 = time.monotonic()
    src.start(ring)
    assert src.finished.wait(5)
    elapsed = time.monotonic() - t0
    src.stop()
    assert ring.total == 4000
    assert 0.4 <= elapsed < 2.0, elapsed  # ~0.5 s of audio takes ~0.5 s


def test_fast_file_source_delivers_everything_through_backpressure(tmp_path):
    path = tmp_path / "t.wav"
    sf.write(path, np.stack([tone(440, 3.0, 16000), tone(440, 3.0, 16000)], axis=1), 16000)
    src = file_source(path, realtime=False)
    assert (src.rate, src.realtime) == (16000, False)
    ring = AudioRing(src.rate, seconds=1.0, backpressure=True)
    src.start(ring)
    pos = 0
    while not (src.finished.is_set() and pos >= ring.total):
        ring.wait_for(pos + 1600, timeout=0.5)
        pos = ring.total
        ring.consumed(pos)
    src.stop()
    assert ring.total == 48000
    np.testing.assert_allclose(ring.read(48000, 100), tone(440, 3.0, 16000)[-100:], atol=1e-4)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(AudioError, match="does not exist"):
        file_source(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(AudioError, match="bad.wav cannot be read"):
        file_source(bad)
    with pytest.raises(AudioError, match="does not exist"):
        open_source(str(tmp_path / "gone.flac"))


def test_demo_is_a_changing_soundscape():
    x = demo_signal()
    assert x.dtype == np.float32 and np.isfinite(x).all() and np.abs(x).max() <= 1.0
    scenes = np.split(x[: len(x) // 4 * 4], 4)
    centroids = []
    for s in scenes:
        mag = np.abs(np.fft.rfft(s))
        centroids.append((np.arange(len(mag)) * mag).sum() / mag.sum())
    assert len({round(c, -2) for c in centroids}) == 4  # four audibly different scenes
    src = open_source("demo")
    assert src.name == "demo" and src.loop
