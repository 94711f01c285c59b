"""The Deep Dream renderer on the real EfficientNet-Lite0: objective, guidance, continuity, live changes."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest
import torch

from performer.dream import (
    DEFAULT_CLASS_GUIDES,
    DreamRenderer,
    Scene,
    core,
    parse_layers,
)
from performer.dream.backbones import imagenet_categories
from performer.errors import DreamError, ModelError
from performer.params import ParamStore

SIZE = 112


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def store(**values) -> ParamStore:
    s = ParamStore()
    s.update({"dream.width": SIZE, "dream.height": SIZE, **{"dream." + k: v for k, v in values.items()}}, glide=False)
    return s


@pytest.fixture(scope="module")
def renderer_and_clock():
    clock = FakeClock()
    r = DreamRenderer("cpu", seed=0, clock=clock, background_load=False)
    r.prepare(store().snapshot())
    return r, clock


def solid(rgb, size=SIZE) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (size, size, 3)).copy()


def test_objective_rises_over_steps(renderer_and_clock):
    r, _ = renderer_and_clock
    bb = r.backbone
    obj = core.Objective(((bb.index("blocks.10"), 1.0),))
    s = core.StepSettings(lr=0.02, jitter=4, grad_norm="mean_abs", grad_smooth=0.5)
    gen = torch.Generator().manual_seed(0)
    grain = np.random.default_rng(0).integers(0, 20, (SIZE, SIZE, 3), dtype=np.uint8)
    x = core.to_tensor(np.full((SIZE, SIZE, 3), 128, np.uint8) + grain, None, r.device)
    energies = []
    for _ in range(8):
        with torch.no_grad():
            _, parts = core.evaluate(bb, x, obj)
        energies.append(float(parts["blocks.10"]))
        x, _ = core.step(bb, x, obj, s, gen)
    assert energies[-1] > 1.5 * energies[0], energies
    assert sum(b > a for a, b in itertools.pairwise(energies)) >= 6, energies


def test_guidance_raises_target_probability(renderer_and_clock):
    r, _ = renderer_and_clock
    dogs = DEFAULT_CLASS_GUIDES["dog_bark"]

    def p_dogs(img: np.ndarray) -> float:
        with torch.no_grad():
            return float(r.backbone.logits(core.to_tensor(img, None, r.device)).softmax(1)[0, list(dogs)].sum())

    rng = np.random.default_rng(1)
    start = (120 + rng.integers(0, 16, (SIZE, SIZE, 3))).astype(np.uint8)
    params = {"iterations": 12, "octaves": 1, "lr": 0.01, "grad_smooth": 1.0}
    plain = r.render(store(guide_weight=0.0, **params).snapshot(), start, dogs)
    guided = r.render(store(guide_weight=5.0, **params).snapshot(), start, dogs)
    # At 112 px a dozen steps do not make a photo of a dog, but they multiply its probability many times over.
    assert p_dogs(guided) > 0.03
    assert p_dogs(guided) > 5 * max(p_dogs(plain), p_dogs(start))


def test_frame_shape_and_type(renderer_and_clock):
    r, _ = renderer_and_clock
    f = r.frame(store(width=160, height=96).snapshot(), Scene(key="x"))
    assert f.shape == (96, 160, 3) and f.dtype == np.uint8


def test_continues_while_key_holds_and_restarts_from_the_seed_on_the_trigger(renderer_and_clock):
    r, _ = renderer_and_clock
    s = store(crossfade=0.0, iterations=1, lr=0.02, jitter=0)
    red, blue = solid((200, 40, 40)), solid((40, 40, 200))
    s.fire("dream.restart")
    f1 = r.frame(s.snapshot(), Scene(key="siren", seed_image=red)).astype(float)
    assert abs(f1[..., 0].mean() - 200) < 30 and abs(f1[..., 2].mean() - 40) < 30  # started from the red seed
    frames = [f1]
    for _ in range(4):
        frames.append(r.frame(s.snapshot(), Scene(key="siren", seed_image=blue)).astype(float))  # seed ignored
    # Continuation: each frame is a small change of the last, and the dream drifts away from its seed.
    for a, b in itertools.pairwise(frames):
        assert np.abs(b - a).mean() < 12
    assert np.abs(frames[-1] - red).mean() > np.abs(frames[1] - red).mean()
    assert frames[-1][..., 0].mean() > frames[-1][..., 2].mean() + 60  # still the red dream, not the blue seed
    # The restart trigger starts again from the seed, with the same key.
    drifted = frames[-1]
    s.fire("dream.restart")
    fresh = r.frame(s.snapshot(), Scene(key="siren", seed_image=red)).astype(float)
    assert np.abs(fresh - red).mean() < np.abs(drifted - red).mean()


def test_a_class_change_morphs_the_picture_instead_of_cutting(renderer_and_clock):
    r, clock = renderer_and_clock
    s = store(crossfade=0.0, iterations=1, lr=0.02, jitter=0, portrait_pull=0.8, class_change="morph")
    red, blue = solid((200, 40, 40)), solid((40, 40, 200))
    dogs, sirens = DEFAULT_CLASS_GUIDES["dog_bark"], DEFAULT_CLASS_GUIDES["siren"]
    s.fire("dream.restart")
    before = r.frame(s.snapshot(), Scene(key="dog_bark", mix=(("dog_bark", dogs, 0.9),), seed_image=red,
                                        portrait=red)).astype(float)
    s.update({"dream.crossfade": 2.0}, glide=False)
    assert r.mix.weights == {"dog_bark": 1.0}
    frames = [before]
    for _ in range(3):  # the class changes: the guidance glides, the picture moves a little each frame
        clock.t += 0.5
        frames.append(r.frame(s.snapshot(), Scene(key="siren", mix=(("siren", sirens, 0.9),), seed_image=blue,
                                                  portrait=blue)).astype(float))
    for a, b in itertools.pairwise(frames):
        assert np.abs(b - a).mean() < 40  # no cut to the new seed
    assert 0.2 < r.mix.weights.get("siren", 0) < 1.0 and r.mix.weights.get("dog_bark", 0) > 0  # halfway through
    # ... and is pulled towards the new class's portrait: bluer than it was, not the blue seed at once.
    assert frames[1][..., 2].mean() < 150
    assert frames[-1][..., 2].mean() - frames[-1][..., 0].mean() > before[..., 2].mean() - before[..., 0].mean() + 40
    clock.t += 2.0
    r.frame(s.snapshot(), Scene(key="siren", mix=(("siren", sirens, 0.9),), portrait=blue))
    assert r.mix.weights == {"siren": 1.0}
    # No class (silence, an unsure classifier): the guidance and the picture stay.
    kept = dict(r.mix.weights)
    r.frame(s.snapshot(), Scene(key=None, mix=()))
    assert r.mix.weights == kept


def test_restart_mode_starts_a_new_dream_on_a_class_change(renderer_and_clock):
    r, _ = renderer_and_clock
    s = store(crossfade=0.0, iterations=1, lr=0.02, jitter=0, class_change="restart")
    red, blue = solid((200, 40, 40)), solid((40, 40, 200))
    s.fire("dream.restart")
    r.frame(s.snapshot(), Scene(key="dog_bark", seed_image=red))
    g = r.frame(s.snapshot(), Scene(key="siren", seed_image=blue)).astype(float)
    assert g[..., 2].mean() > g[..., 0].mean() + 100


def test_crossfade_follows_the_wall_clock(renderer_and_clock):
    r, clock = renderer_and_clock
    s = store(crossfade=0.0, iterations=1, lr=0.001, jitter=0, grad_norm="none", class_change="restart")
    red, blue = solid((220, 30, 30)), solid((30, 30, 220))
    r.frame(s.snapshot(), Scene(key="a", seed_image=red))
    s.update({"dream.crossfade": 2.0}, glide=False)
    p = s.snapshot()
    r.frame(p, Scene(key="a", seed_image=red))
    clock.t += 0.0
    start = r.frame(p, Scene(key="b", seed_image=blue)).astype(float)
    clock.t += 1.0
    half = r.frame(p, Scene(key="b", seed_image=blue)).astype(float)
    clock.t += 1.5
    done = r.frame(p, Scene(key="b", seed_image=blue)).astype(float)
    assert start[..., 0].mean() > 180  # still showing the old dream
    assert 90 < half[..., 0].mean() < 160 and 90 < half[..., 2].mean() < 160
    assert done[..., 2].mean() > 180 and done[..., 0].mean() < 60


def test_parameter_change_takes_effect_at_next_step(renderer_and_clock):
    r, _ = renderer_and_clock
    s = store(iterations=1, jitter=0, layers="blocks.4", crossfade=0.0)
    r.frame(s.snapshot(), Scene(key="p"))
    assert r.layers == {"blocks.4": 1.0} and "blocks.4" in r.last_parts
    s.update({"dream.layers": "blocks.6=1,blocks.8=0.5"}, glide=False)
    r.frame(s.snapshot(), Scene(key="p"))
    assert r.layers == {"blocks.6": 1.0, "blocks.8": 0.5}
    assert set(r.last_parts) >= {"blocks.6", "blocks.8"} and "blocks.4" not in r.last_parts
    # Step size: the change between two frames scales with dream.lr, from the very next frame.
    s.update({"dream.lr": 0.001}, glide=False)
    a = r.frame(s.snapshot(), Scene(key="p")).astype(float)
    b = r.frame(s.snapshot(), Scene(key="p")).astype(float)
    s.update({"dream.lr": 0.1}, glide=False)
    c = r.frame(s.snapshot(), Scene(key="p")).astype(float)
    assert np.abs(c - b).mean() > 10 * np.abs(b - a).mean()
    # Size.
    s.update({"dream.width": 128, "dream.height": 80}, glide=False)
    assert r.frame(s.snapshot(), Scene(key="p")).shape == (80, 128, 3)


def test_bad_layers_string_never_raises_and_is_logged_once(renderer_and_clock, caplog):
    r, _ = renderer_and_clock
    s = store(iterations=1, layers="blocks.5")
    r.frame(s.snapshot(), Scene(key="q"))
    s.update({"dream.layers": "blocks.99=1"}, glide=False)
    with caplog.at_level(logging.ERROR, logger="performer.dream.renderer"):
        for _ in range(3):
            r.frame(s.snapshot(), Scene(key="q"))
    errors = [rec for rec in caplog.records if "blocks.99" in rec.getMessage()]
    assert len(errors) == 1
    assert r.layers == {"blocks.5": 1.0}


def test_network_that_cannot_load_keeps_the_old_one(caplog):
    from performer.dream.backbones import load_backbone

    def loader(name, download=True):
        if name != "efficientnet_lite0":
            raise ModelError(f"{name} weights not found (test)")
        return load_backbone(name)

    r = DreamRenderer("cpu", loader=loader, background_load=True)
    s = store(iterations=1)
    r.prepare(s.snapshot())
    s.update({"dream.network": "vgg16", "dream.layers": "features.22"}, glide=False)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            f = r.frame(s.snapshot(), Scene(key="n"))
            r.wait_for_network(30)
        f = r.frame(s.snapshot(), Scene(key="n"))
    r.close()
    assert f.shape == (SIZE, SIZE, 3)
    assert r.network == "efficientnet_lite0"
    assert any("vgg16" in rec.getMessage() and "keeping efficientnet_lite0" in rec.getMessage()
               for rec in caplog.records)


def test_bad_guide_indices_are_ignored_not_raised(renderer_and_clock, caplog):
    r, _ = renderer_and_clock
    with caplog.at_level(logging.ERROR, logger="performer.dream.renderer"):
        f = r.frame(store(guide_weight=1.0).snapshot(), Scene(key="g", guide=(207, 5000)))
    assert f.shape == (SIZE, SIZE, 3)
    assert any("5000" in rec.getMessage() for rec in caplog.records)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_device_is_a_dream_error():
    with pytest.raises(DreamError, match="cuda"):
        DreamRenderer("cuda").prepare(store().snapshot())


def test_prepare_raises_model_error_for_unloadable_network():
    def loader(name, download=True):
        raise ModelError("no weights (test)")

    with pytest.raises(ModelError):
        DreamRenderer("cpu", loader=loader).prepare(store().snapshot())


def test_spectrogram_and_noise_seeds(renderer_and_clock):
    r, _ = renderer_and_clock
    spec = np.zeros((64, 40), np.float32)
    spec[:8] = 1.0  # energy in the lowest mel bands
    p = store(seed="spectrogram", iterations=1, lr=0.001, crossfade=0.0, class_change="restart").snapshot()
    f = r.frame(p, Scene(key="spec", spectrogram=spec)).astype(float)
    # Low frequencies are drawn at the bottom, brightly.
    assert f[-10:].mean() > f[:SIZE // 2].mean() + 50
    n = r.frame(store(seed="noise", crossfade=0.0, class_change="restart").snapshot(), Scene(key="noise")).astype(float)
    assert n.std() > 5


def test_seed_image_is_cropped_not_stretched():
    from performer.dream.seeds import image_seed

    img = np.zeros((100, 300, 3), np.uint8)
    img[:, 100:200] = 255  # a white square in the middle of a wide black image
    t = core.to_uint8(image_seed(img, (64, 64), torch.device("cpu")))
    assert t.shape == (64, 64, 3) and t[2:-2, 2:-2].min() > 200  # the square fills the square frame


def test_feedback_zoom_magnifies_the_centre():
    img = np.zeros((64, 64, 3), np.uint8)
    img[24:40, 24:40] = 255
    x = core.to_tensor(img, None, torch.device("cpu"))
    assert core.feedback(x, 1.0, 0.0, 0.0, 0.0) is x
    zoomed = core.to_uint8(core.feedback(x, 1.2, 0.0, 0.0, 0.0))
    assert (zoomed[..., 0] > 128).sum() > 1.3 * (img[..., 0] > 128).sum()
    shifted = core.to_uint8(core.feedback(x, 1.0, 0.0, 8.0, 0.0))
    assert shifted[32, 44, 0] > 128 and shifted[32, 26, 0] < 128  # moved right by 8 px


def test_parse_layers():
    assert parse_layers("", "efficientnet_lite0") == {"blocks.10": 1.0}
    assert parse_layers(" blocks.4=1, blocks.5 = 0.5 ", "efficientnet_lite0") == {"blocks.4": 1.0, "blocks.5": 0.5}
    assert parse_layers("inception4c", "googlenet") == {"inception4c": 1.0}
    with pytest.raises(DreamError, match="'blocks.99' is not a layer of efficientnet_lite0; layers are stem"):
        parse_layers("blocks.99", "efficientnet_lite0")
    with pytest.raises(DreamError, match="not a number"):
        parse_layers("blocks.4=x", "efficientnet_lite0")
    with pytest.raises(DreamError, match="non-zero"):
        parse_layers("blocks.4=0", "efficientnet_lite0")


def test_default_class_guides_cover_the_ten_sound_classes():
    assert set(DEFAULT_CLASS_GUIDES) == {"air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
                                         "engine_idling", "gun_shot", "jackhammer", "siren", "street_music"}
    cats = imagenet_categories()
    for name, idx in DEFAULT_CLASS_GUIDES.items():
        assert idx and all(0 <= i < 1000 for i in idx) and len(set(idx)) == len(idx), name
    assert all(151 <= i <= 268 for i in DEFAULT_CLASS_GUIDES["dog_bark"])  # ImageNet's dog breeds
    assert "ambulance" in [cats[i] for i in DEFAULT_CLASS_GUIDES["siren"]]
    assert "power drill" in [cats[i] for i in DEFAULT_CLASS_GUIDES["drilling"]]
