"""The preset folders: where presets are found and saved *by name*.

Two folders hold presets: the user's own (``performer.resources.user_presets_dir()``, or one the user names)
and the shipped one. A name (``club``, ``club.toml``, ``sets/club``) is looked up in the user's folder first,
then in the shipped one. Names are checked before any file is touched: letters, digits, space and ``_ . + -``,
at most three folder levels, no ``..``, no absolute paths, so nothing a client sends reaches a file outside
these folders. Saving writes only into the user's folder, never over a shipped preset, and replaces an existing
preset only when asked to.
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from performer.errors import PresetError
from performer.presets.preset import Problem
from performer.resources import presets_dir, user_presets_dir

MAX_NAME_CHARS = 100
MAX_NAME_PARTS = 3
MAX_USER_PRESETS = 1000
"""Saving a new name is refused once the user's folder holds this many presets (overwriting still works)."""
NAME_RULE = (f"a preset name: letters, digits, space and _ . + - (not first), at most {MAX_NAME_CHARS} characters, "
             f"optionally in folders (sets/club, at most {MAX_NAME_PARTS} levels), .toml optional")

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.+-]*")
_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60


def short(value: object) -> str:
    """``repr(value)`` cut to a readable length (for messages naming what a client sent)."""
    return _SHORT.repr(value)


def name_problem(name: object) -> str | None:
    """None when ``name`` is a valid preset name, else what is allowed."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        return NAME_RULE
    parts = name.split("/")
    if len(parts) > MAX_NAME_PARTS or not all(_PART.fullmatch(p) for p in parts):
        return NAME_RULE
    return None


def preset_relpath(name: str) -> PurePosixPath:
    """The path a valid preset name stands for, relative to a preset folder; PresetError if it is not valid."""
    allowed = name_problem(name)
    if allowed is not None:
        raise PresetError(f"preset name {short(name)} is not {allowed}", [Problem("(name)", "(name)", name, allowed)])
    return PurePosixPath(name if name.endswith(".toml") else f"{name}.toml")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _stems(folder: Path) -> list[str]:
    try:
        return sorted(p.stem for p in folder.glob("*.toml") if p.is_file())
    except OSError:
        return []


@dataclass(frozen=True)
class PresetFolders:
    """The user's preset folder and the shipped one."""

    user: Path
    shipped: Path

    @classmethod
    def default(cls, user: str | Path | None = None) -> PresetFolders:
        """``user`` (or platformdirs' user config folder when None) and the shipped presets."""
        return cls(Path(user).expanduser() if user is not None else user_presets_dir(), presets_dir())

    def names(self) -> list[str]:
        """The presets at the top of both folders, by name (the user's first; a user preset hides a shipped one)."""
        user = _stems(self.user)
        return user + [n for n in _stems(self.shipped) if n not in user]

    def find(self, name: str) -> Path:
        """The file of the preset called ``name``: the user's folder first, then the shipped presets."""
        rel = preset_relpath(name)
        for folder in (self.user, self.shipped):
            path = folder / rel
            if _exists(path):
                return path
        known = self.names()
        listed = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30 else "")
        raise PresetError(f"no preset named {short(name)} in {self.user} or the shipped presets; known: {listed}",
                          [Problem("(name)", "(name)", name, f"one of: {listed}")])

    def is_shipped(self, name: str) -> bool:
        return _exists(self.shipped / preset_relpath(name))

    def save_path(self, name: str, *, overwrite: bool = False) -> Path:
        """Where saving ``name`` writes: the user's folder. Refuses shipped names, folders, an existing preset
        unless ``overwrite``, and new names once the folder is full."""
        rel = preset_relpath(name)
        if len(rel.parts) > 1:
            raise PresetError(f"preset name {short(name)} names a folder; a saved preset's name has no '/'")
        if self.is_shipped(name):
            raise PresetError(f"{rel.stem!r} is a shipped preset, and shipped presets are read-only; "
                              "save under another name")
        path = self.user / rel
        if _exists(path):
            if not overwrite:
                raise PresetError(f"a preset named {rel.stem!r} already exists in {self.user}; "
                                  "replacing it needs the explicit overwrite")
        elif len(_stems(self.user)) >= MAX_USER_PRESETS:
            raise PresetError(f"{self.user} already holds {MAX_USER_PRESETS} presets; "
                              "overwrite one or make room before saving new names")
        return path
