"""Presets: a performance stored as TOML, checked, loaded, saved, compared and applied."""

from __future__ import annotations

from performer.presets.classes import checkpoint_classes, shipped_classes
from performer.presets.files import (
    MAX_PRESET_BYTES,
    check_preset,
    file_problems,
    find_preset,
    load_preset,
    read_toml,
    save_preset,
)
from performer.presets.folders import PresetFolders, name_problem
from performer.presets.preset import (
    FORMAT_VERSION,
    OUTPUT_TYPES,
    Preset,
    Problem,
    apply_preset,
    copy_preset,
    diff_presets,
    preset_from_store,
)
from performer.presets.schema import parse_preset

__all__ = [
    "FORMAT_VERSION",
    "MAX_PRESET_BYTES",
    "PresetFolders",
    "checkpoint_classes",
    "file_problems",
    "name_problem",
    "shipped_classes",
    "OUTPUT_TYPES",
    "apply_preset",
    "copy_preset",
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
