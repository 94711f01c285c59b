"""Where the files that ship with Performer live (presets and trained models), and the user's preset folder.

In a source checkout (and an editable install) they are the repository's
top-level ``presets/`` and ``models/`` folders; a wheel carries copies under
``performer/_data/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the {name}/ folder that ships with Performer was not found "
        f"(looked in {_PACKAGE.parent / name} and {_PACKAGE / '_data' / name}); reinstall the package"
    )


def presets_dir() -> Path:
    """The folder of shipped presets."""
    return _bundled("presets")


def models_dir() -> Path:
    """The folder of shipped classifier checkpoints and their model cards."""
    return _bundled("models")


def default_preset_path() -> Path:
    return presets_dir() / "default.toml"


def user_presets_dir() -> Path:
    """The user's own preset folder: ``presets/`` in Performer's user config folder (platformdirs), e.g.
    ``~/.config/performer/presets`` on Linux. Presets saved during a show go here; it may not exist yet."""
    import platformdirs

    return platformdirs.user_config_path("performer", appauthor=False) / "presets"
