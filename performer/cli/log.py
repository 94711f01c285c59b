"""Log set-up shared by the commands, and the status line that log lines share the terminal with.

One format; third-party chatter kept at warnings. ``serve`` (and ``train``, whose
progress is its log) log at INFO by default, every other command only warnings;
``-v`` is one step more (INFO, then DEBUG), ``-q`` one step less.

While ``serve`` shows its status line (redrawn in place with ``\\r``), a log
line first clears it and the status line is drawn again under the log line, so
the two never run into each other.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def level_for(verbose: int, quiet: int, default: int = logging.WARNING) -> int:
    """The log level ``-v`` and ``-q`` make of a command's default level."""
    i = LEVELS.index(default) if default in LEVELS else 2
    return LEVELS[min(len(LEVELS) - 1, max(0, i - verbose + quiet))]


class TerminalLine:
    """One line at the bottom of a terminal stream, redrawn in place; log lines print above it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.lock = threading.RLock()
        self.text = ""
        self.width = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def show(self, text: str, width: int) -> None:
        """Draw ``text`` (cut to ``width`` columns) in place of the previous line."""
        with self.lock:
            self.text, self.width = text[:width], width
            self._draw()

    def _draw(self) -> None:
        if self.text:
            self.stream.write("\r" + self.text.ljust(self.width))
            self.stream.flush()

    def clear(self) -> None:
        """Blank the line and put the cursor at its start (the line is drawn again by :meth:`redraw`)."""
        with self.lock:
            if self.text:
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.flush()

    def redraw(self) -> None:
        with self.lock:
            self._draw()

    def close(self) -> None:
        """End the status line: the cursor moves to a fresh line and log lines print normally again."""
        with self.lock:
            if self.text:
                self.stream.write("\n")
                self.stream.flush()
            self.text = ""


STATUS = TerminalLine()
"""The status line of this process on stderr (only ``serve`` draws it)."""


class StatusAwareHandler(logging.StreamHandler):
    """A stderr handler that clears :data:`STATUS` before writing a record and draws it again after."""

    def __init__(self, status: TerminalLine = STATUS, stream: TextIO | None = None) -> None:
        super().__init__(stream or sys.stderr)
        self.status = status
        self._follow = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow and self.stream is not sys.stderr:
            self.setStream(sys.stderr)  # follow a replaced sys.stderr (tests, redirection)
        with self.status.lock:
            self.status.clear()
            super().emit(record)
            self.status.redraw()


def setup_logging(verbose: int = 0, quiet: int = 0, default: int = logging.WARNING) -> int:
    """Configure the root logger for a command; returns the level chosen."""
    level = level_for(verbose, quiet, default)
    handler = StatusAwareHandler()
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Third-party chatter stays at warnings unless asked for.
    for noisy in ("numba", "matplotlib", "PIL", "urllib3", "websockets"):  # websockets: "connection open"
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return level
