"""Frame outputs: layouts, the non-blocking base, NDI on loopback, recording, Syphon/Spout off their platforms,
and outputs built from a preset running in the engine."""

from __future__ import annotations

import csv
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import wait_until
from performer.audio import ArraySource
from performer.engine import Engine
from performer.errors import OutputError
from performer.outputs import (
    FrameInfo,
    FrameOutput,
    Layout,
    NDIOutput,
    NullOutput,
    RecordOutput,
    SpoutOutput,
    SyphonOutput,
    build_outputs,
    make_output,
    sender_name,
    spectrogram_rgb,
    to_rgba,
)
from performer.presets import Preset, parse_preset
from sounds import ToneClassifier, tone

CLASSES = ("air_conditioner", "dog_bark", "siren")


def info(n: int = 1, t: float = 0.0, probs=(0.1, 0.7, 0.2)) -> FrameInfo:
    p = np.array(probs, dtype=np.float32)
    spec = np.linspace(-80, 0, 64 * 44, dtype=np.float32).reshape(64, 44)
    return FrameInfo(n, t, CLASSES[int(np.argmax(p))], float(p.max()), CLASSES, p, spec, -20.0, {"fps": 30.0})


def pattern(h: int, w: int, shift: int = 0) -> np.ndarray:
    """A smooth test image (gradients survive NDI's compression well), changing with ``shift``."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(1, w - 1) + shift) % 256, y * 255 // max(1, h - 1),
                    np.full_like(x, (80 + 3 * shift) % 256)], axis=-1)
    return img.astype(np.uint8)


# --- layouts --------------------------------------------------------------------------------------------------

def test_dream_layout_at_render_size_passes_the_frame_through():
    f = pattern(64, 64)
    assert Layout()(f, info()) is f


def test_dream_layout_scales_or_letterboxes_to_its_own_size():
    red = np.zeros((100, 100, 3), np.uint8)
    red[..., 0] = 255
    scaled = Layout("dream", 160, 90, "scale")(red, info())
    assert scaled.shape == (90, 160, 3) and (scaled[..., 0] > 250).all()
    boxed = Layout("dream", 160, 90, "letterbox")(red, info())
    assert boxed.shape == (90, 160, 3)
    assert (boxed[:, :30] == 0).all() and (boxed[:, -30:] == 0).all()  # bars left and right
    assert (boxed[:, 40:120, 0] > 250).all()  # the image, centred, full height
    tall = Layout("dream", 90, 160, "letterbox")(red, info())
    assert (tall[:30] == 0).all() and (tall[40:120, :, 0] > 250).all()
    assert Layout("dream", width=200)(pattern(50, 100), info()).shape == (100, 200, 3)  # one side keeps aspect


def test_composite_layout_shows_dream_bars_and_spectrogram():
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    lay = Layout("composite", 640, 360, "letterbox")
    img = lay(red, info(probs=(0.1, 0.7, 0.2)))
    assert img.shape == (360, 640, 3)
    assert (img[100:260, 100:260, 0] > 250).all() and (img[100:260, 100:260, 1:] < 5).all()  # dream at left
    g = lay._geometry
    bx, by, bw, bh = g["bars"]
    rows = [int(by + g["title_h"] + (i + 0.5) * g["row_h"]) for i in range(3)]
    bar_x0 = bx + g["label_w"]
    lengths = [int((np.abs(img[r, bar_x0:bx + bw].astype(int) - (40, 40, 48)).sum(axis=1) > 30).sum())
               for r in rows]
    assert lengths[1] > lengths[2] > lengths[0] > 0  # bars follow the probabilities
    assert abs(lengths[1] - 0.7 * (bw - g["label_w"])) <= 2
    assert tuple(img[rows[1], bar_x0 + 2]) == (250, 180, 40)  # the top class is highlighted
    sx, sy, sw, sh = g["spec"]
    region = img[sy:sy + sh, sx:sx + sw].astype(int)
    assert region[:5].mean() > region[-5:].mean() + 50  # the ramp: loud high mels at the top, dark at the bottom
    square = Layout("composite", 512, 512)(red, info())
    assert square.shape == (512, 512, 3)
    assert Layout("composite")(pattern(64, 64), info()).shape == (64, 114, 3)  # 16:9 at the render height


def test_a_following_layout_switches_with_the_live_output_layout_parameter():
    from dataclasses import replace

    lay = Layout("dream", 320, 180, follow=True)
    f = pattern(64, 64)
    plain = lay(f, info())
    assert plain.shape == (180, 320, 3) and (plain[:, :60] == 0).all()  # dream, letterboxed
    comp = lay(f, replace(info(), layout="composite"))
    assert lay.kind == "composite" and not np.array_equal(comp, plain)
    assert Layout("dream")(f, replace(info(), layout="composite")) is f  # a fixed layout ignores it


@pytest.mark.parametrize("size", [(16, 16), (16, 100), (100, 16), (17, 33), (7680, 16), (16, 4320)])
def test_composite_at_any_size_a_preset_allows(size):
    w, h = size
    for fit in ("scale", "letterbox"):
        assert Layout("composite", w, h, fit)(pattern(64, 64), info()).shape == (h, w, 3)


def test_composite_without_analysis_yet_still_draws():
    img = Layout("composite", 320, 180)(pattern(64, 64), FrameInfo(1, 0.0))
    assert img.shape == (180, 320, 3)


def test_layout_and_fit_are_checked_with_what_is_allowed():
    with pytest.raises(OutputError, match="'mosaic' is not one of dream, composite"):
        Layout("mosaic")
    with pytest.raises(OutputError, match="fit 'stretch' is not one of scale, letterbox, crop"):
        Layout(fit="stretch")
    with pytest.raises(OutputError, match="width 4 "):
        Layout(width=4)


def test_spectrogram_colours_low_mels_at_the_bottom():
    spec = np.full((8, 4), -80.0)
    spec[0] = 0.0  # loud lowest mel
    rgb = spectrogram_rgb(spec)
    assert rgb.shape == (8, 4, 3) and rgb[-1].mean() > rgb[0].mean()
    with pytest.raises(OutputError, match="2-D"):
        spectrogram_rgb(np.zeros(3))


# --- the base: never blocks, counts loss ------------------------------------------------------------------------

class SlowOutput(FrameOutput):
    kind = "slow"

    def __init__(self, delay: float) -> None:
        super().__init__("slow")
        self.delay = delay

    def _send(self, frame, info):
        time.sleep(self.delay)


class BrokenOutput(FrameOutput):
    kind = "broken"

    def _send(self, frame, info):
        raise RuntimeError("cable unplugged")


class GatedOutput(FrameOutput):
    """Blocks in ``_send`` until the test opens the gate: a stuck output, made deterministic."""

    kind = "gated"

    def __init__(self) -> None:
        super().__init__("gated")
        self.entered, self.gate, self.numbers = threading.Event(), threading.Event(), []

    def _send(self, frame, info):
        self.entered.set()
        self.gate.wait(10)
        self.numbers.append(info.number)


def test_a_stuck_output_drops_and_counts_while_send_never_waits():
    stuck, null = GatedOutput(), NullOutput()
    for o in (stuck, null):
        o.open()
    try:
        stuck.send(pattern(32, 32), info(1))
        assert stuck.entered.wait(5)  # its thread now hangs in _send with frame 1

        def render():
            for n in range(2, 21):
                for o in (stuck, null):
                    o.send(pattern(32, 32, n), info(n))

        renderer = threading.Thread(target=render)
        renderer.start()
        renderer.join(5)
        assert not renderer.is_alive(), "send() waited for a stuck output"
        # the other output went on meanwhile (it may drop some of a burst, but it counts them)
        assert wait_until(lambda: null.last is not None and null.last[1].number == 20, 5)
        assert wait_until(lambda: null.stats.sent + null.stats.dropped == 19, 5)
        assert stuck.stats.dropped == 18 and stuck.stats.sent == 0  # frames 2..19 replaced in the hand-off
        stuck.gate.set()
        assert wait_until(lambda: stuck.stats.sent == 2, 5)
    finally:
        stuck.gate.set()
        for o in (stuck, null):
            o.close()
    assert stuck.numbers == [1, 20]


def test_a_slow_output_reports_its_fps_and_drops():
    slow = SlowOutput(0.1)
    with slow:
        for n in range(1, 41):
            slow.send(pattern(16, 16), info(n))
            time.sleep(0.01)
        assert wait_until(lambda: slow.stats.sent + slow.stats.dropped == 40, 5)
    assert slow.stats.dropped > 0 and 0 < slow.stats.fps <= 11


def test_a_failing_output_counts_errors_and_keeps_the_message():
    out = BrokenOutput("b")
    with out:
        for n in range(1, 4):
            out.send(pattern(8, 8), info(n))
            assert wait_until(lambda n=n: out.stats.errors == n, 2)
    assert out.stats.last_error == "cable unplugged" and out.stats.sent == 0


def test_send_rejects_frames_that_are_not_rgb_uint8():
    out = NullOutput("n")
    with pytest.raises(OutputError, match=r"'n' takes HxWx3 uint8 RGB frames, got float32 \(4, 4, 3\)"):
        out.send(np.zeros((4, 4, 3), np.float32), info())


def test_the_layout_runs_on_the_output_thread():
    out = NullOutput("n", layout=Layout("composite", 320, 180))
    with out:
        out.send(pattern(64, 64), info())
        assert wait_until(lambda: out.last is not None, 5)
    assert out.last[0].shape == (180, 320, 3) and out.stats.send_ms > 0


# --- NDI on loopback --------------------------------------------------------------------------------------------

class NDIReceiver:
    """A real NDI receiver on loopback: finds the sender through 127.0.0.1 and returns RGB frames."""

    def __init__(self, source_name: str) -> None:
        import NDIlib as ndi  # noqa: N813 (the module's own name)

        self.ndi = ndi
        self.find = ndi.find_create_v2(ndi.FindCreate(show_local_sources=True, p_extra_ips="127.0.0.1"))
        self.recv = None
        self.source_name = source_name

    def connect(self, timeout: float = 10.0) -> str:
        ndi, deadline = self.ndi, time.monotonic() + timeout
        while time.monotonic() < deadline:
            ndi.find_wait_for_sources(self.find, 200)
            for src in ndi.find_get_current_sources(self.find):
                if src.ndi_name == self.source_name:
                    rc = ndi.RecvCreateV3()
                    rc.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
                    self.recv = ndi.recv_create_v3(rc)
                    ndi.recv_connect(self.recv, src)
                    return str(src.url_address)
        raise AssertionError(f"NDI source {self.source_name!r} not found on loopback within {timeout} s")

    def frame(self, timeout: float = 5.0) -> np.ndarray | None:
        ndi, deadline = self.ndi, time.monotonic() + timeout
        while time.monotonic() < deadline:
            t, v, _, _ = ndi.recv_capture_v2(self.recv, 100)
            if t == ndi.FRAME_TYPE_VIDEO:
                rgb = np.array(v.data[..., :3], copy=True)
                ndi.recv_free_video_v2(self.recv, v)
                return rgb
        return None

    def close(self) -> None:
        if self.recv is not None:
            self.ndi.recv_destroy(self.recv)
        self.ndi.find_destroy(self.find)


@pytest.fixture
def ndi_available():
    pytest.importorskip("NDIlib", reason="ndi-python is not installed (pip install 'performer[ndi]')")


def _feed(out: FrameOutput, make, stop: threading.Event, fps: float = 30.0) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        out.send(make(n), info(n, n / fps))
        time.sleep(1.0 / fps)


def test_ndi_receiver_on_loopback_gets_the_rendered_frames(ndi_available):
    out = NDIOutput("ndi", sender="Performer test loopback", fps=30)
    frames: dict[int, np.ndarray] = {}

    def make(n):
        frames[n] = pattern(180, 320, shift=(n // 10) * 40)  # the picture changes every 10 frames
        return frames[n]

    stop = threading.Event()
    out.open()
    feeder = threading.Thread(target=_feed, args=(out, make, stop), daemon=True)
    feeder.start()
    rx = NDIReceiver(out.source_name)
    try:
        t0 = time.monotonic()
        address = rx.connect(10.0)
        assert address.startswith("127.0.0.1:") and time.monotonic() - t0 < 10
        received = [f for f in (rx.frame() for _ in range(8)) if f is not None]
        assert len(received) >= 5
        assert wait_until(lambda: out.connections >= 1, 2)
    finally:
        stop.set()
        feeder.join(2)
        rx.close()
        out.close()
    candidates = [pattern(180, 320, shift=k * 40) for k in range(len(frames) // 10 + 2)]
    for got in received:
        assert got.shape == (180, 320, 3)
        errors = [np.abs(got.astype(int) - c.astype(int)).mean() for c in candidates]
        assert min(errors) < 6.0, f"no rendered frame matches what arrived (mean abs error {min(errors):.1f})"
        other = sorted(errors)[1]
        assert other > 3 * min(errors)  # and it is clearly that one, not any frame
    assert out.stats.sent >= len(received) and out.stats.errors == 0 and out.stats.fps > 0


def test_ndi_sender_applies_its_layout(ndi_available):
    out = NDIOutput("ndi-c", sender="Performer test composite", layout=Layout("composite", 256, 144))
    stop = threading.Event()
    out.open()
    feeder = threading.Thread(target=_feed, args=(out, lambda n: pattern(64, 64), stop), daemon=True)
    feeder.start()
    rx = NDIReceiver(out.source_name)
    try:
        rx.connect(10.0)
        got = rx.frame()
    finally:
        stop.set()
        feeder.join(2)
        rx.close()
        out.close()
    assert got is not None and got.shape == (144, 256, 3)
    expected = Layout("composite", 256, 144)(pattern(64, 64), info())
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 8.0


def test_ndi_sender_names_are_checked():
    with pytest.raises(OutputError, match="control characters"):
        NDIOutput("x", sender="bad\nname")
    with pytest.raises(OutputError, match="fps 0 is not in 0.1..240"):
        NDIOutput("x", fps=0)


# --- Syphon and Spout: the platform-neutral parts -----------------------------------------------------------------

def test_rgba_conversion_keeps_colours_adds_opaque_alpha_and_reuses_the_buffer():
    f = pattern(6, 5)
    rgba = to_rgba(f)
    assert rgba.shape == (6, 5, 4) and (rgba[..., :3] == f).all() and (rgba[..., 3] == 255).all()
    again = to_rgba(pattern(6, 5, 7), rgba)
    assert again is rgba and (again[..., :3] == pattern(6, 5, 7)).all()
    flipped = to_rgba(f, flip=True)
    assert (flipped[0, :, :3] == f[-1]).all()
    assert to_rgba(pattern(3, 3), rgba).shape == (3, 3, 4)
    one = to_rgba(np.array([[[1, 2, 3]]], np.uint8))
    assert one.tolist() == [[[1, 2, 3, 255]]]
    big = pattern(90, 160, 3)
    view = big[10:70:2, 5:150]  # not contiguous
    assert (to_rgba(view)[..., :3] == view).all() and (to_rgba(view)[..., 3] == 255).all()


@pytest.mark.parametrize("cls,platform,elsewhere",
                         [(SyphonOutput, "darwin", "macOS"), (SpoutOutput, "win32", "Windows")])
def test_syphon_and_spout_say_clearly_where_they_exist(cls, platform, elsewhere):
    if sys.platform == platform:
        pytest.skip(f"this is {platform}: the sender would really open")
    out = cls("vj")
    with pytest.raises(OutputError, match=rf"output 'vj': .* only on {elsewhere}, this is {sys.platform}"):
        out.open()
    assert out.stats.state == "failed"
    tolerant = cls("vj2", required=False)
    tolerant.open()  # logs, does not raise
    tolerant.send(pattern(8, 8), info())
    tolerant.send(pattern(8, 8), info(2))
    assert tolerant.stats.state == "failed" and tolerant.stats.dropped == 2 and "only on" in tolerant.stats.last_error
    tolerant.close()
    tolerant.close()  # closing twice is fine


def test_platform_sender_names():
    assert SyphonOutput("s", server="  Dream  ").server_name == "Dream"
    assert SpoutOutput("s").sender == "Performer"
    with pytest.raises(OutputError, match="at most 255"):
        SpoutOutput("s", sender="x" * 300)
    with pytest.raises(OutputError, match="non-empty"):
        sender_name("syphon", " ")


# --- recording --------------------------------------------------------------------------------------------------

def test_recording_writes_a_png_sequence_with_a_timestamp_index(tmp_path):
    out = RecordOutput(tmp_path / "rec", fps=10, video=False)
    with out:
        for n in range(1, 6):
            out.send(pattern(32, 48, n), info(n, n * 0.1))
            assert wait_until(lambda n=n: out.stats.sent == n, 5)
    rows = list(csv.DictReader(open(tmp_path / "rec" / "index.csv")))
    assert [r["frame"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert [float(r["time"]) for r in rows] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert all(float(r["wall_time"]) > 1e9 for r in rows) and rows[0]["top_class"] == "dog_bark"
    from PIL import Image

    back = np.asarray(Image.open(tmp_path / "rec" / rows[2]["file"]))
    assert (back == pattern(32, 48, 3)).all()  # PNG is lossless
    assert not (tmp_path / "rec" / "video.mp4").exists()


def _video(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """The stamps (seconds) and RGB pictures of every frame of a recorded video, read back with PyAV."""
    import av

    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return [float(f.time) for f in frames], [f.to_ndarray(format="rgb24") for f in frames]


def test_recording_writes_a_video_that_plays_in_real_time(tmp_path):
    out = RecordOutput(tmp_path / "rec", fps=20, layout=Layout("composite", 321, 181))  # odd sizes get padded
    with out:
        for n in range(21):  # frames 0.1 s apart by render time: 2 s of video however fast they are handed over
            out.send(pattern(64, 64, n * 10), info(n + 1, n * 0.1))
            assert wait_until(lambda n=n: out.stats.sent == n + 1, 5)
    assert out.stats.errors == 0 and out.stats.skipped == 0, out.stats.last_error
    assert out.video_frames == 21
    pts, pictures = _video(tmp_path / "rec" / "video.mp4")
    assert len(pictures) == 21 and pictures[0].shape == (182, 322, 3)
    # the video keeps the render times: 0.1 s apart (a late-starting or busy encoder never squeezes them)
    assert pts == pytest.approx([0.1 * n for n in range(21)], abs=0.002)
    # the video's eleventh frame is the eleventh frame recorded
    want = Layout("composite", 321, 181)(pattern(64, 64, 100), info(11, 1.0))
    assert np.abs(pictures[10][:181, :321].astype(int) - want.astype(int)).mean() < 8


def test_recording_a_burst_keeps_every_frame_in_order(tmp_path):
    out = RecordOutput(tmp_path / "rec", fps=10, png=False)
    with out:
        for n in range(12):  # render times 0.1 s apart, but handed over as fast as the recorder takes them
            out.send(pattern(48, 64, n * 20), info(n + 1, n * 0.1))
            assert wait_until(lambda n=n: out.stats.sent == n + 1, 5)
    assert out.stats.errors == 0, out.stats.last_error
    pts, _ = _video(tmp_path / "rec" / "video.mp4")
    assert pts == pytest.approx([0.1 * n for n in range(12)], abs=0.002)
    assert not list((tmp_path / "rec").glob("*.png"))
    assert len((tmp_path / "rec" / "index.csv").read_text().splitlines()) == 13


def test_recording_keeps_to_its_rate_by_render_time(tmp_path):
    out = RecordOutput(tmp_path / "rec", fps=10, video=False)
    with out:
        for n in range(21):  # 21 frames 10 ms apart: kept on a 0.1 s schedule, a little early is fine
            out.send(pattern(16, 16, n), info(n + 1, n * 0.01))
            assert wait_until(lambda n=n: out.stats.sent + out.stats.skipped == n + 1, 5)
    assert out.stats.skipped == 18 and len(list((tmp_path / "rec").glob("frame-*.png"))) == 3
    rows = list(csv.DictReader(open(tmp_path / "rec" / "index.csv")))
    assert [r["engine_frame"] for r in rows] == ["1", "9", "19"]  # times 0.0, 0.08 (>= 0.1 - 0.025), 0.18
    assert [r["frame"] for r in rows] == ["1", "2", "3"]  # the files are numbered without gaps


def test_video_that_requires_pyav_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("performer.outputs.record._pyav", lambda: None)
    with pytest.raises(OutputError, match="needs PyAV \\(pip install av\\)"):
        RecordOutput(tmp_path / "r", video=True).open()


# --- from a preset, in the engine ---------------------------------------------------------------------------------

class ColourRenderer:
    """A cheap renderer for output tests: a gradient whose colour follows the frame count."""

    def __init__(self, size: int = 64) -> None:
        self.size, self.n = size, 0

    def prepare(self, params) -> None:
        pass

    def frame(self, params, scene) -> np.ndarray:
        self.n += 1
        return pattern(self.size, self.size, self.n)


def preset_from(tmp_path: Path, outputs: dict, **params) -> Preset:
    preset, problems = parse_preset({"name": "outputs test", "params": {"output.fps": 20.0, **params},
                                     "outputs": outputs}, str(tmp_path / "p.toml"))
    assert not problems, problems
    return preset


def test_build_outputs_makes_the_enabled_outputs_with_names_sizes_and_paths(tmp_path):
    preset = preset_from(tmp_path, {
        "main": {"type": "ndi", "name": "Stage left", "width": 1280, "height": 720, "layout": "composite"},
        "mac": {"type": "syphon", "name": "Dream"},
        "win": {"type": "spout"},
        "web": {"type": "preview", "port": 0, "fps": 12},
        "rec": {"type": "record", "path": "recordings", "fps": 25},
        "stills": {"type": "frames", "path": "stills", "enabled": False},
    }, **{"output.layout": "composite"})
    outs = {o.name: o for o in build_outputs(preset)}
    assert set(outs) == {"main", "mac", "win", "web", "rec"}
    assert isinstance(outs["main"], NDIOutput) and outs["main"].sender == "Stage left"
    assert (outs["main"].layout.width, outs["main"].layout.height, outs["main"].layout.kind) == (1280, 720, "composite")
    assert outs["mac"].server_name == "Dream" and outs["win"].sender == "Performer win"
    assert outs["web"].layout.kind == "composite"  # the preset's output.layout when the table names none
    assert outs["web"].layout.follow and not outs["main"].layout.follow  # ... and then the live parameter
    assert outs["rec"].folder.parent == tmp_path / "recordings" and outs["rec"].fps == 25
    assert outs["main"].fps == 20.0  # no fps in the table: the preset's output.fps
    assert all(not o.required for o in outs.values())
    frames = build_outputs(preset_from(tmp_path, {"f": {"type": "frames"}}), frames_dir=tmp_path / "fd")[0]
    assert frames.folder == tmp_path / "fd" / "f"


def test_an_output_table_that_cannot_make_an_output_is_left_out_and_logged(tmp_path, caplog):
    preset = Preset(name="p", outputs={"f": {"type": "frames"}, "n": {"type": "ndi", "fps": 0}})
    assert build_outputs(preset) == []
    assert "output 'f' left out: frames output 'f' needs a path" in caplog.text
    with pytest.raises(OutputError, match="type 'vga' is not one of ndi, syphon"):
        make_output("v", {"type": "vga"})


def test_engine_runs_all_outputs_at_once_and_a_broken_one_stops_nothing(tmp_path, ndi_available):
    preset = preset_from(tmp_path, {
        "ndi": {"type": "ndi", "name": "Performer engine test", "width": 320, "height": 180},
        "mac": {"type": "syphon"},  # cannot open on Linux
        "web": {"type": "preview", "port": 0, "layout": "composite", "width": 320, "height": 180},
        "rec": {"type": "record", "path": "rec", "fps": 20, "width": 160, "height": 90},
        "stills": {"type": "frames", "path": "stills", "layout": "composite"},
    })
    outs = build_outputs(preset)
    slow = SlowOutput(0.5)
    engine = Engine(source=ArraySource(tone(3000, 4.0), 22050, name="tone", loop=True),
                    classifier=ToneClassifier(), renderer=ColourRenderer(), outputs=[*outs, slow], preset=preset)
    engine.start()
    try:
        assert wait_until(lambda: engine.render_stats.frames >= 40, 20)
    finally:
        engine.stop()
    status = engine.status()["outputs"]
    byname = {o.name: o for o in outs}
    assert byname["mac"].stats.state == "failed" and status["mac"]["dropped"] >= 30
    for name in ("ndi", "web", "rec", "stills"):
        assert byname[name].stats.errors == 0, (name, byname[name].stats.last_error)
        assert status[name]["sent"] >= 20, (name, status[name])
    assert slow.stats.dropped > 10  # the slow one lost frames (counted) ...
    assert engine.render_stats.frames > 3 * max(1, slow.stats.sent)  # ... and the renderer did not wait for it
    rec = byname["rec"]
    assert len(list(rec.folder.glob("frame-*.png"))) == rec.stats.sent
    stills = sorted((tmp_path / "stills").glob("frame-*.jpg"))
    from PIL import Image

    assert Image.open(stills[-1]).size == (1280, 720)  # an output naming no size is 1280x720
