"""The ``performer`` command line.

Each stage owns its commands: a module with ``register(subparsers)`` that adds
its sub-commands, each with ``set_defaults(func=handler)`` where
``handler(args) -> int`` returns the exit status. Heavy imports (torch,
librosa) happen inside handlers, so ``performer --help`` stays quick.

Options are checked while parsing (see :mod:`performer.cli.types`), before any
model loads. A :class:`~performer.errors.PerformerError` or an ``OSError`` that
reaches here is printed as one line (the traceback too with debug logging), exit 1.
Commands log warnings only, unless they set ``log_level`` (``serve`` and
``train`` log INFO); ``-v`` and ``-q``, before or after the command, move it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from performer import __version__
from performer.cli.log import setup_logging
from performer.errors import PerformerError

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
    _add_verbosity(parser, default=0)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for leaf in _leaf_parsers(sub):
        _add_verbosity(leaf, default=argparse.SUPPRESS)  # `performer classify x.wav -v` works too
        leaf.set_defaults(command_parser=leaf)  # an option the command does not know is refused with its usage
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, default) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="count", default=default,
                       help="more log output, a step per -v: info, then debug (serve and train log info already)")
    group.add_argument("-q", "--quiet", action="count", default=default,
                       help="less log output, a step per -q: warnings, then errors only")


def _leaf_parsers(sub: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    leaves = []
    for parser in dict.fromkeys(sub.choices.values()):  # aliases map to the same parser
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for n in nested:
                leaves += _leaf_parsers(n)
        else:
            leaves.append(parser)
    return leaves


def main(argv: Sequence[str] | None = None) -> int:
    # OpenMP threads that spin while waiting steal the core their partner needs when the renderer and the
    # classifier share a small machine; waiting passively avoids that (set the variable to override).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        refuse_unknown(getattr(args, "command_parser", parser), unknown)
    setup_logging(args.verbose, args.quiet, getattr(args, "log_level", logging.WARNING))
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
    except (PerformerError, OSError) as e:
        # A missing or unreadable file, a bad checkpoint, a data set that is not one: one line, no traceback.
        log.debug("the error in full:", exc_info=True)
        message = str(e) if isinstance(e, PerformerError) else _os_error(e)
        first, *rest = [line for line in message.splitlines() if line.strip()] or [type(e).__name__]
        if rest:
            log.debug("the rest of the message: %s", " ".join(rest))
        print(f"performer {args.command}: error: {first}", file=sys.stderr)
        return 1


def refuse_unknown(parser: argparse.ArgumentParser, unknown: list[str]) -> None:
    """Exit 2 with the command's own usage (not the top level's) and one line naming what it did not know, with
    the option it most resembles."""
    import difflib

    options = [s[2:] for a in parser._actions for s in a.option_strings if s.startswith("--")]
    first = next((u.split("=", 1)[0].lstrip("-") for u in unknown if u.startswith("-")), "")
    close = difflib.get_close_matches(first, options, n=1, cutoff=0.75) if first else []
    hint = f"; did you mean --{close[0]}?" if close else f"; allowed: the options above (`{parser.prog} --help`)"
    parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def _os_error(e: OSError) -> str:
    if e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e) or type(e).__name__
