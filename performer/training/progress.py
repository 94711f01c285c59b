"""A one-line progress bar for training epochs."""

from __future__ import annotations

import sys


class Progress:
    """A one-line progress bar on stderr; silent when stderr is not a terminal."""

    def __init__(self, total: int, label: str, on: bool = True) -> None:
        self.total, self.label, self.n = total, label, 0
        self.on = on and sys.stderr.isatty()

    def update(self, n: int = 1, extra: str = "") -> None:
        self.n += n
        if self.on:
            width = 30
            done = int(width * self.n / max(1, self.total))
            sys.stderr.write(f"\r{self.label} [{'#' * done}{'.' * (width - done)}] {self.n}/{self.total} {extra}   ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\n")
