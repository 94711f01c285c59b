"""Fold lists as the command line writes them: ``1-9``, ``1,3,5``, ``1-3,7``."""

from __future__ import annotations


def parse_folds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    folds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            folds.extend(range(int(a), int(b) + 1))
        else:
            folds.append(int(part))
    return folds
