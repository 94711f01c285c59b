"""What a busy renderer does to the other threads of its process, for tests that must hold under load."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def hog_the_gil(stop: threading.Event) -> None:
    """Long calls that hold the GIL: a sort of 300,000 numbers, about 0.1 s each here."""
    numbers = [random.random() for _ in range(300_000)]
    while not stop.is_set():
        sorted(numbers)


@contextmanager
def gil_load(threads: int = 2) -> Iterator[None]:
    """``threads`` threads hogging the GIL while the block runs."""
    stop = threading.Event()
    hogs = [threading.Thread(target=hog_the_gil, args=(stop,), daemon=True) for _ in range(threads)]
    for h in hogs:
        h.start()
    try:
        yield
    finally:
        stop.set()
        for h in hogs:
            h.join(5)
