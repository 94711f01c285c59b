"""Log set-up shared by the commands: one format, third-party chatter kept at warnings."""

from __future__ import annotations

import logging
import sys


def setup_logging(verbose: int, quiet: int) -> None:
    level = logging.DEBUG if verbose else {0: logging.INFO, 1: logging.WARNING}.get(quiet, logging.ERROR)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    # Third-party chatter stays at warnings unless asked for.
    for noisy in ("numba", "matplotlib", "PIL", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
