"""What reaches the projector: never static, steady output clock, warm-up reported (the folder sequence, numbered
without gaps: tests/outputs/test_folder.py)."""

from __future__ import annotations

import threading
import time

import numpy as np

from conftest import wait_until
from performer.audio import ArraySource
from performer.bench.look_score import static_score
from performer.engine import Engine
from performer.outputs import FrameOutput, Layout
from performer.outputs.frame_info import FrameInfo
from performer.presets import Preset
from sounds import ToneClassifier, tone

STATIC_BOUND = 0.5
"""Frames scoring above this are more static than picture (a Deep Dream gallery scores 0.35-0.55)."""


class Keep(FrameOutput):
    kind = "keep"

    def __init__(self, layout: Layout | None = None) -> None:
        super().__init__("keep", layout=layout)
        self.frames: list[tuple[FrameInfo, np.ndarray]] = []

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        self.frames.append((info, frame))


def grey(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_a_class_change_never_shows_a_noise_frame():
    """The real renderer and network at a small size: two sound classes alternate; every frame that reaches
    the output, from the first on, is a picture (it starts from a portrait and morphs, never from noise)."""
    from performer.dream import DreamRenderer

    audio = np.concatenate([tone(300, 2.0), tone(3000, 2.0), tone(300, 2.0)])
    preset = Preset(name="look", params={
        "dream.width": 96, "dream.height": 64, "dream.iterations": 1, "output.fps": 10.0,
        "classifier.window": 0.5, "classifier.hop": 0.1, "classifier.smoothing": 0.0, "classifier.hold": 0.0,
        "dream.crossfade": 0.5, "dream.guide_weight": 10.0},  # the strongest guidance there is
        classes={"low": {"guide": [207, 208]}, "high": {"guide": [407, 734]}})
    keep = Keep(Layout("dream", 192, 128))
    engine = Engine(source=ArraySource(audio, 22050, name="switch"), classifier=ToneClassifier(),
                    renderer=DreamRenderer("cpu", background_load=False), outputs=[keep], preset=preset)
    engine.start()
    try:
        assert engine.source.finished.wait(60)
    finally:
        engine.stop()
    assert [name for *_, name in engine.analyzer.changes] == ["low", "high", "low"]
    assert len(keep.frames) > 20
    # The first frame out is the idle portrait (the dream starts from it), not noise.
    import torch

    from performer.dream import core
    from performer.dream.portraits import IDLE, load_portrait
    from performer.dream.seeds import image_seed

    idle = load_portrait(IDLE)
    assert idle is not None
    first = keep.frames[0][1].astype(np.float32)
    portrait = core.to_uint8(image_seed(idle, first.shape[:2], torch.device("cpu"))).astype(np.float32)
    assert np.abs(first - portrait).mean() < 30
    scores = [static_score(grey(f)) for _, f in keep.frames]
    assert max(scores) < STATIC_BOUND, sorted(scores)[-5:]
    # No cut: consecutive output frames differ by little, the class changes included.
    changes = [np.abs(grey(b) - grey(a)).mean() for (_, a), (_, b) in zip(keep.frames, keep.frames[1:])]
    assert max(changes) < 40, max(changes)


class SlowRenderer:
    """A renderer that takes 0.25 s per frame: the output clock must not care."""

    def __init__(self) -> None:
        self.n = 0
        self.prepared = threading.Event()
        self.release = threading.Event()

    def prepare(self, params) -> None:
        self.prepared.set()
        self.release.wait(10)

    def frame(self, params, scene) -> np.ndarray:
        time.sleep(0.25)
        self.n += 1
        return np.full((36, 64, 3), (self.n * 40) % 256, np.uint8)


def test_the_output_clock_holds_its_rate_with_a_slow_renderer_and_interpolates():
    renderer = SlowRenderer()
    renderer.release.set()
    keep = Keep()
    engine = Engine(source=ArraySource(tone(300, 30.0), 22050, name="tone"), classifier=ToneClassifier(),
                    renderer=renderer, outputs=[keep], preset=Preset(name="clock", params={"output.fps": 20.0}))
    engine.start()
    try:
        assert wait_until(lambda: len(keep.frames) >= 10, 10)
        n0, t0 = len(keep.frames), time.monotonic()
        time.sleep(2.0)
        n1, t1 = len(keep.frames), time.monotonic()
    finally:
        engine.stop()
    rate = (n1 - n0) / (t1 - t0)
    # ~20 frames/s out against ~4 dreamed (the bounds leave room for a busy machine: this is no speed test)
    assert rate > 2 * renderer.n / (t1 - engine.started_at) and rate > 8, rate
    # Between two dreamed frames the output fades from one to the next: there are in-between values.
    values = {int(f[0, 0, 0]) for _, f in keep.frames}
    dreamed = {(k * 40) % 256 for k in range(1, renderer.n + 1)}
    assert values - dreamed, "no interpolated frames"
    numbers = [info.number for info, _ in keep.frames]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_warm_up_is_reported_and_ends():
    renderer = SlowRenderer()
    engine = Engine(source=ArraySource(tone(300, 5.0), 22050, name="tone"), classifier=ToneClassifier(),
                    renderer=renderer, outputs=[], preset=Preset(name="warm"))
    assert engine.status()["state"] == "stopped"
    starting = threading.Thread(target=engine.start)
    starting.start()
    try:
        assert renderer.prepared.wait(10)
        assert engine.status()["state"] == "warming up"
        renderer.release.set()
        starting.join(10)
        assert engine.status()["state"] == "running" and engine.warmup_seconds > 0
    finally:
        renderer.release.set()
        starting.join(10)
        engine.stop()
    assert engine.status()["state"] == "stopped"
