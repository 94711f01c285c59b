"""One worker thread: a named daemon thread and the event that stops it.

A stage's loop runs as ``while worker.running: ...`` (or ``while not worker.wait(period): ...``), sleeping in
:meth:`Worker.wait` so that :meth:`Worker.stop` ends it at once; ``stop`` sets the event and waits for the thread
up to a timeout, and says whether it ended (a thread stuck in a driver call or a long frame may not). What a loop
does with an exception in one iteration stays the loop's own (count it, log one line, go on: see
:class:`performer.runtime.meter.LoopStats`), since the stages differ in what they count and how often they say so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Worker:
    """Runs ``run(*args)`` on a daemon thread named ``name`` until :meth:`stop`; may be started again after it."""

    def __init__(self, name: str, run: Callable[..., None], *, args: tuple[Any, ...] = (),
                 timeout: float = 1.0) -> None:
        self.name = name
        self._run = run
        self._args = args
        self.timeout = timeout
        """Seconds :meth:`stop` waits for the thread by default."""
        self.stopping = threading.Event()
        """Set by :meth:`stop`; the loop ends when it sees it."""
        self.thread: threading.Thread | None = None

    def start(self, *args: Any) -> None:
        """Clear the stop and start a fresh thread (``args``, when given, replace the constructor's)."""
        self.stopping.clear()
        self.thread = threading.Thread(target=self._run, args=args or self._args, name=self.name, daemon=True)
        self.thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Tell the loop to end and wait up to ``timeout`` seconds (the worker's own by default); True when the
        thread has ended (or never started)."""
        self.stopping.set()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (the worker's own by default) for the thread; True when it has ended."""
        t = self.thread
        if t is None:
            return True
        t.join(self.timeout if timeout is None else timeout)
        return not t.is_alive()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, less if told to stop meanwhile; True when told to stop."""
        return self.stopping.wait(seconds)

    @property
    def running(self) -> bool:
        """False once :meth:`stop` was called (until the next :meth:`start`)."""
        return not self.stopping.is_set()

    @property
    def alive(self) -> bool:
        """Whether the thread is running now."""
        return self.thread is not None and self.thread.is_alive()
