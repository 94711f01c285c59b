"""The set of generated files: what goes where under ``patches/``, and checking or writing them.

:data:`GENERATORS` maps each file's path under ``patches/`` to the function that renders it from a
:class:`~performer.params.Registry`; :func:`stale_files` is what ``performer patches --check`` runs and
:func:`write_all` what ``performer patches --write`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from performer.params import REGISTRY, Registry
from performer.patches.max_msp import generate_max
from performer.patches.open_stage_control import generate_open_stage_control
from performer.patches.pd import generate_pd
from performer.patches.touchdesigner import generate_touchdesigner

log = logging.getLogger(__name__)

GENERATORS: dict[str, Callable[[Registry], str]] = {
    "pd/performer.pd": generate_pd,
    "max/performer.maxpat": generate_max,
    "open-stage-control/performer.json": generate_open_stage_control,
    "touchdesigner/performer_td.py": generate_touchdesigner,
}


def generate_all(registry: Registry = REGISTRY) -> dict[str, str]:
    """Relative path under ``patches/`` -> file content."""
    return {rel: gen(registry) for rel, gen in GENERATORS.items()}


def stale_files(folder: Path, registry: Registry = REGISTRY) -> list[str]:
    """The generated files under ``folder`` that are missing or differ from what the registry gives."""
    stale = []
    for rel, text in generate_all(registry).items():
        path = folder / rel
        if not path.exists() or path.read_text() != text:
            stale.append(rel)
    return stale


def write_all(folder: Path, registry: Registry = REGISTRY) -> list[Path]:
    """Write every generated file that changed; returns the paths written."""
    written = []
    for rel, text in generate_all(registry).items():
        path = folder / rel
        if path.exists() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        log.info("wrote %s", path)
        written.append(path)
    return written
