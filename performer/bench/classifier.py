"""``performer bench classifier``: per-window inference time of a classifier checkpoint.

Times :meth:`Classifier.predict` on windows of generated sound (log-mel and network, the engine's per-call
path) and the network alone, ``--runs`` times after ``--warmup`` calls, and reports the median and the 95th
percentile in milliseconds, with the torch thread count, the device and the load average (``uptime``) noted,
since other processes on the machine change the figures.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from typing import Any

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("--model", default=None, metavar="CKPT",
                        help="checkpoint (default: the shipped models/urbansound8k_realtime.pt)")
    parser.add_argument("--window", type=float, default=None, help="window in seconds (default: the model's)")
    parser.add_argument("--runs", type=int, default=300, help="timed calls (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, as in the engine)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cuda", "mps", "cpu"),
                        help="torch device (default cpu: the real-time target)")


def _stats(times: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(times) * 1000.0
    return {"median_ms": round(float(np.median(a)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "min_ms": round(float(a.min()), 3), "mean_ms": round(float(a.mean()), 3), "runs": len(times)}


def run(args) -> dict[str, Any]:
    import numpy as np
    import torch

    from performer.classifier.inference import Classifier, default_checkpoint

    torch.set_num_threads(max(1, int(args.threads)))
    path = args.model or default_checkpoint()
    clf = Classifier.from_checkpoint(path, device=args.device)
    window = float(args.window or clf.window_seconds)
    n = int(round(window * clf.sample_rate))
    rng = np.random.default_rng(0)
    t = np.arange(n) / clf.sample_rate
    windows = [(0.3 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) + rng.normal(0, 0.05, n)).astype(np.float32)
               for _ in range(8)]
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    for i in range(args.warmup):
        clf.predict(windows[i % len(windows)])
    full: list[float] = []
    for i in range(args.runs):
        t0 = time.perf_counter()
        clf.predict(windows[i % len(windows)])
        full.append(time.perf_counter() - t0)
    # tiled as predict does
    mels = [clf._mel(torch.from_numpy(clf._check(w)).to(clf.device).unsqueeze(0)) for w in windows]
    net: list[float] = []
    with torch.inference_mode():
        for i in range(args.runs):
            t0 = time.perf_counter()
            clf.model(mels[i % len(mels)])
            if clf.device.type == "cuda":
                torch.cuda.synchronize()
            net.append(time.perf_counter() - t0)
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    result: dict[str, Any] = {
        "model": str(path),
        "architecture": clf.model_name,
        "parameters": int(sum(p.numel() for p in clf.model.parameters())),
        "window_s": window,
        "device": str(clf.device),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before] if load_before else None,
        "loadavg_after": [round(x, 2) for x in load_after] if load_after else None,
        "predict": _stats(full),
        "network_only": _stats(net),
        "torch": str(torch.__version__),
    }
    log.info("classifier %s: predict median %.2f ms, p95 %.2f ms (%d threads)", clf.model_name,
             result["predict"]["median_ms"], result["predict"]["p95_ms"], result["threads"])
    return result
