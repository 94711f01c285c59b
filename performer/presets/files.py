"""Preset files: reading TOML safely, checking, loading, finding presets by name or path, and saving.

Reading opens regular files only (a device, pipe or folder is a problem, and opening never blocks), at most
:data:`MAX_PRESET_BYTES`, as UTF-8; nesting too deep for the TOML parser is a problem like any syntax error.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from performer.errors import PresetError
from performer.presets.folders import PresetFolders
from performer.presets.preset import Preset, Problem, cut_middle
from performer.presets.schema import parse_preset

MAX_PRESET_BYTES = 256 * 1024
"""The largest preset file read (the shipped ones are under 8 KiB)."""


def _problem(path: Path, key: str, value: Any, allowed: str, message: str) -> PresetError:
    return PresetError(f"preset file {cut_middle(str(path))} {message}", [Problem(str(path), key, value, allowed)])


def read_toml(path: Path, *, limit: int = MAX_PRESET_BYTES) -> dict[str, Any]:
    """Parse a TOML file; any reason it cannot be read or parsed is a PresetError naming the file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise _problem(path, "(file)", str(path), "an existing .toml file", "does not exist") from None
    except OSError as e:
        reason = "a folder" if e.errno == errno.EISDIR else e.strerror
        raise _problem(path, "(file)", str(path), f"a readable regular file ({reason})",
                       f"cannot be read: {reason}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise _problem(path, "(file)", str(path), f"a regular file, not {kind}", f"is {kind}, not a preset")
    with os.fdopen(fd, "rb") as f:
        try:
            raw = f.read(limit + 1)
        except OSError as e:
            raise _problem(path, "(file)", str(path), f"a readable regular file ({e.strerror})",
                           f"cannot be read: {e.strerror}") from None
    if len(raw) > limit:
        raise _problem(path, "(size)", f"{max(st.st_size, len(raw))} bytes", f"at most {limit // 1024} KiB",
                       f"is larger than {limit // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _problem(path, "(encoding)", raw[e.start:e.start + 8], f"UTF-8 text (byte {e.start} is not)",
                       f"is not UTF-8 text (byte {e.start}); is it a TOML file?") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _problem(path, "(syntax)", str(e), "valid TOML", f"is not valid TOML: {e}") from None
    except RecursionError:
        raise _problem(path, "(syntax)", "arrays or tables nested too deeply", "valid TOML nested a few levels",
                       "nests arrays or tables too deeply to read") from None


def file_problems(preset: Preset) -> list[Problem]:
    """What the files a preset names (class images, relative to the preset) lack: each must be a regular file."""
    return _image_problems(preset.classes, preset.path)


def _image_problems(classes: Any, preset_path: Path | None) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(classes, dict):
        return problems
    file = str(preset_path) if preset_path is not None else "<preset>"
    where = Preset(name="", path=preset_path)
    for cls, spec in classes.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("image"), str):
            continue
        path = where.resolve(spec["image"])
        try:
            st = path.stat()
        except OSError as e:
            problems.append(Problem(file, f"classes.{cls}.image", spec["image"],
                                    f"an image file ({path}: {e.strerror})"))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem(file, f"classes.{cls}.image", spec["image"],
                                    f"an image file ({path} is not a regular file)"))
    return problems


def check_preset(path: str | Path, *, classes: Sequence[str] | None = None) -> list[Problem]:
    """Every problem in the preset file (an empty list when it is valid)."""
    try:
        data = read_toml(Path(path))
    except PresetError as e:
        return e.problems
    return parse_preset(data, str(path), classes=classes)[1] + _image_problems(data.get("classes"), Path(path))


def load_preset(path: str | Path, *, classes: Sequence[str] | None = None) -> Preset:
    """Load and check a preset file; raises PresetError listing every problem.

    ``classes``: the sound classes it may name (default: the shipped classifier's).
    """
    path = Path(path)
    data = read_toml(path)
    preset, problems = parse_preset(data, str(path), classes=classes)
    problems += _image_problems(data.get("classes"), path)
    if len(problems) == 1:  # one line: the file, the key, the value and what is allowed
        raise PresetError(f"preset {problems[0]}", problems)
    if problems:
        lines = "\n  ".join(str(p) for p in problems)
        raise PresetError(f"preset {path} has {len(problems)} problem(s):\n  {lines}", problems)
    assert preset is not None
    return preset


def find_preset(name_or_path: str | Path, folders: PresetFolders | None = None) -> Path:
    """A preset the user typed: a file path (``my.toml``, ``sets/a.toml``), else a preset name looked up in the
    user's preset folder, then the shipped presets (``club`` -> presets/club.toml). For the command line:
    a client's name goes through :meth:`PresetFolders.find` alone."""
    p = Path(name_or_path)
    try:
        exists = p.exists()
    except OSError as e:  # a name too long for the file system, say
        raise _problem(p, "(file)", str(p), f"a preset name or file path ({e.strerror})", str(e.strerror)) from None
    if p.suffix == ".toml" or exists or len(p.parts) > 1:
        return p
    return (folders or PresetFolders.default()).find(str(name_or_path))


def save_preset(preset: Preset, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write a preset as TOML (after checking it round-trips); ``overwrite=False`` refuses an existing file.

    The file appears whole or not at all: it is written beside the target and moved (or linked) into place.
    """
    import tomli_w

    path = Path(path)
    data = preset.to_toml_data()
    _, problems = parse_preset(data, str(path))
    if problems:
        raise PresetError(f"refusing to save an invalid preset to {path}", problems)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    try:
        if overwrite:
            tmp.replace(path)  # atomic: a crash mid-save never leaves half a preset
        else:
            try:
                os.link(tmp, path)  # atomic, and never replaces a file that appeared meanwhile
            except FileExistsError:
                raise PresetError(f"{path} exists; not overwriting it",
                                  [Problem(str(path), "(file)", str(path), "a file that does not exist yet")]) from None
            except OSError:  # a file system without hard links
                if path.exists():
                    raise PresetError(f"{path} exists; not overwriting it") from None
                tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
