"""Preset files: reading TOML, checking, loading, finding shipped presets by name, and saving."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from performer.errors import PresetError
from performer.presets.preset import Preset, Problem
from performer.presets.schema import parse_preset
from performer.resources import presets_dir


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a PresetError naming the file."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise PresetError(f"preset file {path} does not exist",
                          [Problem(str(path), "(file)", str(path), "an existing .toml file")]) from None
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"preset file {path} is not valid TOML: {e}",
                          [Problem(str(path), "(syntax)", str(e), "valid TOML")]) from None
    except OSError as e:
        raise PresetError(f"preset file {path} cannot be read: {e}",
                          [Problem(str(path), "(file)", str(path), f"a readable file ({e.strerror})")]) from None


def check_preset(path: str | Path) -> list[Problem]:
    """Every problem in the preset file (an empty list when it is valid)."""
    try:
        data = read_toml(Path(path))
    except PresetError as e:
        return e.problems
    return parse_preset(data, str(path))[1]


def load_preset(path: str | Path) -> Preset:
    """Load and check a preset file; raises PresetError listing every problem."""
    path = Path(path)
    preset, problems = parse_preset(read_toml(path), str(path))
    if preset is None:
        lines = "\n  ".join(str(p) for p in problems)
        raise PresetError(f"preset {path} has {len(problems)} problem(s):\n  {lines}", problems)
    return preset


def find_preset(name_or_path: str | Path) -> Path:
    """A preset path from a file path or a shipped preset's name (``club`` -> presets/club.toml)."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or len(p.parts) > 1:
        return p
    shipped = presets_dir() / f"{p.name}.toml"
    if shipped.exists():
        return shipped
    names = ", ".join(sorted(q.stem for q in presets_dir().glob("*.toml")))
    raise PresetError(f"no preset named {str(name_or_path)!r}; shipped presets: {names}",
                      [Problem(str(name_or_path), "(name)", str(name_or_path), f"a file or one of: {names}")])


def save_preset(preset: Preset, path: str | Path) -> Path:
    """Write a preset as TOML (after checking it round-trips)."""
    import tomli_w

    path = Path(path)
    data = preset.to_toml_data()
    _, problems = parse_preset(data, str(path))
    if problems:
        raise PresetError(f"refusing to save an invalid preset to {path}", problems)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomli_w.dumps(data))
    tmp.replace(path)  # atomic: a crash mid-save never leaves half a preset
    return path
