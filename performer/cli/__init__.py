"""The ``performer`` command line: one module per command group, registered by :mod:`performer.cli.main`."""

from __future__ import annotations

from performer.cli.main import COMMAND_MODULES, build_parser, main

__all__ = ["COMMAND_MODULES", "build_parser", "main"]
