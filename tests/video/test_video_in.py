"""Video in: pixel formats, source specs, an NDI source received on loopback, a camera read from a video file,
and one-line errors for sources that cannot open."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from video_peer import Sender, error, picture

from conftest import wait_until
from performer.video import (
    CameraVideo,
    NDIVideo,
    VideoError,
    name_matches,
    open_video,
    parse_spec,
    shrink,
    to_rgb,
    uyvy_to_rgb,
)

pytestmark = pytest.mark.timeout(60)


# --- pixel formats ----------------------------------------------------------------------------------------------

def uyvy_of(rgb: np.ndarray) -> np.ndarray:
    """Encode RGB as UYVY (BT.709, video levels), as an NDI sender does: HxWx2 byte pairs U Y, V Y."""
    f = rgb.astype(np.float64) / 255.0
    y = 0.2126 * f[..., 0] + 0.7152 * f[..., 1] + 0.0722 * f[..., 2]
    u = (f[..., 2] - y) / 1.8556
    v = (f[..., 0] - y) / 1.5748
    out = np.empty(rgb.shape[:2] + (2,), np.uint8)
    out[..., 1] = np.round(16 + 219 * y)
    out[:, 0::2, 0] = np.round(128 + 224 * (u[:, 0::2] + u[:, 1::2]) / 2)
    out[:, 1::2, 0] = np.round(128 + 224 * (v[:, 0::2] + v[:, 1::2]) / 2)
    return out


def test_uyvy_decodes_to_the_colours_it_was_encoded_from():
    colours = [(0, 0, 0), (255, 255, 255), (230, 30, 40), (20, 200, 220), (128, 128, 128), (10, 240, 10)]
    rgb = np.array([[c, c] for c in colours], np.uint8).reshape(len(colours), 2, 3)  # pixel pairs share U and V
    back = uyvy_to_rgb(uyvy_of(rgb))
    assert back.shape == rgb.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - rgb.astype(int)).max() <= 3
    flat = uyvy_of(rgb).reshape(len(colours), 4)  # the same bytes as one row of 2W bytes
    assert np.array_equal(uyvy_to_rgb(flat), back)


def test_four_byte_formats_come_out_as_rgb():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 20, 30, 255
    assert to_rgb(rgba, "RGBX")[0, 0].tolist() == [10, 20, 30]
    assert to_rgb(rgba, "BGRA")[0, 0].tolist() == [30, 20, 10]
    assert to_rgb(rgba[..., :3], "BGR")[0, 0].tolist() == [30, 20, 10]
    out = to_rgb(rgba, "RGBA")
    rgba[...] = 0
    assert out[0, 0].tolist() == [10, 20, 30]  # a copy: the source may free its buffer


@pytest.mark.parametrize("data, fmt, words", [
    (np.zeros((2, 3, 3), np.uint8), "RGBX", "must be HxWx4"),
    (np.zeros((2, 3, 2), np.uint8), "UYVY", "even width"),
    (np.zeros((2, 4, 4), np.float32), "RGBA", "must be uint8"),
    (np.zeros((2, 4, 4), np.uint8), "P216", "is not one of"),
])
def test_frames_that_do_not_fit_their_format_are_refused(data, fmt, words):
    with pytest.raises(ValueError, match=words):
        to_rgb(data, fmt)


def test_a_frame_much_larger_than_the_dream_is_box_averaged_down_and_still_covers_it():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    small = shrink(big, (180, 320))
    assert small.shape == (180, 320, 3) and small.dtype == np.uint8
    block = big[6:12, 12:18].reshape(-1, 3).mean(axis=0)  # pixel (1, 2): the mean of its 6 x 6 block
    assert np.abs(small[1, 2].astype(float) - block).max() <= 0.5
    assert shrink(big, (200, 320)).shape == (216, 384, 3)  # factor 5: both sides still cover 200 x 320
    assert shrink(big, (600, 320)) is big  # not twice as large: as it is
    assert shrink(big, (1, 1)).shape == (67, 120, 3)  # at most a factor of 16


# --- specs --------------------------------------------------------------------------------------------------

def test_specs_name_the_kind_of_source():
    assert parse_spec("ndi:Resolume Arena") == ("ndi", "Resolume Arena")
    assert parse_spec("ndi:STUDIO (Main out)") == ("ndi", "STUDIO (Main out)")
    assert parse_spec("camera:0") == ("camera", 0)
    assert parse_spec("camera:/dev/video2") == ("camera", "/dev/video2")
    assert parse_spec("clips/loop.mp4") == ("file", "clips/loop.mp4")
    assert parse_spec("file:C:/clips/a.mp4") == ("file", "C:/clips/a.mp4")
    assert isinstance(open_video("ndi:X"), NDIVideo) and isinstance(open_video("camera:1"), CameraVideo)


@pytest.mark.parametrize("spec, words", [
    ("", "empty; allowed: ndi:NAME"),
    ("ndi:", "needs a name"),
    ("camera:front", "camera:INDEX"),
    ("camera:100", "camera:INDEX"),
    ("file:", "needs a path"),
    ("ndi:a\nb", "not printable"),
])
def test_a_bad_spec_is_one_line_naming_it(spec, words):
    with pytest.raises(VideoError, match=words) as e:
        open_video(spec)
    assert "\n" not in str(e.value) and "video source" in str(e.value)


def test_ndi_names_match_in_full_or_by_the_name_in_brackets():
    assert name_matches("Stage", "STUDIO-PC (Stage)")
    assert name_matches("STUDIO-PC (Stage)", "STUDIO-PC (Stage)")
    assert not name_matches("Stage", "STUDIO-PC (Stage 2)")
    assert not name_matches("STUDIO-PC", "STUDIO-PC (Stage)")
    with pytest.raises(VideoError, match="extra IP 'a b'"):
        NDIVideo("Stage", extra_ips=["a b"])


# --- NDI on loopback ------------------------------------------------------------------------------------------

@pytest.fixture
def ndi_available():
    pytest.importorskip("NDIlib", reason="ndi-python is not installed (pip install 'performer[ndi]')")


@pytest.mark.parametrize("color, fmt", [("rgb", "RGBX"), ("fastest", "UYVY")])
def test_an_ndi_source_on_loopback_is_received_as_the_picture_sent(ndi_available, color, fmt):
    sent = picture()
    name = f"Performer video in {color}"
    with Sender(name, sent) as sender:
        video = NDIVideo(name, bandwidth="highest", color=color)  # found by the name in brackets
        video.start()
        try:
            got = video.wait_for_frame(15)
            assert got is not None, video.status()
            assert got.shape == sent.shape and got.dtype == np.uint8
            assert error(got, sent) < 8  # NDI compresses: close, not equal
            assert wait_until(lambda: video.stats.frames >= 10, 10)
            status = video.status()
            assert status["state"] == "receiving" and status["ndi_source"] == sender.full_name
            assert status["pixel_format"] == fmt and status["size"] == [320, 180] and status["errors"] == 0
        finally:
            video.stop()
    assert video.stats.state == "stopped"


def test_the_low_bandwidth_stream_is_the_same_picture(ndi_available):
    sent = picture(360, 640)
    with Sender("Performer video in proxy", sent) as sender:
        with open_video(f"ndi:{sender.full_name}", extra_ips=["127.0.0.1"], bandwidth="lowest") as video:
            got = video.wait_for_frame(15)
    assert got is not None
    from PIL import Image

    small = np.asarray(Image.fromarray(sent).resize((got.shape[1], got.shape[0]), Image.BILINEAR))
    assert error(got, small) < 10


def test_an_ndi_source_that_is_not_there_yet_is_searched_for_and_received_once_it_starts(ndi_available):
    name = "Performer video in late"
    video = NDIVideo(name)
    video.start()
    try:
        time.sleep(0.5)
        assert video.stats.state == "searching" and video.latest() is None
        with Sender(name, picture()):
            assert video.wait_for_frame(15) is not None
    finally:
        t0 = time.monotonic()
        video.stop()
        assert time.monotonic() - t0 < 3


@pytest.mark.parametrize("gap", [0.3, 3.0])
def test_an_ndi_source_that_goes_away_and_comes_back_is_received_again(ndi_available, gap):
    """Back before the receiver gave it up (0.3 s), and after the search began with a finder made 3 s earlier
    (such a finder listed a new sender only after 5-9 s: a fresh one is made while searching). How soon:
    `python benchmarks/video_comeback.py --old`."""
    name = f"Performer video in comeback {gap:g}"
    video = NDIVideo(name)
    video.start()
    try:
        with Sender(name, picture()):
            first = video.wait_for_frame(15)
            assert first is not None and error(first, picture()) < 8
        if gap > 1:
            assert wait_until(lambda: video.stats.state == "searching", 10), video.status()  # given up, looked for
            assert video.found == ""
        time.sleep(gap)  # gone: the dream keeps the last frame meanwhile
        assert video.latest() is not None
        with Sender(name, picture(flip=True)) as sender:
            assert wait_until(lambda: (f := video.latest()) is not None and error(f, picture(flip=True)) < 8, 20), \
                video.status()
            assert video.status()["ndi_source"] == sender.full_name and video.stats.state == "receiving"
    finally:
        video.stop()
    assert video._fresh is None and video._find is None  # every finder made while searching was destroyed


def test_without_the_ndi_runtime_the_error_is_one_line_naming_the_source(ndi_available, monkeypatch):
    import sys

    import performer.ndi

    monkeypatch.setattr(performer.ndi, "_ndi_lib", None)
    monkeypatch.setitem(sys.modules, "NDIlib", None)  # as if ndi-python were not installed
    video = open_video("ndi:Stage")
    with pytest.raises(VideoError) as e:
        video.start()
    msg = str(e.value)
    assert "\n" not in msg and "'ndi:Stage'" in msg and "pip install 'performer[ndi]'" in msg
    assert video.stats.state == "failed" and video.status()["error"] == msg


# --- cameras and files through OpenCV ----------------------------------------------------------------------------

@pytest.fixture
def cv2():
    return pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'performer[video]')")


def write_clip(cv2, path, frames: list[np.ndarray], fps: float = 20.0) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(np.ascontiguousarray(f[..., ::-1]))  # OpenCV writes BGR
    writer.release()


def test_a_video_file_plays_at_its_rate_loops_and_arrives_as_rgb(cv2, tmp_path):
    a, b = picture(96, 128), picture(96, 128, flip=True)
    clip = tmp_path / "clip.avi"
    write_clip(cv2, clip, [a] * 5 + [b] * 5, fps=20.0)  # half a second
    video = open_video(str(clip))
    video.start()
    try:
        first = video.wait_for_frame(5)
        assert first is not None and first.shape == (96, 128, 3)
        assert error(first, a) < 6  # RGB, not BGR: red stays red
        assert wait_until(lambda: video.stats.frames >= 25, 10)  # more frames than the clip has: it loops
        seen = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and len(seen) < 2:
            f = video.wait_for_frame(1)
            if f is not None:
                label = "a" if error(f, a) < 6 else "b" if error(f, b) < 6 else "?"
                if not seen or seen[-1] != label:
                    seen.append(label)
        assert "?" not in seen and len(seen) == 2  # both halves of the clip, in turn
        assert 10 < video.stats.fps < 40  # paced near its own 20 fps, not as fast as it can be decoded
        assert video.status()["file_fps"] == 20.0
    finally:
        video.stop()


def test_a_missing_camera_or_file_is_a_one_line_error_naming_it(cv2, tmp_path):
    cases = [(str(tmp_path / "nothing.mp4"), "no such file"),
             (f"file:{tmp_path}", "a folder, not a video file; allowed: a video file"),
             ("/dev/no-such-camera", "no such device /dev/no-such-camera; allowed: camera:INDEX")]
    if Path("/dev/zero").exists():  # a device that is no camera: said as it is, not "no such file"
        cases.append(("/dev/zero", "/dev/zero is a character device, not a camera OpenCV can open; allowed: "))
    text = tmp_path / "notes.avi"
    text.write_text("not a video")
    cases.append((str(text), "cannot read it as a video"))
    for spec, words in cases:
        video = open_video(spec)
        with pytest.raises(VideoError, match=words) as e:
            video.start()
        assert "\n" not in str(e.value) and repr(spec) in str(e.value)
        assert video.stats.state == "failed"
        video.stop()  # nothing to stop: harmless


def test_without_opencv_a_camera_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cv2", None)
    words = r"'camera:0': cameras and video files need OpenCV \(pip install 'performer\[video\]'\)"
    with pytest.raises(VideoError, match=words):
        open_video("camera:0").start()


@pytest.fixture
def dev_video(tmp_path):
    """A free /dev/videoN name for a camera that is not plugged in yet (skipped where /dev is not writable)."""
    import os

    free = next((Path(f"/dev/video{n}") for n in range(63, 20, -1) if not os.path.lexists(f"/dev/video{n}")), None)
    if free is None or not os.access("/dev", os.W_OK):
        pytest.skip("needs a writable /dev to plug a camera in (a link to a clip OpenCV reads, as root)")
    yield free
    if free.is_symlink():
        free.unlink()


def test_a_camera_missing_at_start_is_looked_for_and_read_once_it_is_plugged_in(cv2, tmp_path, dev_video):
    """Hot plug: the camera is a /dev/videoN that appears after the show started (a link to a clip, which OpenCV
    opens the way it opens a camera's path). Before, start() raised and the show went on without video for good."""
    a = picture(96, 128)
    clip = tmp_path / "camera.avi"
    write_clip(cv2, clip, [a] * 20)
    video = open_video(f"camera:{dev_video}")
    video.start()  # no camera there: no error, the show goes on
    try:
        status = video.status()
        assert status["state"] == "searching" and video.latest() is None, status
        assert "no camera at" in status["error"] and "looking for it every 1 s" in status["error"]
        assert "\n" not in status["error"] and status["errors"] == 1
        time.sleep(1.5)  # more tries, no more errors counted
        assert video.stats.state == "searching" and video.stats.errors == 1
        dev_video.symlink_to(clip)  # plugged in
        got = video.wait_for_frame(10)
        assert got is not None and got.shape == (96, 128, 3) and error(got, a) < 6, video.status()
        assert video.stats.frames >= 1 and video.stats.state != "searching"  # (a clip read as fast as it decodes
        # ends within milliseconds: then it reads as a camera unplugged and reopened, "lost" between reads)
    finally:
        video.stop()
    assert video.stats.state == "stopped"


def test_a_camera_index_not_plugged_in_is_searched_for_not_refused(cv2):
    video = open_video("camera:99")
    video.start()
    try:
        assert video.stats.state == "searching" and "no camera at 99" in video.status()["error"]
    finally:
        video.stop()
    assert video.stats.state == "stopped" and not any(t.name == "video-camera" for t in threading.enumerate())
