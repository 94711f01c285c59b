"""Scaling a dream up to an output's size, the ways there are, timed against each other in one run.

Part of ``performer bench outputs --only scale``: a dream-like frame of ``--dream-size`` (320x180 by default) is
scaled to each ``--sizes`` size by Pillow's bicubic (what every output did before), Pillow's bilinear, OpenCV's
bicubic and bilinear (when OpenCV is installed), :func:`performer.outputs.convert.resize` (what the outputs use
now), and by two dream layouts of that size given the same frame (the cost per output, the scaling shared). The
methods take turns frame by frame, in a shuffled order, so a shared machine's drifting load (and whatever one
method leaves in the caches for the next) touches them alike; each row gives the median and its ratio to Pillow's
bicubic.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def dreamlike(w: int, h: int, seed: int = 0) -> np.ndarray:
    """Smooth colour fields with fine detail on top, like a dreamed frame at the dream's size."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 20 + 1, w // 20 + 1, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    detail = rng.integers(-40, 41, (h, w, 3), dtype=np.int16)
    return np.clip(base + detail, 0, 255).astype(np.uint8)


def _methods(w: int, h: int) -> dict[str, Callable[[np.ndarray], Any]]:
    from PIL import Image

    from performer.outputs import FrameInfo, Layout
    from performer.outputs.convert import opencv, resize

    def pil(f: Image.Resampling) -> Callable[[np.ndarray], Any]:
        return lambda a: np.asarray(Image.fromarray(a).resize((w, h), f))

    methods: dict[str, Callable[[np.ndarray], Any]] = {
        "pillow bicubic (before)": pil(Image.Resampling.BICUBIC),
        "pillow bilinear": pil(Image.Resampling.BILINEAR),
    }
    cv2 = opencv()
    if cv2 is not None:
        methods["opencv bicubic"] = lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC)
        methods["opencv bilinear"] = lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
    methods["resize() (the outputs' scaling)"] = lambda a: resize(a, w, h)
    pair, info = (Layout("dream", w, h, "scale"), Layout("dream", w, h, "scale")), FrameInfo(1, 0.0)
    methods["2 dream layouts, shared (per output)"] = lambda a: [lay(a, info) for lay in pair]
    return methods


def scale_rows(dream: tuple[int, int], sizes: list[tuple[int, int]], frames: int) -> list[dict[str, Any]]:
    """One row per size and method: median ms per frame (per output for the shared layouts) and the ratio."""
    from performer.outputs.convert import opencv

    dw, dh = dream
    sources = [dreamlike(dw, dh, k) for k in range(8)]
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for w, h in sizes:
        methods = _methods(w, h)
        times: dict[str, list[float]] = {name: [] for name in methods}
        names = list(methods)
        for n in range(frames + 3):
            for k in rng.permutation(len(names)):
                name, fn = names[k], methods[names[k]]
                src = sources[n % len(sources)].copy()  # a new frame object each time, as each output tick
                t0 = time.perf_counter()
                fn(src)
                dt = time.perf_counter() - t0
                if n >= 3:  # warm-up frames left out
                    times[name].append(dt / 2 if name.startswith("2 dream") else dt)
        base = statistics.median(times["pillow bicubic (before)"])
        for name, t in times.items():
            med = statistics.median(t)
            rows.append({"output": f"scale {dw}x{dh} up: {name}", "size": f"{w}x{h}", "layout": "dream",
                         "total_ms": round(1000.0 * med, 2), "ratio": round(med / base, 3),
                         "note": "" if opencv() is not None else "OpenCV not installed: Pillow scales"})
    return rows
