"""``performer bench look``: what the audience sees, measured on the output frames.

Builds a two-pass input from real UrbanSound8K clips (``--data``; folds ``--folds``, fold 3 by default because
the shipped classifier trained on folds 1-2): every class of ``--classes`` plays for ``--segment`` seconds in
one order (pass 1), then again, from other clips, in another order (pass 2). It plays through the whole engine
with the preset (``default``), in real time, with a ``--width`` x ``--height`` output, and reports on the frames
that output gets the measures of the reference ``picture_metrics.py`` (:mod:`performer.bench.picture`: detail,
static, colourfulness, change, motion, legibility), the output's rate, the dream's and the time to the first
class from a fresh install's empty numba cache.

Only the frames the measures read are kept during the run (about seven a second: each measured frame, the one
before it, motion's partners; references, not copies), and they are measured after the engine stops.
``--frames DIR`` writes them as a folder the reference reads exactly as
:func:`performer.bench.picture.measure` does (three rows per measured frame, see
:func:`performer.bench.picture.folder_rows`), with ``frames.csv`` listing every frame of the run;
``--check-reference`` runs the reference on that folder (a temporary one without ``--frames``) and reports
both side by side. The schedule goes into the result, into ``schedule.csv`` beside the contact sheet and into
``DIR``. The contact sheet (``--sheet``) has a row per segment (class and pass), five measured frames across
it, each labelled with its time, the class heard and the class playing; the labels are only in the sheet.
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from performer.bench import picture
from performer.bench.picture import SETTLE, Keep, Segment

log = logging.getLogger(__name__)

CLASSES = ("dog_bark", "siren", "jackhammer", "street_music", "drilling")
SHEET_COLUMNS = 5


def shared_root() -> Path:
    return Path(os.environ.get("PERFORMER_SHARED_DATA", "../shared/data"))


def default_data() -> Path:
    return shared_root() / "urbansound8k"


def default_reference() -> Path | None:
    ref = shared_root().parent / "picture_metrics.py"
    return ref if ref.is_file() else None


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of fold numbers") from None


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=default_data(),
                   help="UrbanSound8K folder (default: $PERFORMER_SHARED_DATA/urbansound8k or ../shared/data/...)")
    p.add_argument("--folds", type=_ints, default=[3],
                   help="folds to take clips from, e.g. 1,2,3 (default 3: the shipped classifier trained on folds "
                        "1 and 2, so fold 3's clips are new to it)")
    p.add_argument("--classes", type=_names, default=list(CLASSES),
                   help=f"classes to play, comma-separated (default {','.join(CLASSES)})")
    p.add_argument("--segment", type=float, default=12.0, help="seconds each class plays in each pass (default 12)")
    p.add_argument("--seconds", type=float,
                   help="length of the run (default: the schedule's, 2 x classes x segment); shorter cuts the "
                        "schedule, longer repeats both passes")
    p.add_argument("--seed", type=int, default=0, help="random seed for the clips and both passes' orders")
    p.add_argument("--settle", type=float, default=SETTLE,
                   help=f"seconds after each change that legibility leaves out (default {SETTLE:g})")
    p.add_argument("--preset", default="default", help="preset to run (default: default)")
    p.add_argument("--width", type=int, default=1280, help="output width (default 1280)")
    p.add_argument("--height", type=int, default=720, help="output height (default 720)")
    p.add_argument("--sheet", type=Path, default=Path("docs/look/contact_sheet.jpg"),
                   help="contact sheet to write (default docs/look/contact_sheet.jpg)")
    p.add_argument("--schedule-csv", type=Path,
                   help="where to write the schedule (start,end,class,pass; default schedule.csv beside the sheet)")
    p.add_argument("--frames", type=Path,
                   help="write the frames the measures read (PNG) into this folder with index.csv and "
                        "schedule.csv, laid out so that picture_metrics.py measures exactly those frames (its "
                        "frames and fps then describe the folder), and frames.csv listing every frame of the run")
    p.add_argument("--check-reference", type=Path, default=default_reference(), metavar="PATH",
                   help="run this picture_metrics.py on the same frames and report both side by side (default: "
                        "../shared/picture_metrics.py beside the shared data, if it is there)")
    p.add_argument("--no-check-reference", action="store_true", help="do not run the reference")
    p.add_argument("--device", default="auto", help="torch device (auto, cuda, mps, cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: cores - 1, at least 1)")
    p.add_argument("--no-cold-start", action="store_true", help="skip the empty-numba-cache first-class run")
    p.add_argument("--model", type=Path, help="classifier checkpoint (default: the shipped model; the cold-start "
                   "run always uses the shipped one)")


# --- the input -------------------------------------------------------------------------------------------------
def pass_orders(classes: Sequence[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """Two orders of ``classes``: pass 2 differs from pass 1 and, with three or more classes, does not open on
    the class pass 1 ended on."""
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise SystemExit(f"--classes needs at least two different classes, got {','.join(classes)}")
    rng = np.random.default_rng(seed)
    first = [classes[k] for k in rng.permutation(len(classes))]
    while True:
        second = [classes[k] for k in rng.permutation(len(classes))]
        if second != first and (len(classes) < 3 or second[0] != first[-1]):
            return first, second


def clips_by_class(data: Path, folds: Sequence[int], classes: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    meta = data / "metadata" / "UrbanSound8K.csv"
    if not meta.is_file():
        raise SystemExit(f"no UrbanSound8K metadata under {data}; pass --data")
    with open(meta) as f:
        rows = [r for r in csv.DictReader(f) if int(r["fold"]) in folds]
    by_class: dict[str, list[dict[str, str]]] = {c: [] for c in classes}
    for r in rows:
        if r["class"] in by_class:
            by_class[r["class"]].append(r)
    if empty := [c for c, clips in by_class.items() if not clips]:
        have = sorted({r["class"] for r in rows})
        raise SystemExit(f"no clips of {', '.join(empty)} in folds {folds} of {data} (there: {', '.join(have)})")
    return by_class


def two_passes(data: Path, folds: Sequence[int], classes: Sequence[str], segment: float, rate: int,
               seed: int = 0) -> tuple[np.ndarray, list[Segment], dict[str, Any]]:
    """(audio, schedule, details): each class for ``segment`` seconds in pass 1's order, then in pass 2's, each
    segment of clips of its class (cut to length), no clip used twice while the class has others left.
    ``details``: ``clips``, the files of each segment in schedule order; ``clips_reused``, how often a class ran
    out of unplayed clips."""
    from performer.sound.features import load_audio

    if segment <= 0:
        raise SystemExit(f"--segment must be positive, got {segment}")
    by_class = clips_by_class(data, folds, classes)
    rng = np.random.default_rng(seed + 1)
    queues: dict[str, list[dict[str, str]]] = {c: [] for c in classes}
    reused, started = 0, set[str]()
    want = int(round(segment * rate))
    pieces: list[np.ndarray] = []
    schedule: list[Segment] = []
    used: list[list[str]] = []
    for pass_no, order in enumerate(pass_orders(classes, seed), start=1):
        for cls in order:
            got, names = 0, []
            while got < want:
                if not queues[cls]:  # every clip of the class played: again, in a new order
                    reused += cls in started
                    started.add(cls)
                    queues[cls] = [by_class[cls][k] for k in rng.permutation(len(by_class[cls]))]
                r = queues[cls].pop()
                y = load_audio(data / "audio" / f"fold{r['fold']}" / r["slice_file_name"], rate)[:want - got]
                pieces.append(y)
                names.append(r["slice_file_name"])
                got += len(y)
            start = schedule[-1].end if schedule else 0.0
            schedule.append(Segment(start, start + segment, cls, pass_no))
            used.append(names)
    details = {"clips": used, "clips_reused": reused}
    return np.concatenate(pieces).astype(np.float32), schedule, details


def fit_schedule(schedule: list[Segment], seconds: float) -> list[Segment]:
    """The schedule of a run of ``seconds``: cut, or both passes repeated (the audio loops)."""
    length = schedule[-1].end
    out: list[Segment] = []
    k = 0
    while k * length < seconds:
        for s in schedule:
            if k * length + s.start < seconds:
                out.append(Segment(k * length + s.start, min(seconds, k * length + s.end), s.cls, s.pass_no))
        k += 1
    return out


# --- the run ---------------------------------------------------------------------------------------------------
def first_class_cold(args: argparse.Namespace) -> dict[str, Any]:
    """Time to the first class from the first sound, in a fresh process with an empty numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        code = ("import json, sys; from performer.bench.look import _cold_child; "
                f"print(json.dumps(_cold_child({str(args.data)!r}, {list(args.folds)!r}, {list(args.classes)!r}, "
                f"{args.device!r})))")
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        out["process_seconds"] = round(time.monotonic() - t0, 2)
        return out


