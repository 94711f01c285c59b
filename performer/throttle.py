"""Limits on what bad input can cost: one short counted log line per kind per second, and a reply budget.

A client that sends garbage as fast as it can must not be able to fill the disk with log lines, nor turn the
server into a reflector of error replies. :class:`KindLog` writes at most one line per kind of problem per
interval, clipped to :data:`MAX_LINE` characters and carrying the running count; :class:`Budget` is a token
bucket for replies; :func:`throttle_library_warnings` does the same for a third-party package that logs straight
to the root logger.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

MAX_LINE = 300
"""Characters in one log line or error reply written about client input."""


def clip(text: str, limit: int = MAX_LINE) -> str:
    """``text`` on one line and at most ``limit`` characters (a cut is marked with the whole length)."""
    text = " ".join(text.split()) if ("\n" in text or "\r" in text) else text
    if len(text) <= limit:
        return text
    tail = f"… ({len(text)} chars)"
    return text[: max(0, limit - len(tail))] + tail


class KindLog:
    """At most one clipped line per kind per ``interval`` seconds, each with how many of that kind came so far.

    ``kind`` is a short identifier (``bad_type``); the line ends with it in words: ``… (12 bad type so far)``.
    Lines are clipped to ``limit`` characters (:data:`MAX_LINE`: about client input; a longer one for the
    server's own messages, which carry a fix). Safe to call from several threads.
    """

    def __init__(self, logger: logging.Logger, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, limit: int = MAX_LINE) -> None:
        self.logger = logger
        self.interval = interval
        self.limit = limit
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, kind: str) -> bool:
        """Whether a line of this ``kind`` would be written now."""
        last = self._last.get(kind)
        return last is None or self._clock() - last >= self.interval

    def __call__(self, kind: str, message: str, count: int, level: int = logging.WARNING,
                 exc_info: bool = False) -> bool:
        """Log ``message`` unless a line of this ``kind`` was written less than ``interval`` ago; True if logged.

        ``exc_info``: the exception being handled goes with the line at debug level only (a traceback is no line
        for a stage log), and only when the line is written."""
        with self._lock:
            now = self._clock()
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                return False
            self._last[kind] = now
        self.logger.log(level, "%s (%d %s so far)", clip(message, self.limit), count, kind.replace("_", " "))
        if exc_info:
            self.logger.debug("%s: the error in full", kind, exc_info=True)
        return True


class Budget:
    """A token bucket: ``rate`` events a second on average, ``burst`` at once; counts what it refuses."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._t = clock()
        self.refused = 0

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate)
        self._t = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.refused += 1
        return False


class _LibraryThrottle(logging.Filter):
    """Lets one record a second through from files under ``folder``; later ones are counted and dropped."""

    def __init__(self, folder: str, interval: float = 1.0) -> None:
        super().__init__()
        self.folder = folder
        self.interval = interval
        self.dropped = 0
        self._last = -float("inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.pathname.startswith(self.folder):
            return True
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.interval:
                self.dropped += 1
                return False
            self._last = now
            dropped, self.dropped = self.dropped, 0
        record.msg = clip(record.getMessage()) + (f" ({dropped} more like it dropped)" if dropped else "")
        record.args = ()
        return True


_installed: dict[str, _LibraryThrottle] = {}
_install_lock = threading.Lock()


def throttle_library_warnings(package: str) -> None:
    """Rate-limit and clip what ``package`` logs through the root logger (``logging.warning(...)`` calls).

    Those records never pass a named logger, so a filter on the root logger is the one place to catch them;
    records from anywhere else pass untouched. Installing twice is harmless.
    """
    with _install_lock:
        if package in _installed:
            return
        try:
            module = __import__(package)
        except ImportError:
            return
        folder = os.path.dirname(os.path.abspath(module.__file__ or ""))
        f = _installed[package] = _LibraryThrottle(folder + os.sep)
        logging.getLogger().addFilter(f)
