"""``performer bench engine``: the live engine measured from a file input.

Builds a sequence of sound segments with known onsets (real UrbanSound8K clips
from ``--data`` when given, else the built-in demo's scenes), plays it in real
time through the full engine (analysis thread plus renderer running flat out)
and measures:

- onset to class change: for each segment, the time from its first sample
  reaching the engine to the analyser switching to the segment's class
  (segments whose class the engine never reaches are counted as misses);
- sustained frames per second while classifying;
- dropped audio blocks and skipped analysis hops;
- memory (RSS) growth after the warm-up.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path,
                   help="UrbanSound8K folder for real clips (default: the demo's synthetic scenes)")
    p.add_argument("--fold", type=int, default=3, help="fold to take clips from (default 3, the validation fold)")
    p.add_argument("--segments", type=int, default=20, help="number of sound segments (default 20)")
    p.add_argument("--segment-seconds", type=float, default=3.0, help="length of each sound segment (default 3)")
    p.add_argument("--duration", type=float, help="loop the sequence for this many seconds (memory and drop runs)")
    p.add_argument("--window", type=float, default=1.0, help="classifier.window in seconds (default 1)")
    p.add_argument("--hop", type=float, default=0.1, help="classifier.hop in seconds (default 0.1)")
    p.add_argument("--smoothing", type=float, help="classifier.smoothing (default: the default preset's)")
    p.add_argument("--hysteresis", type=float, help="classifier.hysteresis (default: the default preset's)")
    p.add_argument("--hold", type=float, help="classifier.hold (default: the default preset's)")
    p.add_argument("--size", type=int, default=224, help="dream width and height (default 224)")
    p.add_argument("--model", type=Path, help="classifier checkpoint (default: the shipped model)")
    p.add_argument("--fast-model", type=Path, help="fast-path classifier (default: as performer serve chooses)")
    p.add_argument("--device", default="auto", help="torch device: auto, cuda, mps or cpu (default auto)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: cores - 1, at least 1)")


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _segments(args, clf) -> tuple[np.ndarray, int, list[tuple[int, str]]]:
    """(audio, rate, [(onset sample, expected class)]) with consecutive segments of different classes."""
    rate = int(clf.sample_rate)
    seg_n = int(args.segment_seconds * rate)
    pieces: list[np.ndarray] = []
    labels: list[str] = []
    if args.data:
        import csv

        from performer.sound.features import load_audio

        rows = list(csv.DictReader(open(Path(args.data) / "metadata" / "UrbanSound8K.csv")))
        rows = [r for r in rows
                if int(r["fold"]) == args.fold and float(r["end"]) - float(r["start"]) >= args.segment_seconds]
        rng = np.random.default_rng(0)
        rng.shuffle(rows)
        by_class: dict[str, list[dict]] = {}
        for r in rows:
            by_class.setdefault(r["class"], []).append(r)
        order = sorted(by_class)
        i = 0
        while len(pieces) < args.segments and any(by_class.values()):
            cls = order[i % len(order)]
            i += 1
            if not by_class[cls] or (labels and labels[-1] == cls):
                continue
            r = by_class[cls].pop()
            y = load_audio(Path(args.data) / "audio" / f"fold{r['fold']}" / r["slice_file_name"], rate)[:seg_n]
            # Only segments the classifier gets right on their own measure latency, not accuracy.
            if clf.classes[int(np.argmax(clf.predict(y[-int(args.window * rate):])))] != cls:
                continue
            pieces.append(np.pad(y, (0, seg_n - len(y))))
            labels.append(cls)
    else:
        import soxr

        from performer.audio import DEMO_RATE, DEMO_SCENE_SECONDS, demo_signal

        demo = soxr.resample(demo_signal(), DEMO_RATE, rate).astype(np.float32)
        scene_n = int(DEMO_SCENE_SECONDS * rate)
        scenes = [demo[k * scene_n:(k + 1) * scene_n][:seg_n] for k in range(4)]
        for k in range(args.segments):
            y = scenes[k % 4]
            cls = clf.classes[int(np.argmax(clf.predict(y[-int(args.window * rate):])))]
            if labels and labels[-1] == cls:
                continue
            pieces.append(y)
            labels.append(cls)
    # Sounds do not start on the analyser's hop grid: each segment is shortened by a different fraction of a
    # hop, so the onsets fall at every phase of it.
    phase = np.random.default_rng(1)
    pieces = [y[:len(y) - int(phase.integers(0, int(0.1 * rate)))] for y in pieces]
    starts = np.concatenate([[0], np.cumsum([len(y) for y in pieces])[:-1]])
    onsets = [(int(st), cls) for st, cls in zip(starts, labels)]
    return np.concatenate(pieces).astype(np.float32), rate, onsets


def run(args: argparse.Namespace) -> dict[str, Any]:
    from performer.audio import ArraySource
    from performer.classifier import Classifier, default_checkpoint, fast_classifier_for
    from performer.device import configure_threads
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.outputs import NullOutput
    from performer.presets import find_preset, load_preset

    threads = configure_threads(args.threads)
    clf = Classifier.from_checkpoint(args.model or default_checkpoint(), device=args.device)
    fast = fast_classifier_for(clf, args.fast_model, device=args.device)
    audio, rate, onsets = _segments(args, clf)
    if len(onsets) < 2:
        raise SystemExit("fewer than two usable segments: nothing to measure")
    seconds = len(audio) / rate
    loop = bool(args.duration and args.duration > seconds)
    preset = load_preset(find_preset("default"))
    preset.params.update({"classifier.window": args.window, "classifier.hop": args.hop,
                          "dream.width": args.size, "dream.height": args.size, "output.fps": 120.0})
    for name in ("smoothing", "hysteresis", "hold"):
        if getattr(args, name) is not None:
            preset.params[f"classifier.{name}"] = getattr(args, name)
    tuning = {k: preset.values()[f"classifier.{k}"]
              for k in ("smoothing", "hysteresis", "hold", "fast", "fast_window", "fast_confidence", "novelty")}
    source = ArraySource(audio, rate, name="bench", loop=loop)
    engine = Engine(source=source, classifier=clf, renderer=DreamRenderer(device=args.device),
                    outputs=[NullOutput()], preset=preset, fast_classifier=fast)
    engine.start()
    t_start = time.monotonic()
    run_for = args.duration if loop else seconds + 1.0
    rss: list[tuple[float, float]] = []
    fps_samples: list[float] = []
    next_sample = t_start + 1.0
    try:
        while time.monotonic() - t_start < run_for:
            now = time.monotonic()
            if now >= next_sample:
                rss.append((now - t_start, _rss_mb()))
                if now - t_start > 5:
                    fps_samples.append(engine.render_stats.fps)
                next_sample += 1.0
            time.sleep(0.05)
        status = engine.status()
        changes = list(engine.analyzer.changes)  # (wall time, position, class)
    finally:
        engine.stop()

    # Match each onset (in the first pass of the sequence) to the first change to its class after it.
    latencies, misses = [], 0
    total_n = len(audio)
    ends = [o for o, _ in onsets[2:]] + [total_n]
    for (onset, cls), end in zip(onsets[1:], ends):
        seg_n = end - onset
        for lap in range(int(run_for // seconds) + 1):
            pos0 = onset + lap * total_n
            hits = [w for w, p, c in changes if c == cls and pos0 <= p < pos0 + seg_n]
            if hits:
                latencies.append(hits[0] - (source.started_at + pos0 / rate))
            elif pos0 + seg_n <= status["uptime_s"] * rate:
                misses += 1
    lat = np.array(latencies) * 1000.0
    warm = [m for t, m in rss if t >= 10.0] or [m for _, m in rss]
    clips_from = f"UrbanSound8K fold {args.fold:d}" if args.data else "demo scenes"
    result = {
        "input": f"{len(onsets)} segments of {args.segment_seconds:g} s ({clips_from})",
        "fast_model": str(fast.path) if fast else "(the classifier)",
        "torch_threads": threads, "window_s": args.window, "hop_s": args.hop, "dream_size": args.size,
        "classifier": tuning,
        "run_seconds": round(run_for, 1),
        "onset_to_class_ms": {
            "n": int(len(lat)), "misses": misses,
            "median": round(float(np.median(lat)), 1) if len(lat) else None,
            "p95": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        },
        "fps_while_classifying": round(float(np.median(fps_samples)), 2) if fps_samples else status["fps"],
        "classify_ms_ema": status["classify_ms"],
        "hops": status["hops"], "skipped_hops": status["skipped_hops"],
        "class_changes": status["class_changes"], "new_sounds": status["new_sounds"],
        "fast_switches": status["fast_switches"],
        "dropped_audio_blocks": status["dropped_audio_blocks"],
        "rss_mb_after_warmup": round(warm[0], 1), "rss_mb_end": round(rss[-1][1], 1) if rss else None,
        "rss_growth_pct": round(100.0 * (rss[-1][1] - warm[0]) / warm[0], 2) if rss else None,
    }
    return result