def _cold_child(data: str, folds: list[int], classes: list[str], device: str) -> dict[str, Any]:
    from performer.audio import ArraySource
    from performer.classifier import Classifier, default_checkpoint, fast_classifier_for
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.outputs import NullOutput
    from performer.presets import find_preset, load_preset

    t0 = time.monotonic()
    clf = Classifier.from_checkpoint(default_checkpoint(), device=device)
    audio, _, _ = two_passes(Path(data), folds, classes[:2], 3.0, int(clf.sample_rate))
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
    from performer.outputs import Layout
    from performer.presets import find_preset, load_preset

    clips_by_class(args.data, args.folds, args.classes)  # fail early, before the cold-start run
    cold = None if args.no_cold_start else first_class_cold(args)
    threads = configure_threads(args.threads)
    clf = Classifier.from_checkpoint(args.model or default_checkpoint(), device=args.device)
    fast = fast_classifier_for(clf, None, device=args.device)
    rate = int(clf.sample_rate)
    audio, passes, details = two_passes(args.data, args.folds, args.classes, args.segment, rate, args.seed)
    seconds = float(args.seconds) if args.seconds else passes[-1].end
    schedule = fit_schedule(passes, seconds)
    preset = load_preset(find_preset(args.preset))
    fps = float(preset.values().get("output.fps", 30.0))
    # Keep is the output the measures read: laid out at the output size on its own thread, as a real output is.
    keep = Keep(fps, layout=Layout("dream", args.width, args.height))
    engine = Engine(source=ArraySource(audio, rate, name="look", loop=seconds > passes[-1].end), classifier=clf,
                    renderer=DreamRenderer(device=args.device), outputs=[keep], preset=preset, fast_classifier=fast)
    engine.start()
    sound_at = float(getattr(engine.source, "started_at", 0.0) or time.monotonic())
    dream_fps: list[float] = []
    try:
        while time.monotonic() - sound_at < seconds:
            time.sleep(0.5)
            if time.monotonic() - sound_at > 5:
                dream_fps.append(engine.render_stats.fps)
        status = engine.status()
    finally:
        engine.stop()
    return {"preset": preset.name, "output_fps_param": fps,
            "input": {"data": str(args.data), "folds": list(args.folds), "classes": list(args.classes),
                      "segment_s": args.segment, "seconds": seconds, "seed": args.seed, **details},
            "schedule": [{"start": s.start, "end": s.end, "class": s.cls, "pass": s.pass_no} for s in schedule],
            "torch_threads": threads, "output_size": [args.width, args.height], "dream_size": status.get("dream_size"),
            **report(args, keep, schedule, offset=sound_at - engine.started_at),
            "output_fps": status.get("fps"), "output_fps_p5": status.get("fps_p5"),
            "late_ticks": status.get("late_ticks"), "output_thread": status.get("outputs", {}).get(keep.name),
            "dream_fps": round(float(np.median(dream_fps)), 2) if dream_fps else status.get("dream_fps"),
            "class_changes": status.get("class_changes"), "first_class_cold_numba": cold}


