"""The newest-value slot through which the threads hand over analyses and frames."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """A one-slot hand-off: writers replace the value; a value replaced before anyone took it counts as dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._fresh = False
        self.dropped = 0
        self.version = 0

    def put(self, value: T) -> None:
        with self._lock:
            if self._fresh:
                self.dropped += 1
            self._value = value
            self._fresh = True
            self.version += 1

    def take(self) -> T | None:
        """The newest value if it is new since the last take, else None."""
        with self._lock:
            if not self._fresh:
                return None
            self._fresh = False
            return self._value

    def peek(self) -> T | None:
        """The newest value, new or not (marks it taken)."""
        with self._lock:
            self._fresh = False
            return self._value
