"""The master section on the output clock: colour, fade to black, the blackout trigger and freeze."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from performer.engine.master import colour_transform, hue_matrix, saturation_matrix
from performer.engine.present import Dreamed, Presenter
from performer.params import ParamStore


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def solid(rgb, h: int = 6, w: int = 8) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (h, w, 3)).copy()


def rig(frame: np.ndarray):
    clock = Clock()
    store = ParamStore(clock=clock)
    presenter = Presenter(lambda f, t: None, store.snapshot, clock)
    presenter.put(Dreamed(frame, clock.t, clock.t))
    return clock, store, presenter


def shown(store: ParamStore, presenter: Presenter) -> np.ndarray:
    out = presenter.compose(store.snapshot().time, presenter.params())
    assert out is not None and out.dtype == np.uint8
    return out


def test_defaults_leave_the_frame_as_it_is():
    frame = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    _, store, presenter = rig(frame)
    assert colour_transform(store.snapshot()) is None
    assert np.array_equal(shown(store, presenter), frame)


def test_brightness_contrast_saturation_and_hue_change_a_known_frame():
    _, store, presenter = rig(solid((100, 100, 100)))
    store.set("master.brightness", 0.2, glide=False)
    assert np.all(shown(store, presenter) == 151)  # 100 + 0.2 * 255
    store.update({"master.brightness": 0.0, "master.contrast": 2.0}, glide=False)
    assert np.all(np.abs(shown(store, presenter).astype(int) - 72.5) <= 0.5)  # (100 - 127.5) * 2 + 127.5
    store.set("master.contrast", 0.0, glide=False)
    assert np.all(np.abs(shown(store, presenter).astype(int) - 127.5) <= 0.5)  # flat mid grey

    _, store, presenter = rig(solid((200, 50, 50)))
    store.set("master.saturation", 0.0, glide=False)
    grey = shown(store, presenter)
    luma = 0.213 * 200 + 0.715 * 50 + 0.072 * 50
    assert np.all(np.abs(grey.astype(float) - luma) <= 1.0)
    store.set("master.saturation", 2.0, glide=False)
    vivid = shown(store, presenter)[0, 0].astype(int)
    assert vivid[0] > 200 and vivid[1] < 50 and vivid[2] < 50

    _, store, presenter = rig(solid((255, 0, 0)))
    store.set("master.hue", 120.0, glide=False)
    r, g, b = shown(store, presenter)[0, 0].astype(int)
    assert g > 100 and r < 10 and b < 10  # red turned green
    store.set("master.hue", -120.0, glide=False)
    r, g, b = shown(store, presenter)[0, 0].astype(int)
    assert b > r and b > g  # and the other way, blue
    _, store, presenter = rig(solid((90, 90, 90)))
    store.set("master.hue", 77.0, glide=False)
    assert np.all(np.abs(shown(store, presenter).astype(int) - 90) <= 1)  # greys stay grey


def test_the_colour_matrices_keep_grey_and_compose():
    for m in (saturation_matrix(0.3), saturation_matrix(1.7), hue_matrix(33.0), hue_matrix(-150.0)):
        assert np.allclose(m.sum(axis=1), 1.0, atol=1e-3)
    assert np.allclose(hue_matrix(0.0), np.eye(3)) and np.allclose(saturation_matrix(1.0), np.eye(3))


def test_fade_glides_to_black_and_back():
    clock, store, presenter = rig(solid((200, 160, 120)))
    slew = store.registry.get("master.fade").slew
    assert slew > 0
    store.set("master.fade", 1.0)
    clock.t += slew / 2
    half = shown(store, presenter)[0, 0].astype(int)
    assert np.all(np.abs(half - np.array([100, 80, 60])) <= 1)
    clock.t += slew / 2
    assert not shown(store, presenter).any()  # black
    store.set("master.fade", 0.0, glide=False)
    assert np.array_equal(shown(store, presenter), solid((200, 160, 120)))


def test_blackout_toggles_instant_black_even_before_the_next_dreamed_frame():
    clock = Clock()
    store = ParamStore(clock=clock)
    stale = store.snapshot()  # what the engine hands over: the last dreamed frame's values
    presenter = Presenter(lambda f, t: None, lambda: stale, clock, live=store.snapshot)
    presenter.put(Dreamed(solid((50, 60, 70)), clock.t, clock.t))
    assert shown(store, presenter).any()
    store.fire("master.blackout")
    assert not shown(store, presenter).any()  # at once, though `stale` has not moved
    store.fire("master.blackout")
    assert np.array_equal(shown(store, presenter), solid((50, 60, 70)))
    without_live = Presenter(lambda f, t: None, lambda: stale, clock)
    without_live.put(Dreamed(solid((50, 60, 70)), clock.t, clock.t))
    store.fire("master.blackout")
    assert without_live.compose(clock.t, without_live.params()).any()  # it waits for the values it is given
    assert not shown(store, presenter).any()


def test_freeze_holds_the_output_while_the_dream_goes_on_and_the_master_still_acts():
    clock, store, presenter = rig(solid((10, 20, 30)))
    store.set("master.freeze", True)
    assert np.array_equal(shown(store, presenter), solid((10, 20, 30)))
    clock.t += 0.5
    presenter.put(Dreamed(solid((200, 200, 200)), clock.t, clock.t))  # the dream goes on underneath
    clock.t += 0.5
    assert np.array_equal(shown(store, presenter), solid((10, 20, 30)))
    store.set("master.brightness", 0.1, glide=False)
    assert np.all(shown(store, presenter) == solid((10, 20, 30)) + 26)  # colour acts on the held frame
    store.update({"master.freeze": False, "master.brightness": 0.0}, glide=False)
    assert np.array_equal(shown(store, presenter), solid((200, 200, 200)))  # off cuts to where the dream is


def test_the_running_clock_emits_black_frames_after_a_blackout():
    store = ParamStore()
    frames: list[np.ndarray] = []
    got = threading.Event()

    def emit(frame: np.ndarray, now: float) -> None:
        frames.append(frame)
        if len(frames) >= 3 and not frame.any():
            got.set()

    presenter = Presenter(emit, lambda: store.snapshot().with_values({"master.blackout": 0}), live=store.snapshot)
    store.set("output.fps", 60.0)
    presenter.put(Dreamed(solid((255, 255, 255)), time.monotonic(), time.monotonic()))
    presenter.start()
    try:
        deadline = time.monotonic() + 5.0
        while len(frames) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert frames and frames[0].all()
        store.fire("master.blackout")
        assert got.wait(5.0)
    finally:
        presenter.stop()


@pytest.mark.parametrize("name,value", [("master.hue", 400.0), ("master.fade", -1.0), ("master.contrast", 9.0)])
def test_out_of_range_master_values_are_clamped(name, value):
    store = ParamStore()
    p = store.registry.get(name)
    assert store.set(name, value) in (p.min, p.max)


def test_a_drift_moves_the_output_by_whole_pixels_and_never_resamples_it():
    """Between dreamed frames the clock carries a drift on by whole pixels (the fraction the renderer left over
    included): every pixel shown is one of the frame's own, so the dreamed detail stays sharp."""
    frame = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    clock = Clock()
    store = ParamStore(clock=clock)
    store.update({"dream.translate_x": 0.2, "dream.translate_y": -0.1}, glide=False)
    presenter = Presenter(lambda f, t: None, store.snapshot, clock)
    presenter.put(Dreamed(frame, clock.t, clock.t, offset=(0.4, 0.0)))
    clock.t += 10 / 30  # ten output frames: 2 px right (+0.4 carried: 2.4 -> 2), 1 px up
    out = shown(store, presenter)
    assert np.array_equal(out[:-1, 2:], frame[1:, :-2])