def report(args: argparse.Namespace, keep: Keep, schedule: list[Segment], offset: float = 0.0) -> dict[str, Any]:
    """After the run: the measures of what ``keep`` kept, the schedule file, the frames folder and the
    reference's figures, the contact sheet. A frame's time in the sound is its ``FrameInfo.time - offset``."""
    times = np.asarray(keep.times, dtype=np.float64) - offset
    frames, measured, heard = keep.frames, keep.measured, keep.heard
    csv_path = args.schedule_csv or (args.sheet.parent / "schedule.csv" if args.sheet else None)
    if csv_path:
        picture.write_schedule(csv_path, schedule)
    result = picture.measure(times, frames, measured, schedule, args.settle)
    result.update({"step": keep.grid.step, "interval_s": round(keep.grid.interval, 4),
                   "measure_ticks_missed": keep.grid.missed,
                   "reference_step_every_frame": picture.step_for(result["fps"]) if "fps" in result else None})
    reference = check_reference(args, times, frames, measured, heard, schedule, result)
    if args.sheet:
        contact_sheet(sheet_rows(schedule, times, frames, measured, heard), args.sheet)
    return {"schedule_csv": str(csv_path) if csv_path else None, "picture": result, "reference": reference,
            "kept": {"frames": len(times), "kept": len(frames),
                     "megabytes": round(sum({id(f): f.nbytes for f in frames.values()}.values()) / 2**20, 1)},
            "sheet": str(args.sheet) if args.sheet else None, "frames_dir": str(args.frames) if args.frames else None}


