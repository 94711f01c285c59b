"""Scaling a dream up to an output: the picture with and without OpenCV, and one scaling shared by the outputs."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from performer.outputs import FrameInfo, Layout, NullOutput, fit_into
from performer.outputs import convert as convert_mod
from performer.outputs import layout as layout_mod
from performer.outputs.convert import resize
from performer.outputs.scaling import SHARED, SharedScaling


def dreamlike(w: int = 320, h: int = 180, seed: int = 0) -> np.ndarray:
    """Smooth colour fields with fine detail on top, like a dreamed frame at the dream's size."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 20 + 1, w // 20 + 1, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    detail = rng.integers(-40, 41, (h, w, 3), dtype=np.int16)
    return np.clip(base + detail, 0, 255).astype(np.uint8)


def sharpness(img: np.ndarray) -> float:
    f = img.astype(np.float32)
    return float(np.abs(np.diff(f, axis=0)).mean() + np.abs(np.diff(f, axis=1)).mean())


def pil(img: np.ndarray, w: int, h: int, f: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((w, h), f))


@pytest.fixture(autouse=True)
def fresh_cache():
    SHARED.clear()
    yield
    SHARED.clear()


@pytest.mark.parametrize("backend", ["opencv", "pillow"])
def test_a_dream_scaled_4x_is_bicubic_whichever_library_scales_it(backend, monkeypatch):
    if backend == "opencv":
        pytest.importorskip("cv2")
    else:
        monkeypatch.setattr(convert_mod, "opencv", lambda: None)
    small = dreamlike()
    big = resize(small, 1280, 720)
    assert big.shape == (720, 1280, 3) and big.dtype == np.uint8
    bicubic = pil(small, 1280, 720, Image.Resampling.BICUBIC)
    diff = np.abs(big.astype(np.int16) - bicubic)
    assert diff.mean() < 1.5 and np.percentile(diff, 99) <= 8
    # as crisp as Pillow's bicubic, which a softer filter (bilinear) is not
    bilinear = pil(small, 1280, 720, Image.Resampling.BILINEAR)
    assert sharpness(bilinear) < 0.97 * sharpness(bicubic)
    assert sharpness(big) >= 0.99 * sharpness(bicubic)


def test_shrinking_along_either_axis_stays_antialiased():
    small = dreamlike(320, 180)
    wide = resize(small, 640, 90)  # wider but shorter: Pillow's bicubic widens to average the rows it drops
    assert wide.shape == (90, 640, 3)
    np.testing.assert_array_equal(wide, pil(small, 640, 90, Image.Resampling.BICUBIC))


def test_outputs_of_one_size_share_one_scaling_of_each_frame(monkeypatch):
    calls: list[tuple[int, int]] = []
    real = layout_mod.resize

    def counting(img, w, h):
        calls.append((w, h))
        return real(img, w, h)

    monkeypatch.setattr(layout_mod, "resize", counting)
    a, b = Layout("dream", 1280, 720), Layout("dream", 1280, 720)
    frame, info = dreamlike(), FrameInfo(1, 0.0)
    shown_a, shown_b = a(frame, info), b(frame, info)
    assert calls == [(1280, 720)]
    assert shown_a is shown_b and shown_a.shape == (720, 1280, 3)
    Layout("dream", 640, 360)(frame, info)  # another size is its own scaling
    assert calls == [(1280, 720), (640, 360)]
    nxt = dreamlike(seed=1)  # the next tick's frame is scaled again, once
    a(nxt, FrameInfo(2, 0.03)), b(nxt, FrameInfo(2, 0.03))
    assert calls == [(1280, 720), (640, 360), (1280, 720)]


def test_a_shared_image_is_read_only_and_the_frame_is_not():
    frame = dreamlike()
    img, _, _ = fit_into(frame, 1280, 720, "letterbox")
    with pytest.raises(ValueError):
        img[0, 0] = 0
    frame[0, 0] = 1  # the dream's own frame stays the caller's
    assert Layout("dream")(frame, FrameInfo(1, 0.0)) is frame  # no scaling: the frame itself, as before


def test_a_frame_changed_in_place_is_scaled_afresh():
    frame = np.zeros((90, 160, 3), np.uint8)
    first = Layout("dream", 640, 360)(frame, FrameInfo(1, 0.0))
    assert first.max() == 0
    frame[:] = 200
    second = Layout("dream", 640, 360)(frame, FrameInfo(2, 0.0))
    assert second.min() >= 199


@pytest.mark.parametrize("fit, box, size, at", [
    ("scale", (0, 0, 200, 180), (640, 360), (0, 0)),
    ("letterbox", (0, 0, 200, 180), (400, 360), (120, 0)),
    ("crop", (0, 34, 200, 112), (640, 360), (0, 0)),
])
def test_every_fit_is_shared_and_shows_what_it_showed_before(fit, box, size, at):
    frame = dreamlike(200, 180)  # not 16:9: letterbox and crop differ from scale
    x0, y0, cw, ch = box
    want = resize(np.ascontiguousarray(frame[y0:y0 + ch, x0:x0 + cw]), *size)
    first = fit_into(frame, 640, 360, fit)
    np.testing.assert_array_equal(first[0], want)
    assert first[1:] == at
    again = fit_into(frame, 640, 360, fit)
    assert again[0] is first[0] and again[1:] == at


def test_two_output_threads_asking_at_once_scale_the_frame_once(monkeypatch):
    made = []
    started = threading.Event()
    real = layout_mod.resize

    def slow(img, w, h):
        made.append(threading.current_thread().name)
        started.set()
        time.sleep(0.2)  # the other output asks while this one is still scaling
        return real(img, w, h)

    monkeypatch.setattr(layout_mod, "resize", slow)
    frame, info = dreamlike(), FrameInfo(1, 0.0)
    outs = [NullOutput(f"n{i}", layout=Layout("dream", 1280, 720)) for i in range(2)]
    for out in outs:
        out.open()
    try:
        outs[0].send(frame, info)
        assert started.wait(5)
        outs[1].send(frame, info)
        deadline = time.monotonic() + 5
        while any(o.stats.sent < 1 for o in outs) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        for out in outs:
            out.close()
    assert [o.stats.sent for o in outs] == [1, 1] and len(made) == 1
    assert outs[0].last is not None and outs[1].last is not None
    assert outs[0].last[0] is outs[1].last[0]


def test_a_scaling_that_fails_is_not_shared_and_the_next_asker_makes_its_own():
    cache = SharedScaling()
    frame = dreamlike(32, 18)

    def broken():
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        cache.get(frame, (64, 36), broken)
    img, x, y = cache.get(frame, (64, 36), lambda: (np.zeros((36, 64, 3), np.uint8), 0, 0))
    assert img.shape == (36, 64, 3) and cache.made == 1 and cache.shared == 0


def test_the_cache_keeps_only_the_latest_few_and_drops_frames_that_are_gone():
    cache = SharedScaling(capacity=2)
    frames = [dreamlike(32, 18, seed=k) for k in range(4)]
    for f in frames:
        cache.get(f, (64, 36), lambda f=f: (np.repeat(np.repeat(f, 2, 0), 2, 1), 0, 0))
    assert len(cache._entries) == 2
    del frames[:], f
    cache.get(dreamlike(32, 18, seed=9), (64, 36), lambda: (np.zeros((36, 64, 3), np.uint8), 0, 0))
    assert len(cache._entries) == 1  # the dropped frames' entries went with them
