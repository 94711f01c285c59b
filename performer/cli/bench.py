"""``performer bench NAME``: the speed and memory benchmarks, one per stage.

Each stage's benchmark module exposes ``add_arguments(parser)`` and
``run(args) -> dict``; the results are printed as JSON and, with ``--out``,
written to a file. Measured figures are written down in ``benchmarks/*.md``.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from performer.bench.machine import machine_info

BENCHMARKS: dict[str, tuple[str, str]] = {
    "classifier": ("performer.bench.classifier", "classifier inference time per window"),
    "dream": ("performer.bench.dream", "Deep Dream: the paper's Table 1 grid and continuous fps"),
    "engine": ("performer.bench.engine", "live engine: onset-to-class latency, fps while classifying, memory"),
    "look": ("performer.bench.look", "what the audience sees: detail, static, colourfulness, change, motion, "
             "legibility of the output frames, output fps, first class"),
    "tempo": ("performer.bench.tempo", "audio beat tracker: tempo and phase error on clicks and drum loops"),
    "osc": ("performer.bench.osc", "renderer fps with and without a flood of OSC messages"),
    "pages": ("performer.bench.pages", "renderer fps and store writes with and without control pages flooding sets"),
    "outputs": ("performer.bench.outputs", "frame outputs: cost per frame, renderer fps with outputs on/off"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark (" + ", ".join(BENCHMARKS) + ")",
                       description="Measure speed and memory. Results go to stdout as JSON and to --out.")
    bsub = p.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        b = bsub.add_parser(name, help=help_text, description=help_text)
        b.add_argument("--out", type=Path, help="also write the results as JSON to this file")
        module.add_arguments(b)
        b.set_defaults(func=_runner(name, module))


def _runner(name: str, module):
    def run(args: argparse.Namespace) -> int:
        started = time.strftime("%Y-%m-%dT%H:%M:%S")
        results = module.run(args)
        doc = {"benchmark": name, "started": started, "machine": machine_info(), "results": results}
        text = json.dumps(doc, indent=2, default=str)
        sys.stdout.write(text + "\n")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
        return 0

    return run
