"""The live dream's picture: guidance at full weight draws a picture, not speckle; portraits ship and load."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO
from performer.bench import picture
from performer.bench.look_score import static_score
from performer.dream import DEFAULT_CLASS_GUIDES, DreamRenderer, Scene
from performer.dream.guidance import GuideMix
from performer.dream.portraits import IDLE, SIZE, load_portrait
from performer.params import ParamStore

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def grey(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_every_sound_class_has_a_portrait_and_so_has_idle():
    for name in (*DEFAULT_CLASS_GUIDES, IDLE):
        img = load_portrait(name)
        assert img is not None and img.shape == (*SIZE, 3), name  # the default output's size
        assert static_score(grey(img)) < 0.35, name  # a picture, not static
        assert picture.detail(img) > 200, name  # dreamed at that size, not scaled up to it
        if name != IDLE:  # the network's own dream, before any class: no colour of its own
            assert picture.colourfulness(img) > 45, name
    assert load_portrait("no_such_class") is None


def test_the_portraits_tell_the_classes_apart():
    """The picture measure's own classifier, trained on one set of views of each portrait, names the class from
    another (the issue's target: 0.9): whole portraits moved by up to a 30-s drift, as the live picture shows them."""
    rng = np.random.default_rng(0)
    samples = []
    for name in DEFAULT_CLASS_GUIDES:
        img = load_portrait(name)
        assert img is not None
        for pas in (1, 2):
            for _ in range(6):
                dx, dy = int(rng.integers(-160, 160)), int(rng.integers(-90, 90))
                samples.append((picture.features(np.roll(img, (dy, dx), (0, 1))), name, pas))
    result = picture.legibility(samples)
    assert result["legibility"] >= 0.9, result["legibility_per_class"]


@pytest.mark.parametrize("weight", [0.0, 10.0])
def test_guidance_at_any_weight_keeps_a_picture(weight):
    """At the dream's own size (no upscaling to hide grain), 30 live frames at the maximum guide weight."""
    store = ParamStore()
    store.update({"dream.width": 160, "dream.height": 96, "dream.guide_weight": weight}, glide=False)
    r = DreamRenderer("cpu", background_load=False)
    p = store.snapshot()
    r.prepare(p)
    scores = []
    for i in range(30):
        cls = "dog_bark" if i < 15 else "siren"
        frame = r.frame(p, Scene(key=cls, mix=((cls, DEFAULT_CLASS_GUIDES[cls], 0.9),),
                                 seed_image=load_portrait(cls), portrait=load_portrait(cls)))
        scores.append(static_score(grey(frame)))
    # Without the regularisation (robustness, 1/f steps, decorrelated colour) the same run reaches 0.52.
    assert max(scores) < 0.35, scores


def test_the_guide_mix_glides_over_the_crossfade_and_holds_when_unsure():
    m = GuideMix()
    m.update((("a", (1,), 1.0),), dt=0.1, crossfade=2.0)
    assert m.weights == {"a": 1.0}
    m.update((("b", (2,), 0.8), ("a", (1,), 0.2)), dt=0.5, crossfade=2.0)
    assert m.weights["b"] == pytest.approx(0.25) and m.weights["a"] == pytest.approx(0.75)
    m.update((), dt=5.0, crossfade=2.0)  # nothing sure: nothing moves
    assert m.weights["b"] == pytest.approx(0.25)
    for _ in range(10):
        m.update((("b", (2,), 0.8), ("a", (1,), 0.2)), dt=0.5, crossfade=2.0)
    assert m.weights == pytest.approx({"b": 0.8, "a": 0.2})
    assert m.groups() == (((1,), pytest.approx(0.2)), ((2,), pytest.approx(0.8)))


def test_the_static_score_agrees_with_the_reference_definition():
    import importlib.util

    ref = REPO.parent / "shared" / "look_score.py"
    if not ref.is_file():
        pytest.skip(f"the reference {ref} is not here (only the development machines have it)")
    spec = importlib.util.spec_from_file_location("look_score_ref", ref)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    for shape in ((72, 128), (61, 97)):
        for img in (rng.random(shape) * 255, np.add.outer(np.arange(shape[0]), np.arange(shape[1])) * 1.0):
            assert static_score(img) == pytest.approx(mod.static_score(img), abs=1e-9)


def test_static_score_tells_static_from_pictures():
    rng = np.random.default_rng(0)
    assert static_score(rng.random((90, 160)) * 255) > 0.8
    yy, xx = np.mgrid[0:90, 0:160]
    assert static_score(np.sin(xx / 9.0) + np.cos(yy / 7.0)) < 0.05
