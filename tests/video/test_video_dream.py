"""The live video in the dream: video.weight and video.mode in the renderer, the engine receiving an NDI source on
loopback and dreaming towards it, the [video] preset section and serve --video."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from video_peer import Sender, error, picture

from conftest import wait_until
from performer.audio import ArraySource
from performer.dream import DreamRenderer, Scene, core
from performer.dream.seeds import image_seed
from performer.dream.video_mix import VideoMix
from performer.engine import Engine
from performer.params import ParamStore
from performer.params.views import VideoParams
from performer.presets import Preset, copy_preset, parse_preset
from performer.video import CameraVideo, NDIVideo
from small import small_preset
from sounds import ToneClassifier, tone

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("one_torch_thread")]
SIZE = 64


def at_dream_size(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    """``img`` as the renderer sees it: scaled to cover the dream and centre-cropped."""
    return core.to_uint8(image_seed(img, (size, size), torch.device("cpu")))


SETTINGS = {"dream.width": SIZE, "dream.height": SIZE, "dream.iterations": 1, "dream.crossfade": 0.0,
            "dream.jitter": 0, "dream.lr": 0.02, "video.weight": 0.0, "video.mode": "blend"}
STORE = ParamStore()
"""One store for the module's renderer: the renderer restarts when the restart trigger's count changes."""


def store(**values) -> ParamStore:
    STORE.update({**SETTINGS, **values}, glide=False)
    return STORE


@pytest.fixture(scope="module")
def renderer():
    r = DreamRenderer("cpu", seed=0, background_load=False)
    r.prepare(store().snapshot())
    return r


# --- the renderer -----------------------------------------------------------------------------------------------

def dream(r: DreamRenderer, s: ParamStore, frames: int, video: np.ndarray | None, seed: np.ndarray) -> np.ndarray:
    s.fire("dream.restart")
    out = r.frame(s.snapshot(), Scene(key="k", seed_image=seed, video=video))
    for _ in range(frames - 1):
        out = r.frame(s.snapshot(), Scene(key="k", seed_image=seed, video=video))
    return out


def test_blend_pulls_every_dreamed_frame_towards_the_video(renderer):
    grey = np.full((SIZE, SIZE, 3), 128, np.uint8)
    video = picture()
    target = at_dream_size(video)
    without = dream(renderer, store(**{"video.weight": 0.4}), 8, None, grey)
    off = dream(renderer, store(**{"video.weight": 0.0}), 8, video, grey)
    pulled = dream(renderer, store(**{"video.weight": 0.4}), 8, video, grey)
    assert error(without, target) > 40 and error(off, target) > 40  # the grey dream is nowhere near the picture
    assert error(pulled, target) < 0.3 * error(without, target)  # with the video it grows on the picture
    # A moving video: the dream follows it.
    flipped = picture(flip=True)
    s = store(**{"video.weight": 0.4})  # no restart: the dream goes on from the picture
    for _ in range(8):
        moved = renderer.frame(s.snapshot(), Scene(key="k", seed_image=grey, video=flipped))
    assert error(moved, at_dream_size(flipped)) < 0.5 * error(moved, target)


def test_restart_mode_seeds_each_new_dream_from_the_video_and_leaves_it_alone_between(renderer):
    grey = np.full((SIZE, SIZE, 3), 128, np.uint8)
    video, flipped = picture(), picture(flip=True)
    s = store(**{"video.weight": 1.0, "video.mode": "restart", "dream.lr": 0.005})
    first = dream(renderer, s, 1, video, grey)
    assert error(first, at_dream_size(video)) < 15  # the new dream starts from the video's frame
    for _ in range(5):  # the video moves on; the dream does not follow it between restarts
        later = renderer.frame(s.snapshot(), Scene(key="k", seed_image=grey, video=flipped))
    assert error(later, at_dream_size(video)) < error(later, at_dream_size(flipped)) - 40
    s.update({"video.weight": 0.5}, glide=False)
    half = dream(renderer, s, 1, flipped, grey)  # half seed, half video
    mix = (at_dream_size(flipped).astype(np.float32) + grey) / 2
    assert error(half, mix) < 15


def test_the_video_is_converted_once_per_frame_and_left_out_when_off_or_unusable(caplog):
    mix = VideoMix()
    img = torch.full((1, 3, 16, 16), 0.5).contiguous(memory_format=core.CL)
    on = VideoParams(weight=0.5, mode="blend")
    frame = picture(32, 32)
    a = mix.apply(img, on, frame, "blend")
    assert mix.target(frame, img) is mix.target(frame, img)  # converted once, reused by every dreamed frame
    assert not torch.equal(a, img)
    assert mix.apply(img, VideoParams(weight=0.0, mode="blend"), frame, "blend") is img
    assert mix.apply(img, on, frame, "restart") is img  # another mode
    assert mix.apply(img, on, None, "blend") is img  # no video (yet)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert mix.apply(img, on, np.zeros(5, np.uint8), "blend") is img
    assert sum("video frame unusable" in r.message for r in caplog.records) == 1  # once, not once a frame


# --- the engine with an NDI source on loopback ---------------------------------------------------------------------

def test_the_engine_dreams_towards_an_ndi_source_once_video_weight_is_raised():
    pytest.importorskip("NDIlib", reason="ndi-python is not installed (pip install 'performer[ndi]')")
    sent = picture()
    target = at_dream_size(sent)
    name = "Performer video engine test"
    preset = small_preset()
    preset.video = {"source": f"ndi:{name}", "extra_ips": ["127.0.0.1"], "bandwidth": "highest"}
    with Sender(name, sent):
        engine = Engine(source=ArraySource(tone(300, 2.0), 22050, loop=True), classifier=ToneClassifier(),
                        renderer=DreamRenderer("cpu", seed=0), preset=preset)
        assert isinstance(engine.video, NDIVideo)
        engine.start()
        try:
            assert wait_until(lambda: engine.status()["video"]["state"] == "receiving", 20), engine.status()["video"]
            frames = engine.render_stats.frames
            assert wait_until(lambda: engine.render_stats.frames >= frames + 6, 60)
            without = error(engine.last_frame, target)
            engine.store.set("video.weight", 0.5, source="test")
            frames = engine.render_stats.frames
            assert wait_until(lambda: engine.render_stats.frames >= frames + 10, 60)
            with_video = error(engine.last_frame, target)
            status = engine.status()["video"]
            given = engine.video.latest()
        finally:
            engine.stop()
    assert without > 30, without  # without the video the dream is its own picture
    assert with_video < 0.4 * without, (with_video, without)
    assert status["frames"] > 10 and status["errors"] == 0 and status["ndi_source"].endswith(f"({name})")
    assert status["size"] == [320, 180] and given.shape == (90, 160, 3)  # halved on the source's thread for 64x64
    assert engine.video.stats.state == "stopped"


@pytest.mark.parametrize("missing", ["camera", "file"])
def test_an_engine_whose_video_cannot_open_dreams_on_without_it(caplog, tmp_path, missing):
    """A camera not plugged in is looked for (hot plug) while the engine dreams; a file that is no video is one
    line in the log, and the engine dreams without it."""
    pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'performer[video]')")
    preset = small_preset(**{"video.weight": 0.5})
    notes = tmp_path / "notes.avi"
    notes.write_text("not a video")
    preset.video = {"source": "camera:97" if missing == "camera" else str(notes)}
    engine = Engine(source=ArraySource(tone(300, 2.0), 22050, loop=True), classifier=ToneClassifier(),
                    renderer=DreamRenderer("cpu", seed=0), preset=preset)
    assert isinstance(engine.video, CameraVideo)
    engine.start()
    try:
        assert wait_until(lambda: engine.render_stats.frames >= 3, 60)
        video = engine.status()["video"]
    finally:
        engine.stop()
    assert engine.render_stats.errors == 0
    if missing == "camera":
        assert video["state"] == "searching" and "'camera:97': no camera at 97" in video["error"], video
        assert any("looking for it every 1 s" in r.message for r in caplog.records)
    else:
        assert video["state"] == "failed" and "cannot read it as a video" in video["error"], video
        assert any("dreaming without video" in r.message for r in caplog.records)


# --- presets and the command line ------------------------------------------------------------------------------------

def test_a_preset_names_its_video_source_and_a_bad_one_is_a_problem_naming_it(tmp_path):
    good = {"video": {"source": "ndi:Resolume Arena", "extra_ips": ["192.168.1.20"], "bandwidth": "highest"},
            "params": {"video": {"weight": 0.3, "mode": "restart"}}}
    preset, problems = parse_preset(good, "live.toml")
    assert problems == [] and preset is not None
    assert preset.video["source"] == "ndi:Resolume Arena" and preset.params["video.weight"] == 0.3
    assert preset.to_toml_data()["video"] == good["video"]
    bad = {"video": {"source": "camera:front", "bandwidth": "max", "ips": []}}
    _, problems = parse_preset(bad, "live.toml")
    lines = sorted(str(p) for p in problems)
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert "live.toml: video.bandwidth = 'max': one of highest, lowest" in lines
    assert any(line.startswith("live.toml: video.ips = []: no such key") for line in lines)
    assert any(line.startswith("live.toml: video.source = 'camera:front': ndi:NAME") for line in lines)


def test_a_video_file_a_preset_names_is_found_beside_it_and_a_copy_keeps_finding_it(tmp_path, caplog):
    folder = tmp_path / "show"
    folder.mkdir()
    preset, _ = parse_preset({"video": {"source": "clips/loop.avi"}}, str(folder / "show.toml"))
    assert preset is not None
    engine = Engine(source=ArraySource(tone(300, 1.0), 22050), classifier=ToneClassifier(),
                    renderer=DreamRenderer("cpu"), preset=preset)
    video = engine.video
    assert isinstance(video, CameraVideo) and video.target == str(folder / "clips" / "loop.avi")
    assert copy_preset(preset, "copy").video["source"] == f"file:{folder / 'clips' / 'loop.avi'}"
    # A recall during the show keeps the video the show started with, and says so.
    other = folder / "other.toml"
    other.write_text('[video]\nsource = "ndi:Elsewhere"\n')
    with caplog.at_level(logging.INFO):
        assert engine.load_preset(other)
    assert engine.video is video and any("its video sections apply" in r.message for r in caplog.records)


def test_serve_video_option_checks_the_spec_and_overrides_the_preset(tmp_path, capsys):
    from performer.cli.main import build_parser

    parser = build_parser()
    for spec, words in (("camera:front", "camera:INDEX"), (str(tmp_path / "no.mp4"), "no such file")):
        with pytest.raises(SystemExit) as e:
            parser.parse_args(["serve", "--video", spec])
        assert e.value.code == 2
        err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(err) == 1 and "--video" in err[0] and words in err[0], err
    assert parser.parse_args(["serve", "--video", "ndi:Stage"]).video == "ndi:Stage"
    from performer.video import video_from_preset

    preset = Preset(name="p", video={"source": "camera:0", "extra_ips": ["10.0.0.5"]})
    chosen = video_from_preset(preset, "ndi:Stage")
    assert isinstance(chosen, NDIVideo) and chosen.extra_ips == ("127.0.0.1", "10.0.0.5")
    assert video_from_preset(Preset(name="none")) is None


def test_the_video_is_off_by_default():
    s = ParamStore()
    assert s.get("video.weight") == 0.0 and s.get("video.mode") == "blend"


@pytest.mark.timeout(240)
def test_serve_with_a_video_file_dreams_on_it(tmp_path, cli):
    cv2 = pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'performer[video]')")
    sent = picture(180, 320)
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (320, 180))
    for _ in range(20):
        writer.write(np.ascontiguousarray(sent[..., ::-1]))
    writer.release()
    preset = tmp_path / "small.toml"
    preset.write_text("[params.dream]\nwidth = 64\nheight = 64\niterations = 1\n[params.video]\nweight = 0.5\n"
                      "[params.output]\nfps = 8.0\n")
    proc = cli("serve", "--preset", str(preset), "--input", "demo", "--video", str(clip), "--duration", "5",
               "--stats", str(tmp_path / "stats.json"), "--frames", str(tmp_path / "frames"), "--no-osc",
               "--no-status", timeout=200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    from PIL import Image

    video = json.loads((tmp_path / "stats.json").read_text())["video"]
    assert video["source"] == str(clip) and video["frames"] > 20 and video["errors"] == 0, video
    last = sorted((tmp_path / "frames").glob("frame-*.jpg"))[-1]
    shown = np.asarray(Image.open(last).convert("RGB").resize((64, 64), Image.BILINEAR, box=(280, 0, 1000, 720)))
    assert error(shown, at_dream_size(sent)) < 30  # the 64x64 dream, letterboxed in 1280x720: the video's picture
