"""The picture measures of ``performer bench look``, and the output frames they need.

The definitions are those of the reference ``picture_metrics.py`` (kept beside the shared data, ``../shared``)
by which live output frames are judged; a test checks both agree on made frames. Per frame, on each measured
frame (about three a second, see :class:`Grid`), the grey frame being ITU-R 601 luma (OpenCV's ``RGB2GRAY``)
as float32 at the frame's own size:

- ``detail``: variance of OpenCV's 3x3 Laplacian of the grey frame (fine structure at the output size);
- ``static``: :func:`performer.bench.look_score.static_score` of the grey frame (TV static ~0.85-0.9);
- ``colourfulness``: Hasler & Suesstrunk's M on RGB 0-255 (grey 0, pastel ~30, vivid 45-120).

Between frames: ``change``, the mean absolute difference of frames ``i - 1`` and ``i`` (RGB, 0-255) for each
measured ``i``; ``motion``, the median magnitude of OpenCV's Farneback flow between a frame and the first frame
at least one second later, at 640x360, on every third measured frame. Over a run, ``legibility``: a
standardised logistic regression on a 32x18 Lab thumbnail and a 12x4 hue/saturation histogram, trained on the
frames of pass 1 of the schedule and tested on those of pass 2, leaving out the first ``settle`` seconds after
each change; chance is one over the number of classes.

:class:`Grid` picks the measured frames: frame ``i % step == 0`` while the output clock keeps its rate,
``step / fps`` seconds apart when it skips ticks. :class:`Keep` is the output that keeps only the frames the
measures read (the measured frames, the frames before them and motion's partners), so a two-minute run at
1280x720 and 30 fps holds about a fifth of its frames instead of all of them. :func:`write_frames` writes them
as a folder the reference measures exactly as :func:`measure` does (:func:`folder_rows`), and
:func:`run_reference` / :func:`compare` run the reference on it and set both side by side.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from performer.bench.look_score import static_score
from performer.outputs.base import FrameOutput
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout

SETTLE = 3.0
"""Seconds after a schedule change whose frames legibility leaves out."""
MOTION_SIZE = (640, 360)
MARGIN = 0.002
"""Seconds of slack around "one second later" when keeping motion's partner frames (float rounding)."""
SKIPPED = "skipped.png"
"""The 1x1 placeholder that index.csv rows of frames not kept point to (the measures never read them)."""


class Segment(NamedTuple):
    """One stretch of the input: seconds of the sound, the class playing, the pass (1 or 2)."""

    start: float
    end: float
    cls: str
    pass_no: int


def step_for(fps: float) -> int:
    """Frames between measured frames: about three measured frames a second."""
    return max(1, int(round(fps / 3)))


# --- per frame -------------------------------------------------------------------------------------------------
def grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def detail(rgb: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(grey(rgb), cv2.CV_32F).var())


def static(rgb: np.ndarray) -> float:
    return static_score(grey(rgb).astype(np.float64))


def colourfulness(rgb: np.ndarray) -> float:
    a = rgb.astype(np.float32)
    rg = a[..., 0] - a[..., 1]
    yb = 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(b.astype(np.int16) - a.astype(np.int16)).mean())


