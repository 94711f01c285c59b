"""What the control pages' sets may cost: each parameter written at most once per period, newest value wins.

A page dragging a fader sends a set every ~30 ms, and a page (or twenty) can send far more. Writing each one into
the store would take the store's lock, call every subscriber (each page's echo queue, OSC out, OSCQuery) and
wake every page's session to send the echo, thousands of times a second, on the cores the renderer needs.
:class:`SetCoalescer` keeps the newest checked value of each parameter and writes them together, in one
``store.update``, at most ``rate`` times a second: a set that arrives when the last write is a period old is
written at once on the caller's thread (a lone fader move waits for nothing); later ones in the same period wait
for the coalescer's own thread, which writes whatever is newest when the period is up. So whatever the pages
send, the store sees at most ``rate`` writes a second from them, and the value a page sent last is the one that
stays. The thread exits when nothing has come for a while and starts again with the next set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from performer.params import ParamStore

log = logging.getLogger(__name__)

APPLY_RATE = 60.0
"""Store writes a second from all control pages together, at most (one write carries every parameter changed)."""
IDLE_EXIT = 2.0
"""Seconds without a set after which the coalescer's thread ends (the next set starts it again)."""


class SetCoalescer:
    """Checked values from the pages, written into ``store`` at most ``rate`` times a second (source ``page``)."""

    def __init__(self, store: ParamStore, rate: float = APPLY_RATE, *, source: str = "page",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError(f"rate {rate!r} must be > 0 writes a second")
        self.store, self.period, self.source = store, 1.0 / rate, source
        self._clock = clock
        self._lock = threading.Lock()  # the pending values, the next write's time, the thread
        self._write = threading.Lock()  # one write at a time, in the order the values were taken
        self._wake = threading.Event()
        self._pending: dict[str, Any] = {}
        self._next = -float("inf")  # when the next write may happen
        self._thread: threading.Thread | None = None
        self.offered = 0  # sets handed in
        self.writes = 0  # store writes made
        self.coalesced = 0  # sets overtaken by a newer one of the same parameter before they were written

    def offer(self, name: str, value: Any) -> None:
        """Take the newest ``value`` (already checked) of parameter ``name``; written now or within a period."""
        with self._lock:
            self.offered += 1
            if name in self._pending:
                self.coalesced += 1
            self._pending[name] = value
            now = self._clock()
            lead = now >= self._next
            if lead:
                self._next = now + self.period
            elif self._thread is None:
                self._thread = threading.Thread(target=self._run, name="control-page-sets", daemon=True)
                self._thread.start()
            if not lead:
                self._wake.set()
        if lead:
            self._flush(due=False)

    def flush(self) -> None:
        """Write whatever is pending now (a page closing, the server stopping, a test)."""
        self._flush(due=False)

    def _flush(self, due: bool) -> bool:
        """Take what is pending and write it; with ``due``, only once the period since the last write is up.
        False when it was not yet due."""
        with self._write:
            with self._lock:
                now = self._clock()
                if due and now < self._next:
                    return False
                values, self._pending = self._pending, {}
                self._next = max(self._next, now + self.period) if values else self._next
                self._wake.clear()
            if values:
                self.writes += 1
                try:
                    self.store.update(values, source=self.source)
                except Exception:  # values were checked when offered: a registry swapped under us, say
                    log.exception("control page: could not store %s", ", ".join(values))
        return True

    def _run(self) -> None:
        while True:
            if not self._wake.wait(IDLE_EXIT):
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
                continue
            with self._lock:
                delay = self._next - self._clock()
            if delay > 0:
                time.sleep(delay)
            self._flush(due=True)