def check_reference(args: argparse.Namespace, times: np.ndarray, frames: Mapping[int, np.ndarray],
                    measured: Sequence[int], heard: Sequence[str], schedule: list[Segment],
                    result: dict[str, Any]) -> dict[str, Any] | None:
    """Writes the frames folder (``--frames``, else a temporary one for the reference) and runs the reference on
    it: None when neither is asked for, else what was written (``layout``) and the comparison or the error."""
    script = None if args.no_check_reference else args.check_reference
    usable = script is not None and Path(script).is_file()
    with tempfile.TemporaryDirectory(prefix="look-frames-") as tmp:
        folder = args.frames or (Path(tmp) if usable else None)
        layout: dict[str, Any] | None = None
        if folder is not None:
            try:
                layout = picture.write_frames(folder, times, frames, measured, heard, schedule)
            except (ValueError, KeyError) as e:
                layout = {"error": f"the frames folder cannot be laid out: {type(e).__name__}: {e}"}
        if script is None:
            return None if layout is None else {"layout": layout}
        if not usable:
            return {"script": str(script), "error": "no such file", "layout": layout}
        if folder is None or layout is None or "error" in layout:
            return {"script": str(script), "error": "no frames folder", "layout": layout}
        ref = picture.run_reference(Path(script), folder, args.settle)
    if "error" in ref:
        return {"script": str(script), "layout": layout, **ref}
    return {"script": str(script), **picture.compare(result, ref), "layout": layout}


# --- the contact sheet -----------------------------------------------------------------------------------------
SheetItem = tuple[float, str, str, np.ndarray]
"""(time in the sound, class heard, class playing, frame)."""


def sheet_rows(schedule: Sequence[Segment], times: np.ndarray, frames: Mapping[int, np.ndarray],
               measured: Sequence[int], heard: Sequence[str],
               columns: int = SHEET_COLUMNS) -> list[tuple[str, list[SheetItem]]]:
    """A row per segment the run reached: ``columns`` measured frames spread across it."""
    kept = np.array([i for i in measured if i in frames], dtype=np.int64)
    rows: list[tuple[str, list[SheetItem]]] = []
    if not len(kept):
        return rows
    at = times[kept]
    for seg in schedule:
        inside = kept[(at >= seg.start) & (at < seg.end)]
        if not len(inside):
            continue
        want = seg.start + (np.arange(columns) + 0.5) * (seg.end - seg.start) / columns
        picks = sorted({int(inside[np.argmin(np.abs(times[inside] - w))]) for w in want})
        items = [(float(times[i]), heard[i] if i < len(heard) else "", seg.cls, frames[i]) for i in picks]
        rows.append((f"{seg.cls.replace('_', ' ')}\npass {seg.pass_no}\n{seg.start:.0f}-{seg.end:.0f} s", items))
    return rows


def contact_sheet(rows: Sequence[tuple[str, Sequence[SheetItem]]], path: Path, columns: int = SHEET_COLUMNS,
                  width: int = 256) -> None:
    """A row per segment: its label on the left, then thumbnails labelled with time, heard and playing class
    (heard in green where it is the class playing, orange where not)."""
    from PIL import Image, ImageDraw

    from performer.outputs.layout import _font

    items = [it for _, row in rows for it in row]
    if not items:
        return
    h0, w0 = items[0][3].shape[:2]
    th, label, side = round(width * h0 / w0), 32, 120
    img = Image.new("RGB", (side + columns * width, len(rows) * (th + label)), (12, 12, 16))
    draw = ImageDraw.Draw(img)
    font = _font(13)
    for r, (title, row) in enumerate(rows):
        y = r * (th + label)
        draw.multiline_text((6, y + 6), title, fill=(230, 230, 235), font=font, spacing=4)
        for k, (t, heard, playing, frame) in enumerate(row):
            x = side + k * width
            thumb = Image.fromarray(frame).resize((width, th), Image.Resampling.LANCZOS)
            img.paste(thumb, (x, y + label))
            ok = heard == playing
            draw.text((x + 4, y + 2), f"{t:5.1f} s  heard {heard.replace('_', ' ') or '-'}",
                      fill=(120, 220, 120) if ok else (250, 170, 60), font=font)
            draw.text((x + 4, y + 16), f"playing {playing.replace('_', ' ')}", fill=(200, 200, 205), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=85)
