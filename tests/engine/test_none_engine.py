"""The "none of these" class through the engine and the mapping: the dream holds the class it shows."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from conftest import wait_until
from none_helpers import RATE, NoneToneClassifier, RecordingRenderer
from performer.analysis import Analyzer
from performer.audio import ArraySource, AudioRing
from performer.dream.guidance import GuideMix
from performer.engine import Engine
from performer.engine.classes import class_guides, load_class_images
from performer.latest import Latest
from performer.mapping import ModMatrix, Route
from performer.presets import Preset
from sounds import noise, tone

STEADY = {"classifier.smoothing": 0.0, "classifier.hysteresis": 0.2, "classifier.hold": 0.0, "classifier.hop": 0.1,
          "classifier.window": 0.5, "classifier.fast": False, "dream.width": 64, "dream.height": 64,
          "dream.iterations": 1, "output.fps": 8.0}


def class_preset(tmp_path) -> Preset:
    """Guides and a seed image of its own for 'low' and 'high'."""
    for name, colour in (("low", (255, 0, 0)), ("high", (0, 0, 255))):
        Image.new("RGB", (32, 32), colour).save(tmp_path / f"{name}.png")
    return Preset(name="classes", params=dict(STEADY), path=tmp_path / "classes.toml",
                  classes={"low": {"guide": [1, 2], "image": "low.png"}, "high": {"guide": [3], "image": "high.png"}})


def analyses(engine: Engine, audio: np.ndarray) -> list:
    ring = AudioRing(RATE, seconds=len(audio) / RATE + 1)
    ring.write(audio)
    an = Analyzer(ring, engine.classifier, engine.store, Latest())
    hop = int(0.1 * RATE)
    return [an.analyse(pos, engine.store.snapshot()) for pos in range(hop, len(audio) + 1, hop)]


def test_on_none_the_dream_keeps_its_class_guide_and_image(tmp_path):
    engine = Engine(source=ArraySource(tone(300, 1.0), RATE), classifier=NoneToneClassifier(),
                    renderer=RecordingRenderer(), preset=class_preset(tmp_path))
    params = engine.store.snapshot()
    mix = GuideMix()  # what the renderer does with each scene's mix
    seen = []
    for i, a in enumerate(analyses(engine, np.concatenate([tone(300, 1.5), noise(1.5), tone(3000, 1.5)]))):
        _, scene = engine._quantised(params, engine.scene_for(a, params), now=0.1 * i)
        before = dict(mix.weights)
        mix.update(scene.mix, 0.1, float(params["dream.crossfade"]))
        seen.append((a, scene, before, dict(mix.weights)))
    low_image = engine.class_images["low"]
    held = [(s, before, after) for a, s, before, after in seen if a.hears_none]
    assert len(held) >= 10
    for scene, before, after in held:
        assert scene.key == "low" and scene.mix == ()  # no class change: no restart, no portrait pull
        assert scene.seed_image is low_image  # a restart meanwhile starts again from what the dream shows
        assert after == before and set(after) == {"low"}  # the guidance holds where it was
    assert "none" not in {s.key for _, s, _, _ in seen}
    assert seen[-1][1].key == "high" and max(seen[-1][3], key=seen[-1][3].get) == "high"  # a real class takes over
    engine.analysis.put(next(a for a, *_ in seen if a.hears_none))
    status = engine.status()
    assert status["top_class"] == "none" and status["dream_class"] == "high"  # the last class shown


def test_none_before_any_class_is_the_idle_dream(tmp_path):
    engine = Engine(source=ArraySource(tone(300, 1.0), RATE), classifier=NoneToneClassifier(),
                    renderer=RecordingRenderer(), preset=class_preset(tmp_path))
    params = engine.store.snapshot()
    [*_, a] = analyses(engine, noise(1.0))
    assert a.hears_none
    scene = engine.scene_for(a, params)
    from performer.dream.portraits import IDLE, load_portrait

    assert scene.key is None and scene.mix == () and scene.portrait is None
    assert scene.seed_image is load_portrait(IDLE)


def test_a_running_engine_holds_the_class_while_outputs_say_none(tmp_path):
    renderer = RecordingRenderer()
    audio = np.concatenate([tone(300, 1.5), noise(2.0)])
    engine = Engine(source=ArraySource(audio, RATE, name="low-then-room"), classifier=NoneToneClassifier(),
                    renderer=renderer, preset=class_preset(tmp_path))
    told: list[str | None] = []
    engine.frame_listeners.append(lambda frame, info: told.append(info.top_class))
    engine.start()
    try:
        assert engine.source.finished.wait(15)
        assert wait_until(lambda: "none" in told and told[-1] == "none", 5)
    finally:
        engine.stop()
    keys = renderer.keys()
    assert "low" in keys and set(keys) <= {None, "low"}  # the renderer was never told of a class change
    assert keys[-1] == "low"  # while the room played, the dream followed 'low' still


def test_a_preset_table_for_none_is_refused_in_one_line(tmp_path, caplog):
    Image.new("RGB", (8, 8)).save(tmp_path / "none.png")
    preset = Preset(name="with-none", path=tmp_path / "p.toml",
                    classes={"none": {"guide": [5], "image": "none.png"}, "low": {"guide": [1]}})
    with caplog.at_level(logging.ERROR, logger="performer.engine.classes"):
        guides = class_guides(preset, NoneToneClassifier.classes)
    assert guides == {"low": (1,)} and load_class_images(preset) == {}
    [line] = [r.getMessage() for r in caplog.records]
    assert "classes.none" in line and "refused" in line and "\n" not in line


def test_prob_none_is_a_mapping_source(tmp_path):
    engine = Engine(source=ArraySource(tone(300, 1.0), RATE), classifier=NoneToneClassifier(),
                    renderer=RecordingRenderer(), preset=class_preset(tmp_path))
    [*_, tone_a] = analyses(engine, tone(300, 1.0))
    [*_, room_a] = analyses(engine, noise(1.0))
    matrix = ModMatrix([Route("prob.none", "dream.blend", 0.5)])
    base = engine.store.snapshot()
    quiet = matrix.apply(base, tone_a.sources(), 0.1)["dream.blend"]
    room = matrix.apply(base, room_a.sources(), 0.1)["dream.blend"]
    assert room > quiet + 0.1  # the room itself can drive a parameter
