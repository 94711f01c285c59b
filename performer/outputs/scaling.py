"""One scaling per frame and size, shared by the outputs that want the same.

The engine hands the same frame object to every output, and each output scales it on its own thread. Two outputs
of one size (NDI and the preview at 1280x720, say) would scale every frame twice; :class:`SharedScaling` lets the
first thread to ask do it and hands the others its result, waiting for it if it is still being made, which costs
them nothing they would not have spent. A result is shared only for the very frame object it was made from, and
only while that frame still holds the pixels it was made from (its content is compared with a private copy of the
source), so a frame reused and changed in place is scaled afresh. Shared images are read-only, so one output can
never change what another sends. :data:`SHARED` is the one the layouts use.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class _Entry:
    ref: weakref.ref[np.ndarray]
    source: np.ndarray
    key: Hashable
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[np.ndarray, int, int] | None = None

    def nbytes(self) -> int:
        return self.source.nbytes + (self.result[0].nbytes if self.result is not None else 0)


class SharedScaling:
    """The latest few scalings, each made once; see the module docstring.

    ``capacity`` entries at most, and no more than ``max_bytes`` of sources and results (the newest entry is kept
    whatever its size). ``wait`` is how long a thread waits for another's scaling before making its own."""

    def __init__(self, capacity: int = 4, max_bytes: int = 64 << 20, wait: float = 1.0) -> None:
        self.capacity, self.max_bytes, self.wait = capacity, max_bytes, wait
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self.made = 0
        """Scalings made."""
        self.shared = 0
        """Scalings handed on instead of made again."""

    def get(self, frame: np.ndarray, key: Hashable,
            make: Callable[[], tuple[np.ndarray, int, int]]) -> tuple[np.ndarray, int, int]:
        """``make()`` for ``frame`` and ``key`` (the size and the fit), or what it gave for them already.
        ``make`` must return a new image (never ``frame`` itself): the result is made read-only."""
        with self._lock:
            entry = next((e for e in self._entries if e.key == key and e.ref() is frame), None)
            mine = entry is None
            if entry is None:
                entry = _Entry(weakref.ref(frame), frame.copy(), key)
                self._entries.append(entry)
                self._trim(entry)
        if mine:
            try:
                img, x, y = make()
                img.flags.writeable = False
                entry.result = (img, x, y)
                with self._lock:
                    self.made += 1
                    self._trim(entry)
                return entry.result
            finally:
                if entry.result is None:  # make() failed: nobody may wait for this entry any more
                    with self._lock:
                        if entry in self._entries:
                            self._entries.remove(entry)
                entry.done.set()
        if entry.done.wait(self.wait) and entry.result is not None and np.array_equal(entry.source, frame):
            with self._lock:
                self.shared += 1
            return entry.result
        img, x, y = make()  # the other thread failed or is stuck, or the frame changed since: make it here
        return img, x, y

    def _trim(self, keep: _Entry) -> None:
        """Drop entries whose frame is gone, then the oldest while there are too many or they are too big."""
        self._entries = [e for e in self._entries if e is keep or e.ref() is not None]
        while len(self._entries) > 1 and (len(self._entries) > self.capacity
                                          or sum(e.nbytes() for e in self._entries) > self.max_bytes):
            self._entries.remove(next(e for e in self._entries if e is not keep))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


SHARED = SharedScaling()
"""The scalings the layouts share (:func:`performer.outputs.layout.fit_into`)."""
