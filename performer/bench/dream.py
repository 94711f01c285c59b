"""``performer bench dream``: the paper's Table 1 grid, and frames per second in continuous mode.

Table 1 of the paper gives seconds for capture + classification + one dreamed
image on a Titan X, with capture + classification alone about 4.5 s; the dream
alone is the figure less 4.5 s. Here each scenario is one classic Deep Dream
render (:meth:`DreamRenderer.render`) of a noise image:

* **iteration** = one gradient-ascent step (one forward + one backward pass of
  the network truncated at the deepest selected layer) *per octave*; a scenario
  with I iterations and O octaves takes I x O steps. The paper's "iterations"
  were full Deep Dream passes whose step counts it does not give, so our
  figures compare a scenario's *settings*, not the same amount of arithmetic.
* **octaves**: image scales 1/octave_scale^k (default scale 1.4), small to large.
* **layers** n: ``blocks.10`` alone, then adding ``blocks.8`` and ``blocks.6``
  (the deepest layer, hence the truncation point, is the same for n = 1..3).

Continuous mode runs :meth:`DreamRenderer.frame` with the default parameters
(``dream.iterations`` steps per frame) under a fixed scene, unguided and
guided (guidance runs the whole network, to the logits).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from performer.params import Snapshot

# (width, iterations, octaves, layers) -> the paper's total seconds (capture + classify + dream).
PAPER_TABLE1: dict[tuple[int, int, int, int], float] = {
    (200, 1, 1, 1): 4.7, (200, 1, 1, 2): 4.8, (200, 1, 1, 3): 5.0, (200, 2, 1, 1): 4.9, (200, 3, 1, 1): 5.0,
    (200, 2, 2, 3): 5.9, (200, 3, 2, 3): 6.5,
    (400, 1, 1, 1): 5.3, (400, 1, 1, 2): 5.7, (400, 1, 1, 3): 6.0, (400, 2, 1, 1): 6.3, (400, 2, 1, 2): 6.8,
    (400, 2, 1, 3): 7.6, (400, 1, 2, 1): 6.0, (400, 1, 3, 1): 6.3,
}
PAPER_CAPTURE_CLASSIFY_S = 4.5
TARGET_SPEEDUP = 4.0
LAYER_SETS: dict[str, list[str]] = {
    "efficientnet_lite0": ["blocks.10", "blocks.8", "blocks.6"],
    "googlenet": ["inception4c", "inception4b", "inception4a"],
    "vgg16": ["features.22", "features.20", "features.18"],
    "resnet50": ["layer3.2", "layer3.1", "layer3.0"],
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", default="efficientnet_lite0", choices=tuple(LAYER_SETS),
                   help="the network to dream with (default efficientnet_lite0, the shipped one)")
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"),
                   help="torch device (default auto: cuda, then mps, then cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=5, help="timed renders per Table 1 scenario (median kept)")
    p.add_argument("--frames", type=int, default=60, help="frames timed per continuous-mode size")
    p.add_argument("--sizes", default="224,512", help="continuous-mode sizes (square), comma-separated")
    p.add_argument("--frame-iterations", default="2,1",
                   help="dream.iterations values (steps per frame) timed in continuous mode; 2 is the default")
    p.add_argument("--skip-table", action="store_true", help="only continuous mode")
    p.add_argument("--skip-continuous", action="store_true", help="only the Table 1 grid")
    p.add_argument("--markdown", metavar="PATH", help="also write a Markdown table of the results to PATH")


def _params(**over: Any) -> Snapshot:
    from performer.params import ParamStore

    store = ParamStore()
    for k, v in over.items():
        store.set("dream." + k, v, glide=False)
    return store.snapshot()


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return -1.0


def run(args: argparse.Namespace) -> dict:
    import torch

    from performer.dream.guides import DEFAULT_CLASS_GUIDES
    from performer.dream.renderer import DreamRenderer, Scene

    r = DreamRenderer(args.device, threads=args.threads, seed=0)
    r.prepare(_params(network=args.network))
    out: dict[str, Any] = {
        "network": args.network, "device": str(r.device), "threads": torch.get_num_threads(),
        "load_1min_start": _load(),
        "iteration": "one gradient step (forward+backward, truncated at the deepest layer) per octave",
    }
    if not args.skip_table:
        rows = []
        for (w, it, octv, nl), paper in PAPER_TABLE1.items():
            layers = ",".join(LAYER_SETS[args.network][:nl])
            p = _params(network=args.network, width=w, height=w, iterations=it, octaves=octv, layers=layers,
                        guide_weight=0.0)
            r.render(p)  # warm-up at this size
            times = []
            for _ in range(max(1, args.repeats)):
                t0 = time.perf_counter()
                r.render(p)
                times.append(time.perf_counter() - t0)
            ours = statistics.median(times)
            paper_dream = paper - PAPER_CAPTURE_CLASSIFY_S
            rows.append({
                "size": f"{w}x{w}", "iterations": it, "octaves": octv, "layers": nl, "layer_names": layers,
                "steps": it * octv, "paper_total_s": paper, "paper_dream_s": round(paper_dream, 2),
                "ours_s": round(ours, 4), "ours_min_s": round(min(times), 4),
                "speedup": round(paper_dream / ours, 1), "meets_4x": paper_dream / ours >= TARGET_SPEEDUP,
                "load_1min": _load(),
            })
        out["table1"] = rows
    if not args.skip_continuous:
        cont = []
        for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
            for iters, guided in [(int(i), g) for i in args.frame_iterations.split(",") if i.strip()
                                  for g in (False, True)]:
                p = _params(network=args.network, width=size, height=size, guide_weight=1.0 if guided else 0.0,
                            iterations=iters)
                scene = Scene(key="dog_bark", guide=DEFAULT_CLASS_GUIDES["dog_bark"] if guided else ())
                for _ in range(5):
                    r.frame(p, scene)
                t0 = time.perf_counter()
                for _ in range(max(1, args.frames)):
                    r.frame(p, scene)
                dt = time.perf_counter() - t0
                cont.append({"size": f"{size}x{size}", "guided": guided, "iterations_per_frame": p.dream.iterations,
                             "layers": ",".join(r.layers), "frames": args.frames,
                             "fps": round(args.frames / dt, 1), "ms_per_frame": round(1000 * dt / args.frames, 1),
                             "load_1min": _load()})
        out["continuous"] = cont
    out["load_1min_end"] = _load()
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(out))
    return out


def markdown(res: dict) -> str:
    """The results as Markdown tables."""
    head = (f"network {res['network']} on {res['device']}, {res['threads']} torch threads, "
            f"1-min load {res['load_1min_start']} at start and {res['load_1min_end']} at end; "
            f"an iteration is {res['iteration']}.")
    lines = [head, ""]
    if "table1" in res:
        lines += [("| size | iter | oct | layers | steps | paper total s | paper dream s | ours s (median) | "
                   "speed-up | ≥4× |"), "|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["table1"]:
            lines.append(f"| {r['size']} | {r['iterations']} | {r['octaves']} | {r['layers']} | {r['steps']} | "
                         f"{r['paper_total_s']} | {r['paper_dream_s']} | {r['ours_s']:.3f} | {r['speedup']}× | "
                         f"{'yes' if r['meets_4x'] else 'NO'} |")
        lines.append("")
    if "continuous" in res:
        lines += ["| size | guided | steps/frame | layers | fps | ms/frame | load |", "|---|---|---|---|---|---|---|"]
        for c in res["continuous"]:
            lines.append(f"| {c['size']} | {'yes' if c['guided'] else 'no'} | {c['iterations_per_frame']} | "
                         f"{c['layers']} | {c['fps']} | {c['ms_per_frame']} | {c['load_1min']} |")
        lines.append("")
    return "\n".join(lines)
