"""Presets: a performance stored as TOML, checked, loaded, saved, compared and applied."""

from __future__ import annotations

from performer.presets.files import check_preset, find_preset, load_preset, read_toml, save_preset
from performer.presets.preset import (
    FORMAT_VERSION,
    OUTPUT_TYPES,
    Preset,
    Problem,
    apply_preset,
    diff_presets,
    preset_from_store,
)
from performer.presets.schema import parse_preset

__all__ = [
    "FORMAT_VERSION",
    "OUTPUT_TYPES",
    "apply_preset",
    "check_preset",
    "diff_presets",
    "find_preset",
    "load_preset",
    "parse_preset",
    "Preset",
    "preset_from_store",
    "Problem",
    "read_toml",
    "save_preset",
]
