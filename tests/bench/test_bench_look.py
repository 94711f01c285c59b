"""``performer bench look``'s picture measures on frames made here, the frames its output keeps, its two-pass
schedule and contact sheet; where the reference ``picture_metrics.py`` is beside the checkout, that both agree."""

from __future__ import annotations

import argparse
import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, require_shared_data
from performer.bench import picture
from performer.bench.look import contact_sheet, fit_schedule, pass_orders, report, sheet_rows, two_passes
from performer.bench.picture import Grid, Keep, Segment, measure, plan
from performer.outputs.frame_info import FrameInfo

REFERENCE = REPO.parent / "shared" / "picture_metrics.py"


def reference() -> ModuleType:
    if not REFERENCE.is_file():
        pytest.skip(f"the reference {REFERENCE} is not here (only the development machines have it)")
    spec = importlib.util.spec_from_file_location("picture_metrics_ref", REFERENCE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def texture(h: int = 360, w: int = 640, sigma: float = 4.0, seed: int = 0) -> np.ndarray:
    """Smooth colour blobs: a picture with structure at several scales."""
    x = cv2.GaussianBlur(np.random.default_rng(seed).random((h, w, 3)).astype(np.float32), (0, 0), sigma)
    return ((x - x.min()) / (x.max() - x.min()) * 255).astype(np.uint8)


def measure_all(times, frames: dict[int, np.ndarray], fps: float = 3.0, **kw) -> dict:
    """The measures of a run of which every frame is at hand, the frames measured picked as Keep picks them."""
    return measure(times, frames, plan(times, fps), **kw)


def still(img: np.ndarray, n: int = 9, fps: float = 3.0) -> dict:
    return measure_all(np.arange(n) / fps, dict.fromkeys(range(n), img), fps)


def noisy(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img.astype(np.int16) + rng.integers(-40, 41, img.shape), 0, 255).astype(np.uint8)


def test_detail_falls_when_the_picture_is_blurred_and_static_rises_with_noise():
    picture_ = texture(90, 160, sigma=1.5)
    blurred = cv2.GaussianBlur(picture_, (0, 0), 2.0)
    noise = np.random.default_rng(0).integers(0, 256, picture_.shape, dtype=np.uint8)
    sharp, soft, static = (still(img) for img in (picture_, blurred, noise))
    assert soft["detail"] < 0.5 * sharp["detail"], (soft, sharp)
    assert static["static"] > 0.5 > sharp["static"]
    assert sharp["change"] == 0.0  # the same frame nine times
    assert sharp["size"] == [160, 90] and sharp["fps"] == 3.0 and sharp["measured_frames"] == 9


def test_colourfulness_is_zero_on_grey_and_high_on_saturated_colour():
    grey = np.full((90, 160, 3), 128, np.uint8)
    vivid = np.zeros_like(grey)
    vivid[:, :53], vivid[:, 53:106], vivid[:, 106:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    assert picture.colourfulness(grey) == pytest.approx(0.0, abs=1e-6)
    assert picture.colourfulness(vivid) > 100
    assert still(vivid)["colourfulness_p5"] > 100


def test_motion_is_zero_on_a_still_picture_and_near_the_true_speed_when_it_travels():
    base, fps = texture(), 3.0
    for speed in (0.0, 6.0, 12.0):  # pixels a second, at 640x360
        frames = {k: np.roll(base, round(speed * k / fps), axis=1) for k in range(10)}
        m = measure_all(np.arange(10) / fps, frames, fps)
        assert m["motion"] == pytest.approx(speed, abs=0.1 + 0.1 * speed), (speed, m)
        assert m["motion_pairs"] == 3  # frames 0, 3, 6 paired with 3, 6, 9


def test_change_is_the_mean_absolute_difference_of_consecutive_frames():
    a = np.full((18, 32, 3), 100, np.uint8)
    b = np.full((18, 32, 3), 110, np.uint8)
    frames = {k: (a if k % 2 else b) for k in range(6)}
    assert measure_all(np.arange(6) / 3.0, frames)["change"] == 10.0


def _two_kinds(kinds: dict[str, np.ndarray], fps: float = 3.0) -> dict:
    rng = np.random.default_rng(0)
    schedule = [Segment(0, 10, "a", 1), Segment(10, 20, "b", 1), Segment(20, 30, "b", 2), Segment(30, 40, "a", 2)]
    times = np.arange(int(40 * fps)) / fps
    frames = {k: noisy(kinds[next(s.cls for s in schedule if s.start <= t < s.end)], rng) for k, t in enumerate(times)}
    return measure_all(times, frames, fps, schedule=schedule, settle=3.0)


def test_legibility_tells_two_distinct_kinds_of_frame_and_not_two_alike():
    h, w = 90, 160
    red_blue = np.zeros((h, w, 3), np.uint8)
    red_blue[:, : w // 2], red_blue[:, w // 2:] = (200, 40, 40), (30, 30, 160)
    green_white = np.zeros((h, w, 3), np.uint8)
    green_white[: h // 2], green_white[h // 2:] = (40, 180, 60), (230, 220, 200)
    distinct = _two_kinds({"a": red_blue, "b": green_white})
    assert distinct["legibility"] == pytest.approx(1.0) and distinct["chance"] == 0.5
    assert distinct["legibility_per_class"] == {"a": 1.0, "b": 1.0}
    assert distinct["legibility_frames"] == [42, 42]  # 10 s a segment at 3 fps, less the first 3 s of each
    grey = np.full((h, w, 3), 120, np.uint8)
    alike = _two_kinds({"a": grey, "b": grey.copy()})
    assert 0.25 <= alike["legibility"] <= 0.75, alike


def clock(n: int, fps: float = 30.0, skip: float = 0.0, seed: int = 1) -> list[float]:
    """Times of ``n`` output frames: ticks of ``1 / fps``, each a little late, a share ``skip`` of ticks missed."""
    rng = np.random.default_rng(seed)
    ticks = (k for k in range(10 * n) if k == 0 or rng.random() >= skip)
    return [next(ticks) / fps + float(rng.uniform(0.0, 0.006)) for _ in range(n)]


def _run_through_keep(n: int = 120, fps: float = 30.0, skip: float = 0.0,
                      size: tuple[int, int] = (64, 36)) -> tuple[Keep, dict]:
    """``n`` frames from a ``fps`` clock that misses a share ``skip`` of its ticks, through Keep; and every frame."""
    rng = np.random.default_rng(1)
    keep = Keep(fps)
    base = texture(size[1], size[0], sigma=2.0)
    every: dict[int, np.ndarray] = {}
    for k, t in enumerate(clock(n, fps, skip)):
        every[k] = noisy(np.roll(base, k // 3, axis=1), rng)
        keep._send(every[k], FrameInfo(k + 1, t, top_class="siren" if k < n // 2 else "dog_bark"))
    return keep, every


def test_frames_are_measured_every_step_while_the_clock_keeps_its_rate_and_every_third_of_a_second_if_not():
    assert plan(clock(100), 30.0) == list(range(0, 100, 10))  # the reference's i % step == 0
    assert plan(clock(100, 24.0), 24.0) == list(range(0, 100, 8))
    assert plan(np.arange(10) / 3.0, 3.0) == list(range(10))
    times = np.asarray(clock(300, skip=0.25))
    measured = plan(times, 30.0)
    assert abs(np.diff(times[measured]).mean() - 1 / 3) < 0.01  # about three a second, as the reference means
    for k, i in enumerate(measured):  # each the first frame at or after its tick (k / 3 s, less half a frame)
        assert times[i - 1] < k / 3 - 0.5 / 30 <= times[i] or i == 0
    grid = Grid(30.0)
    assert [grid.due(t) for t in (0.0, 0.2, 0.32, 1.5, 1.6)] == [True, False, True, True, False]
    assert grid.missed == 2  # the ticks at 2/3 s and 1 s had no frame of their own


def test_keep_holds_only_the_frames_the_measures_read_and_they_measure_as_every_frame_does():
    for skip in (0.0, 0.2):
        keep, every = _run_through_keep(skip=skip)
        assert keep.measured == plan(keep.times, 30.0) and len(keep.times) == 120
        assert len(keep.frames) <= 2 * len(keep.measured) + 6, sorted(keep.frames)  # + motion's partners
        assert all(keep.frames[i] is every[i] for i in keep.frames)  # references, no copies
        schedule = [Segment(0, 2, "siren", 1), Segment(2, 5, "dog_bark", 2)]
        ours = measure(keep.times, keep.frames, keep.measured, schedule, settle=0.5)
        full = measure(keep.times, every, keep.measured, schedule, settle=0.5)
        assert ours == full and ours["missing"] == 0 and ours["motion_pairs"] >= 3


def test_the_schedule_has_two_passes_in_different_orders():
    for seed in range(5):
        one, two = pass_orders(list("abcde"), seed)
        assert sorted(one) == sorted(two) == list("abcde") and one != two and two[0] != one[-1]
    assert pass_orders(["a", "b"], 0)[0] == pass_orders(["a", "b"], 0)[1][::-1]
    with pytest.raises(SystemExit):
        pass_orders(["a"], 0)
    s = [Segment(0, 4, "a", 1), Segment(4, 8, "b", 1), Segment(8, 12, "b", 2), Segment(12, 16, "a", 2)]
    assert fit_schedule(s, 16) == s
    assert fit_schedule(s, 6) == [Segment(0, 4, "a", 1), Segment(4, 6, "b", 1)]
    assert fit_schedule(s, 20)[4:] == [Segment(16, 20, "a", 1)]


def test_the_contact_sheet_shows_every_segment_in_a_row(tmp_path: Path):
    keep, _ = _run_through_keep(n=240)
    schedule = [Segment(0, 4, "siren", 1), Segment(4, 8, "dog_bark", 2)]
    times = np.asarray(keep.times)
    rows = sheet_rows(schedule, times, keep.frames, keep.measured, keep.heard)
    assert [r[0].splitlines()[:2] for r in rows] == [["siren", "pass 1"], ["dog bark", "pass 2"]]
    assert all(len(items) == 5 for _, items in rows)
    assert all(s.start <= t < s.end and playing == s.cls for s, (_, items) in zip(schedule, rows)
               for t, _, playing, _ in items)
    contact_sheet(rows, tmp_path / "sheet.jpg")
    w, h = Image.open(tmp_path / "sheet.jpg").size
    assert w == 120 + 5 * 256 and h == 2 * (144 + 32)


def test_the_frames_folder_has_three_rows_per_measured_frame_and_every_frame_in_frames_csv(tmp_path: Path):
    keep, _ = _run_through_keep(n=90, skip=0.2)
    schedule = [Segment(0, 1, "siren", 1), Segment(1, 2, "dog_bark", 2)]
    written = picture.write_frames(tmp_path, keep.times, keep.frames, keep.measured, keep.heard, schedule)
    rows = list(csv.DictReader(open(tmp_path / "index.csv")))
    assert written["rows"] == len(rows) and written["reference_step"] == 3
    assert [int(r["frame"]) for r in rows[::3]] == keep.measured
    assert [int(r["frame"]) for r in rows[2::3]] == [i - 1 for i in keep.measured[1:]]
    assert all(r["file"] == picture.SKIPPED for r in rows if r["role"] == "placeholder")
    times = [float(r["time"]) for r in rows]
    assert times == sorted(times) and {float(r["time"]) for r in rows if r["frame"]} <= set(keep.times)  # exact
    assert len(list(tmp_path.glob("frame-*.png"))) == len({r["frame"] for r in rows if r["frame"]})
    every = list(csv.DictReader(open(tmp_path / "frames.csv")))
    assert len(every) == 90 and every[0]["playing"] == "siren" and every[-1]["heard"] == "dog_bark"
    assert (tmp_path / "schedule.csv").read_text().splitlines()[0] == "start,end,class,pass"


def test_the_per_frame_measures_agree_with_the_reference():
    ref = reference()
    rng = np.random.default_rng(2)
    frames = [texture(), texture(57, 101, sigma=1.0, seed=3), rng.integers(0, 256, (90, 160, 3), dtype=np.uint8),
              np.full((36, 64, 3), 77, np.uint8)]
    for f in frames:
        assert picture.detail(f) == ref.detail(f)
        assert picture.static(f) == pytest.approx(ref.static_score(ref.grey(f).astype(np.float64)), abs=1e-12)
        assert picture.colourfulness(f) == ref.colourfulness(f)
        np.testing.assert_array_equal(picture.features(f), ref.features(f))
    a, b = frames[0], np.roll(frames[0], 5, axis=0)
    assert picture.motion(a, b) == ref.motion(a, b)
    samples = [(picture.features(noisy(f, rng)), c, p) for p in (1, 2) for c, f in (("x", a), ("y", b))
               for _ in range(4)]
    assert picture.legibility(samples) == ref.legibility(samples)


def test_the_reference_measures_the_frames_folder_as_measure_does(tmp_path: Path):
    if not REFERENCE.is_file():
        pytest.skip(f"the reference {REFERENCE} is not here (only the development machines have it)")
    for skip in (0.0, 0.3):  # a clock that keeps its rate, and one that misses ticks (the reference's own step
        keep, _ = _run_through_keep(n=150, skip=skip)  # from every frame would be 7, not 10)
        schedule = [Segment(0, 1.25, "siren", 1), Segment(1.25, 2.5, "dog_bark", 1),
                    Segment(2.5, 3.75, "dog_bark", 2), Segment(3.75, 5, "siren", 2)]
        ours = measure(keep.times, keep.frames, keep.measured, schedule, settle=0.25)
        assert ours["legibility"] is not None and ours["missing"] == 0
        folder = tmp_path / str(skip)
        picture.write_frames(folder, keep.times, keep.frames, keep.measured, keep.heard, schedule)
        theirs = picture.run_reference(REFERENCE, folder, settle=0.25)
        assert "error" not in theirs, theirs
        result = picture.compare(ours, theirs)
        assert result["agree"], result
        assert result["only_reference"] == []
        assert {"motion", "change", "legibility_per_class"} <= result["side_by_side"].keys()


def test_after_the_run_the_bench_reports_every_measure_and_writes_sheet_schedule_and_frames(tmp_path: Path):
    keep, _ = _run_through_keep(n=240, skip=0.2)
    schedule = [Segment(0, 2, "siren", 1), Segment(2, 4, "dog_bark", 1), Segment(4, 6, "dog_bark", 2),
                Segment(6, 8, "siren", 2)]
    args = argparse.Namespace(schedule_csv=None, sheet=tmp_path / "look" / "sheet.jpg", settle=0.5,
                              frames=tmp_path / "frames", check_reference=REFERENCE, no_check_reference=False)
    out = report(args, keep, schedule, offset=0.0)
    for key in ("detail", "static", "colourfulness", "change", "motion", "legibility", "legibility_per_class"):
        assert out["picture"][key] is not None, key
    assert out["picture"]["step"] == 10 and out["picture"]["missing"] == 0
    assert out["kept"]["frames"] == 240 and out["kept"]["kept"] == len(keep.frames) < 240 / 2
    assert (tmp_path / "look" / "schedule.csv").read_text().count("\n") == 5
    assert Image.open(args.sheet).size[1] == 4 * (144 + 32)  # a row per segment
    assert (tmp_path / "frames" / "index.csv").is_file() and out["reference"]["layout"]["reference_step"] == 3
    if REFERENCE.is_file():
        assert out["reference"]["agree"], out["reference"]
    else:
        assert out["reference"]["error"] == "no such file"


def test_two_passes_of_real_clips():
    data = require_shared_data()
    audio, schedule, details = two_passes(data, [3], ["dog_bark", "siren"], 2.0, 16000, seed=0)
    assert len(audio) == 4 * 2 * 16000
    assert [(s.start, s.end, s.pass_no) for s in schedule] == [(0, 2, 1), (2, 4, 1), (4, 6, 2), (6, 8, 2)]
    assert [s.cls for s in schedule[:2]] == [s.cls for s in schedule[2:]][::-1]
    assert details["clips_reused"] == 0
    for cls in ("dog_bark", "siren"):  # pass 2 plays other clips of the class
        one, two = (set(details["clips"][k]) for k, s in enumerate(schedule) if s.cls == cls)
        assert not one & two
    with pytest.raises(SystemExit, match="no clips of"):
        two_passes(data, [3], ["dog_bark", "not_a_class"], 2.0, 16000)
