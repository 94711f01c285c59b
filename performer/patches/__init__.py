"""Patches for TouchDesigner, Max, Pure Data and Open Stage Control, generated from the parameter registry."""

from __future__ import annotations

from performer.patches.generators import (
    ANALYSIS,
    GENERATED_BY,
    GENERATORS,
    default_dir,
    generate_all,
    generate_max,
    generate_open_stage_control,
    generate_pd,
    generate_touchdesigner,
    performance_params,
    stale_files,
    write_all,
)

__all__ = [
    "ANALYSIS",
    "GENERATED_BY",
    "GENERATORS",
    "default_dir",
    "generate_all",
    "generate_max",
    "generate_open_stage_control",
    "generate_pd",
    "generate_touchdesigner",
    "performance_params",
    "stale_files",
    "write_all",
]
