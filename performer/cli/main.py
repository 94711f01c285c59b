"""The ``performer`` command line.

Each stage owns its commands: a module with ``register(subparsers)`` that adds
its sub-commands, each with ``set_defaults(func=handler)`` where
``handler(args) -> int`` returns the exit status. Heavy imports (torch,
librosa) happen inside handlers, so ``performer --help`` stays quick.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
from collections.abc import Sequence

from performer import __version__
from performer.cli.log import setup_logging

log = logging.getLogger("performer")

# Stage modules that add commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "performer.cli.serve",      # serve, devices
    "performer.cli.classifier",  # train, evaluate, classify
    "performer.cli.dream",       # dream
    "performer.cli.control",     # glove, midi
    "performer.cli.presets",     # params, preset
    "performer.cli.patches",     # patches
    "performer.cli.bench",       # bench
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="performer",
        description="Performer turns live sound into Deep Dream images for VJ software: it listens, classifies "
        "the sound, maps class probabilities and loudness onto the dream, and sends the frames out.",
        epilog="Run 'performer COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"performer {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="count", default=0, help="more log output (debug)")
    verbosity.add_argument("-q", "--quiet", action="count", default=0, help="less log output (-q warnings, -qq errors)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # OpenMP threads that spin while waiting steal the core their partner needs when the renderer and the
    # classifier share a small machine; waiting passively avoids that (set the variable to override).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        log.info("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `performer params | head`
        return 0
