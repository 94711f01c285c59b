"""Class names with a meaning of their own.

A classifier may have, besides the classes of its data set, the class :data:`NONE_CLASS`: "none of these",
trained on background sound (music, voices, the room) that is none of its classes. When it wins, the engine
keeps the dream's picture instead of following it. This module imports nothing, so every stage may use it.
"""

from __future__ import annotations

NONE_CLASS = "none"


def is_none(name: str | None) -> bool:
    """Whether ``name`` is the "none of these" class."""
    return name == NONE_CLASS