def motion(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    ga = cv2.resize(grey(a), MOTION_SIZE, interpolation=cv2.INTER_AREA).astype(np.uint8)
    gb = cv2.resize(grey(b), MOTION_SIZE, interpolation=cv2.INTER_AREA).astype(np.uint8)
    flow = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return float(np.median(np.hypot(flow[..., 0], flow[..., 1])))


def features(rgb: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(rgb, (32, 18), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32).ravel() / 255.0
    hsv = cv2.cvtColor(cv2.resize(rgb, (160, 90), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [12, 4], [0, 180, 0, 256]).ravel()
    return np.concatenate([lab, hist / max(hist.sum(), 1.0)])


# --- over a run ------------------------------------------------------------------------------------------------
def legibility(samples: Sequence[tuple[np.ndarray, str, int]]) -> dict[str, Any]:
    """Accuracy of a classifier trained on pass-1 frames' features, tested on pass-2 frames', and per class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = [(f, c) for f, c, p in samples if p == 1]
    test = [(f, c) for f, c, p in samples if p == 2]
    classes = sorted({c for _, c in train} & {c for _, c in test})
    train = [(f, c) for f, c in train if c in classes]
    test = [(f, c) for f, c in test if c in classes]
    if len(classes) < 2 or not train or not test:
        return {"legibility": None, "why": "need frames of at least two classes in both passes"}
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    clf.fit(np.stack([f for f, _ in train]), [c for _, c in train])
    pred = clf.predict(np.stack([f for f, _ in test]))
    truth = np.array([c for _, c in test])
    per = {c: round(float((pred[truth == c] == c).mean()), 3) for c in classes}
    return {"legibility": round(float((pred == truth).mean()), 3), "chance": round(1 / len(classes), 3),
            "legibility_per_class": per, "legibility_frames": [len(train), len(test)]}


def measure(times: Sequence[float] | np.ndarray, frames: Mapping[int, np.ndarray], measured: Sequence[int],
            schedule: Iterable[tuple[float, float, str, int]] = (), settle: float = SETTLE) -> dict[str, Any]:
    """The reference's figures (same keys and rounding) for a run of ``len(times)`` frames (``times`` in seconds
    of the input, ``schedule`` in the same), of which ``frames`` holds at least those the measures read.

    ``measured`` are the frames measured (:class:`Grid`): per frame on each, ``change`` against the frame before
    it, ``motion`` on every third against the first frame at least one second later. ``frames`` and ``fps``
    describe the whole run as the reference does. A frame needed but not in ``frames`` counts in ``missing``."""
    t = np.asarray(times, dtype=np.float64)
    n = len(t)
    if n == 0 or not measured:
        return {"error": "no frames"}
    segments = list(schedule)
    fps = (n - 1) / max(1e-9, float(t[-1] - t[0]))
    per: dict[str, list[float]] = {"detail": [], "static": [], "colourfulness": []}
    changes: list[float] = []
    moves: list[float] = []
    samples: list[tuple[np.ndarray, str, int]] = []
    missing = 0
    size: list[int] = []
    for c, i in enumerate(measured):
        rgb = frames.get(i)
        if rgb is None:
            missing += 1
            continue
        size = list(rgb.shape[1::-1])
        prev = frames.get(i - 1) if c > 0 else None
        if c > 0 and prev is None:
            missing += 1
        elif prev is not None and prev.shape == rgb.shape:
            changes.append(change(prev, rgb))
        per["detail"].append(detail(rgb))
        per["static"].append(static(rgb))
        per["colourfulness"].append(colourfulness(rgb))
        j = int(np.searchsorted(t, t[i] + 1.0))
        if j < n and c % 3 == 0:
            later = frames.get(j)
            if later is None:
                missing += 1
            else:
                moves.append(motion(rgb, later))
        for start, end, cls, pas in segments:
            if start + settle <= t[i] < end:
                samples.append((features(rgb), cls, pas))
    out: dict[str, Any] = {"frames": n, "size": size, "fps": round(fps, 2)}
    for k, v in per.items():
        out[k] = round(float(np.median(v)), 4) if v else None
        out[k + "_p5"] = round(float(np.percentile(v, 5)), 4) if v else None
        out[k + "_p95"] = round(float(np.percentile(v, 95)), 4) if v else None
    out["change"] = round(float(np.mean(changes)), 2) if changes else None
    out["change_p95"] = round(float(np.percentile(changes, 95)), 2) if changes else None
    out["motion"] = round(float(np.median(moves)), 3) if moves else None
    out["motion_p95"] = round(float(np.percentile(moves, 95)), 3) if moves else None
    if segments:
        out.update(legibility(samples))
    out.update({"measured_frames": len(per["detail"]), "motion_pairs": len(moves), "missing": missing,
                "settle": settle})
    return out


# --- the frames the measures need ------------------------------------------------------------------------------
class Grid:
    """Which frames are measured: the first frame at or after each tick of a clock of ``step / fps`` seconds
    (``step = round(fps / 3)``), half an output frame early so jitter does not push it to the next frame.

    While the output clock keeps ``fps``, that is frame ``i`` for every ``i % step == 0``, the reference's rule;
    when it skips ticks (a loaded machine), the measured frames stay about a third of a second apart, where a
    step fixed in frames would drift (and the reference, which takes its step from the rate it finds, would
    measure other frames). ``missed`` counts ticks that passed without a frame of their own."""

    def __init__(self, fps: float) -> None:
        self.step = step_for(fps)
        self.interval = self.step / fps
        self._half = 0.5 / fps
        self._t0: float | None = None
        self._k = 0
        self._next = -math.inf
        self.missed = 0

    def due(self, t: float) -> bool:
        """Whether the frame at ``t`` (seconds, increasing from call to call) is measured."""
        if self._t0 is None:
            self._t0 = t
        if t < self._next:
            return False
        k = math.floor((t - self._t0 + self._half) / self.interval) + 1
        self.missed += max(0, k - self._k - 1)
        self._k = k
        self._next = self._t0 + k * self.interval - self._half
        return True


def plan(times: Iterable[float], fps: float) -> list[int]:
    """The measured frames of a run whose frames came at ``times`` (what :class:`Keep` decides as they come)."""
    grid = Grid(fps)
    return [i for i, t in enumerate(times) if grid.due(float(t))]


class Keep(FrameOutput):
    """An output that keeps only the frames :func:`measure` reads, with every frame's time and heard class.

    It keeps each measured frame (:class:`Grid` at the output clock's ``fps``) and the frame before it (for
    ``change``), and every frame from ``MARGIN`` before to the first frame ``MARGIN`` after one second past every
    third measured frame (``motion``'s partner). ``_send`` does no maths on the frame and keeps it without
    copying: frames handed to outputs are never written again (every output reads them later on its own
    thread). ``times`` are ``FrameInfo.time`` (seconds since the engine started)."""

    kind = "keep"

    def __init__(self, fps: float, *, layout: Layout | None = None, name: str = "keep") -> None:
        super().__init__(name, layout=layout)
        self.grid = Grid(fps)
        self.times: list[float] = []
        self.heard: list[str] = []
        self.measured: list[int] = []
        self.frames: dict[int, np.ndarray] = {}
        self._prev: np.ndarray | None = None
        self._due: deque[float] = deque()

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        i, t = len(self.times), float(info.time)
        self.times.append(t)
        self.heard.append(info.top_class or "")
        keep = False
        if self.grid.due(t):
            keep = True
            if self._prev is not None:
                self.frames[i - 1] = self._prev
            if len(self.measured) % 3 == 0:
                self._due.append(t + 1.0)
            self.measured.append(i)
        while self._due and t >= self._due[0] - MARGIN:
            keep = True
            if t < self._due[0] + MARGIN:
                break
            self._due.popleft()
        if keep:
            self.frames[i] = frame
        self._prev = frame


# --- the reference's folder ------------------------------------------------------------------------------------
def write_schedule(path: Path, schedule: Iterable[tuple[float, float, str, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["start", "end", "class", "pass"])
        for start, end, cls, pas in schedule:
            w.writerow([f"{start:.3f}", f"{end:.3f}", cls, pas])


def folder_rows(times: Sequence[float] | np.ndarray, measured: Sequence[int]) -> list[tuple[int | None, str]]:
    """The rows of a folder the reference measures as :func:`measure` does: (frame or None, role).

    Three rows per measured frame: the frame, a slot (motion's partner where it falls between this frame and
    the next one's predecessor, else a placeholder), the frame before the next measured one. The reference's
    step is then 3 (its rate is about nine rows a second), so it measures every measured frame, takes ``change``
    against the frame before it, pairs every third with the first row a second later (the partner: the rows
    before it are earlier frames or placeholders carrying the time of the row before them) and labels the same
    frames for legibility. Raises ValueError where two partners fall in one slot."""
    t = np.asarray(times, dtype=np.float64)
    n = len(t)
    fixed = set(measured) | {m - 1 for m in measured[1:]}
    partners = sorted({j for c, i in enumerate(measured) if c % 3 == 0
                       and (j := int(np.searchsorted(t, t[i] + 1.0))) < n} - fixed)
    rows: list[tuple[int | None, str]] = []
    for c, i in enumerate(measured):
        rows.append((i, "measured"))
        last = c + 1 == len(measured)
        before = n if last else measured[c + 1] - 1
        inside = [p for p in partners if i < p < before]
        if len(inside) > 1:
            raise ValueError(f"frames {inside} are motion partners between measured frames {i} and {before}")
        if inside or not last:
            rows.append((inside[0], "motion") if inside else (None, "placeholder"))
        if not last:
            rows.append((before, "before"))
    return rows


def write_frames(folder: Path, times: Sequence[float] | np.ndarray, frames: Mapping[int, np.ndarray],
                 measured: Sequence[int], heard: Sequence[str] = (),
                 schedule: Sequence[tuple[float, float, str, int]] = ()) -> dict[str, Any]:
    """A folder ``../shared/picture_metrics.py FOLDER --schedule FOLDER/schedule.csv`` measures as
    :func:`measure` does: index.csv (:func:`folder_rows`: frame, time, file, role, heard, playing; placeholders
    point to the 1x1 ``skipped.png`` that no measure reads), the frames as PNG, schedule.csv, and frames.csv
    with every frame of the run (frame, time, heard, playing, kept). Times are written exactly (``repr``).
    Returns the folder's rows, rate and the step the reference will take from it (3 where it agrees)."""
    from PIL import Image

    t = [float(x) for x in times]

    def playing(x: float) -> str:
        return next((c for a, b, c, _ in schedule if a <= x < b), "")

    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (1, 1)).save(folder / SKIPPED)
    write_schedule(folder / "schedule.csv", schedule)
    rows = folder_rows(t, measured)
    written: set[int] = set()
    row_times: list[float] = []
    with open(folder / "index.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "time", "file", "role", "heard", "playing"])
        for i, role in rows:
            if i is None:
                w.writerow(["", repr(row_times[-1]), SKIPPED, role, "", ""])
                row_times.append(row_times[-1])
                continue
            file = f"frame-{i:06d}.png"
            if i not in written:
                Image.fromarray(frames[i]).save(folder / file, compress_level=1)
                written.add(i)
            w.writerow([i, repr(t[i]), file, role, heard[i] if i < len(heard) else "", playing(t[i])])
            row_times.append(t[i])
    with open(folder / "frames.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "time", "heard", "playing", "kept"])
        for i, x in enumerate(t):
            w.writerow([i, repr(x), heard[i] if i < len(heard) else "", playing(x), int(i in written)])
    fps = (len(rows) - 1) / max(1e-9, row_times[-1] - row_times[0])
    return {"rows": len(rows), "fps": round(fps, 2), "reference_step": step_for(fps)}


def run_reference(script: Path, folder: Path, settle: float = SETTLE, timeout: float = 3600) -> dict[str, Any]:
    """The reference's JSON for ``folder`` (written by :func:`write_frames`), or ``{"error": ...}``."""
    cmd = [sys.executable, str(script), str(folder), "--schedule", str(folder / "schedule.csv"),
           "--settle", repr(float(settle))]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{script} took over {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


DECIMALS = {"change": 2, "change_p95": 2, "motion": 3, "legibility": 3, "chance": 3, "legibility_per_class": 3}
"""Decimals the reference rounds each figure to (4 where not named): values one unit apart still agree."""
FOLDER_KEYS = ("frames", "fps")
"""The reference's figures that describe the folder it read (the measured frames' rows), not the run."""


def compare(ours: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """The measures both report, side by side as [ours, reference], and those that differ by more than the
    reference's rounding; its ``frames`` and ``fps`` (of the folder) apart, under ``folder``."""

    def close(a: Any, b: Any, unit: float) -> bool:
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(close(a[k], b[k], unit) for k in a)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1.01 * unit)
        return bool(a == b)

    keys = [k for k in reference if k in ours and k not in FOLDER_KEYS]
    differ = [k for k in keys if not close(ours[k], reference[k], 10.0 ** -DECIMALS.get(k, 4))]
    return {"agree": not differ and "error" not in reference, "differ": differ,
            "side_by_side": {k: [ours[k], reference[k]] for k in keys},
            "folder": {k: reference[k] for k in FOLDER_KEYS if k in reference},
            "only_reference": sorted(k for k in reference if k not in ours and k not in FOLDER_KEYS)}
