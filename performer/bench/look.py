"""``performer bench look``: what the audience sees, measured on the output frames.

Plays real clips that change class every 8-12 s (UrbanSound8K clips from ``--data``, several of one class per
segment) through the whole engine with the default preset, in real time, with a 1280x720 output, and reports
on the frames the outputs get:

- static score (:mod:`performer.bench.look_score`): median and 95th percentile (TV static ~0.85, a Deep Dream
  gallery 0.35-0.55, a photo 0.01; target p95 <= 0.5);
- smoothness: mean absolute change between consecutive output frames, 0-255 (target <= 6 at 30 fps);
- sharpness: the variance of the grey frame's Laplacian (OpenCV's), median and 10th percentile; a picture that
  a zoom or a mix of two frames has blurred scores lower (a zoom on onsets halved it on the demo input);
- output fps (and the 5th percentile of the instantaneous rate) and the dream's own fps at its size;
- time to the first class, from the first sound, with an empty numba cache (a fresh install), and the warm-up.

It writes a contact sheet (one output frame every 2 s, labelled with the time, the class heard and the class
playing) to ``--sheet``. The frames are kept at the dream's size during the run and scaled to the output size
afterwards, exactly as the outputs scale them, so measuring costs the engine nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from performer.bench.look_score import static_score
from performer.outputs.base import FrameOutput
from performer.outputs.frame_info import FrameInfo

log = logging.getLogger(__name__)


def default_data() -> Path:
    return Path(os.environ.get("PERFORMER_SHARED_DATA", "../shared/data")) / "urbansound8k"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=default_data(),
                   help="UrbanSound8K folder (default: $PERFORMER_SHARED_DATA/urbansound8k or ../shared/data/...)")
    p.add_argument("--fold", type=int, default=3, help="fold to take clips from (default 3)")
    p.add_argument("--seconds", type=float, default=90.0, help="length of the run (default 90)")
    p.add_argument("--preset", default="default", help="preset to run (default: default)")
    p.add_argument("--width", type=int, default=1280, help="output width (default 1280)")
    p.add_argument("--height", type=int, default=720, help="output height (default 720)")
    p.add_argument("--sheet", type=Path, default=Path("docs/look/contact_sheet.jpg"),
                   help="contact sheet to write (default docs/look/contact_sheet.jpg)")
    p.add_argument("--frames", type=Path, help="also keep every 30th output frame as PNG in this folder")
    p.add_argument("--device", default="auto", help="torch device (auto, cuda, mps, cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: cores - 1, at least 1)")
    p.add_argument("--no-cold-start", action="store_true", help="skip the empty-numba-cache first-class run")
    p.add_argument("--seed", type=int, default=0, help="random seed for the clip order")


def sequence(data: Path, fold: int, seconds: float, rate: int, seed: int = 0) -> tuple[np.ndarray, list]:
    """(audio, [(start s, end s, class)]): segments of 8-12 s, each of clips of one class, classes changing."""
    from performer.analysis.features import load_audio

    with open(data / "metadata" / "UrbanSound8K.csv") as f:
        rows = [r for r in csv.DictReader(f) if int(r["fold"]) == fold]
    if not rows:
        raise SystemExit(f"no clips of fold {fold} in {data}")
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_class.setdefault(r["class"], []).append(r)
    for clips in by_class.values():
        order = rng.permutation(len(clips))
        clips[:] = [clips[k] for k in order]
    classes = sorted(by_class)
    pieces: list[np.ndarray] = []
    segments: list[tuple[float, float, str]] = []
    total, last = 0.0, None
    while total < seconds:
        cls = str(rng.choice([c for c in classes if c != last]))
        want, got = float(rng.uniform(8.0, 12.0)), 0.0
        while got < want:
            r = by_class[cls].pop(0)
            by_class[cls].append(r)
            y = load_audio(data / "audio" / f"fold{r['fold']}" / r["slice_file_name"], rate)
            pieces.append(y)
            got += len(y) / rate
        segments.append((total, total + got, cls))
        total, last = total + got, cls
    return np.concatenate(pieces).astype(np.float32), segments


class Keep(FrameOutput):
    """Keeps every frame it gets (at the dream's size) with its time and class, for measuring afterwards."""

    kind = "keep"

    def __init__(self) -> None:
        super().__init__("keep")
        self.frames: list[tuple[float, str, np.ndarray]] = []

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        self.frames.append((info.time, info.top_class or "", frame))


def first_class_cold(args: argparse.Namespace) -> dict[str, Any]:
    """Time to the first class from the first sound, in a fresh process with an empty numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        code = ("import json, sys; from performer.bench.look import _cold_child; "
                f"print(json.dumps(_cold_child({str(args.data)!r}, {args.fold}, {args.device!r})))")
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        out["process_seconds"] = round(time.monotonic() - t0, 2)
        return out


def _cold_child(data: str, fold: int, device: str) -> dict[str, Any]:
    from performer.audio import ArraySource
    from performer.classifier import Classifier, default_checkpoint, fast_classifier_for
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.outputs import NullOutput
    from performer.presets import find_preset, load_preset

    t0 = time.monotonic()
    clf = Classifier.from_checkpoint(default_checkpoint(), device=device)
    audio, _ = sequence(Path(data), fold, 6.0, int(clf.sample_rate))
    engine = Engine(source=ArraySource(audio, int(clf.sample_rate), name="cold"), classifier=clf,
                    renderer=DreamRenderer(device=device), outputs=[NullOutput()],
                    preset=load_preset(find_preset("default")), fast_classifier=fast_classifier_for(clf, None))
    engine.start()
    sound_at = time.monotonic()
    try:
        while time.monotonic() - sound_at < 30:
            a = engine.analysis.peek()
            if a is not None and not a.silent and engine.analyzer.stats.hops > 0 and engine.analyzer.changes:
                break
            time.sleep(0.01)
        first = time.monotonic() - sound_at
    finally:
        engine.stop()
    return {"load_seconds": round(sound_at - t0 - engine.warmup_seconds, 2),
            "warmup_seconds": round(engine.warmup_seconds, 2), "first_class_after_sound_s": round(first, 2)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from performer.audio import ArraySource
    from performer.classifier import Classifier, default_checkpoint, fast_classifier_for
    from performer.device import configure_threads
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.outputs import Layout, NullOutput
    from performer.presets import find_preset, load_preset

    if not (args.data / "metadata" / "UrbanSound8K.csv").is_file():
        raise SystemExit(f"no UrbanSound8K metadata under {args.data}; pass --data")
    cold = None if args.no_cold_start else first_class_cold(args)
    threads = configure_threads(args.threads)
    clf = Classifier.from_checkpoint(default_checkpoint(), device=args.device)
    fast = fast_classifier_for(clf, None, device=args.device)
    rate = int(clf.sample_rate)
    audio, segments = sequence(args.data, args.fold, args.seconds, rate, args.seed)
    preset = load_preset(find_preset(args.preset))
    keep = Keep()
    # The scaling every real output does, on its own thread, so the engine pays for it as it would live.
    scaled = NullOutput("scaled", layout=Layout("dream", args.width, args.height))
    engine = Engine(source=ArraySource(audio, rate, name="look"), classifier=clf,
                    renderer=DreamRenderer(device=args.device), outputs=[keep, scaled], preset=preset,
                    fast_classifier=fast)
    engine.start()
    t_start = time.monotonic()
    dream_fps: list[float] = []
    try:
        while time.monotonic() - t_start < args.seconds:
            time.sleep(0.5)
            if time.monotonic() - t_start > 5:
                dream_fps.append(engine.render_stats.fps)
        status = engine.status()
    finally:
        engine.stop()
    return {"preset": preset.name, "clips": f"UrbanSound8K fold {args.fold}",
            "segments": [(round(a, 1), round(b, 1), c) for a, b, c in segments if a < args.seconds],
            "torch_threads": threads, "output_size": [args.width, args.height],
            "dream_size": status["dream_size"],
            **measure(keep.frames, args, segments,
                      offset=float(getattr(engine.source, "started_at", engine.started_at)) - engine.started_at),
            "output_fps": status["fps"], "output_fps_p5": status["fps_p5"], "late_ticks": status["late_ticks"],
            "scaled_output": status["outputs"]["scaled"],
            "dream_fps": round(float(np.median(dream_fps)), 2) if dream_fps else status["dream_fps"],
            "class_changes": status["class_changes"], "first_class_cold_numba": cold}


def measure(frames: list[tuple[float, str, np.ndarray]], args: argparse.Namespace, segments: list,
            offset: float = 0.0) -> dict[str, Any]:
    """Static score and smoothness of the frames at the output size; the contact sheet. A frame's time minus
    ``offset`` is its time in the sound."""
    from performer.outputs.layout import fit_into

    if len(frames) < 2:
        return {"frames": len(frames)}
    import cv2

    scores, changes, sharp = [], [], []
    prev = None
    sheet: list[tuple[float, str, str, np.ndarray]] = []
    next_sheet = 0.0
    for i, (t_engine, cls, small) in enumerate(frames):
        t = t_engine - offset
        big = fit_into(small, args.width, args.height, "letterbox")[0]
        grey = big.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        if i % 3 == 0:
            scores.append(static_score(grey))
            sharp.append(float(cv2.Laplacian(grey, cv2.CV_32F).var()))
        if prev is not None:
            changes.append(float(np.abs(grey - prev).mean()))
        prev = grey
        if t >= next_sheet:
            playing = next((c for a, b, c in segments if a <= t < b), "")
            sheet.append((t, cls, playing, small))
            next_sheet += 2.0
        if args.frames and i % 30 == 0:
            from PIL import Image

            args.frames.mkdir(parents=True, exist_ok=True)
            Image.fromarray(big).save(args.frames / f"frame-{i:05d}.png")
    if args.sheet:
        contact_sheet(sheet, args.sheet)
    return {"frames": len(frames),
            "static_score": {"median": round(float(np.median(scores)), 3),
                             "p95": round(float(np.percentile(scores, 95)), 3), "frames_scored": len(scores)},
            "smoothness": {"mean_abs_change": round(float(np.mean(changes)), 2),
                           "p95": round(float(np.percentile(changes, 95)), 2)},
            "sharpness": {"median": round(float(np.median(sharp)), 1),
                          "p10": round(float(np.percentile(sharp, 10)), 1)},
            "sheet": str(args.sheet) if args.sheet else None}


def contact_sheet(items: list[tuple[float, str, str, np.ndarray]], path: Path, columns: int = 5,
                  width: int = 320) -> None:
    """One thumbnail per item in a grid, labelled 'time  heard (playing)'."""
    from PIL import Image, ImageDraw

    from performer.outputs.layout import _font

    if not items:
        return
    h0, w0 = items[0][3].shape[:2]
    th = round(width * h0 / w0)
    label = 18
    rows = (len(items) + columns - 1) // columns
    img = Image.new("RGB", (columns * width, rows * (th + label)), (12, 12, 16))
    draw = ImageDraw.Draw(img)
    font = _font(13)
    for k, (t, heard, playing, frame) in enumerate(items):
        x, y = (k % columns) * width, (k // columns) * (th + label)
        img.paste(Image.fromarray(frame).resize((width, th), Image.Resampling.BICUBIC), (x, y + label))
        text = f"{t:5.1f} s  {heard.replace('_', ' ') or '-'}"
        if playing and playing != heard:
            text += f"  (playing {playing.replace('_', ' ')})"
        draw.text((x + 4, y + 2), text, fill=(230, 230, 235), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=85)
