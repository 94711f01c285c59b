"""When a control message arrived, for what it sets off: a tap is a beat at the moment it was played.

Controllers apply what they receive later than it arrived (OSC is read in a child process and applied in
batches; MIDI is read by a polling thread), and under the renderer's load that is tens of milliseconds later.
A controller that knows when a message arrived applies it inside ``with arrived(t):``; store subscribers
called on that thread (the store calls them synchronously) read it with :func:`arrival`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def arrived(t: float | None) -> Iterator[None]:
    """Changes made on this thread inside the block came from a message that arrived at ``t`` (monotonic
    seconds; None: unknown)."""
    before = getattr(_local, "t", None)
    _local.t = t
    try:
        yield
    finally:
        _local.t = before


def arrival(default: float) -> float:
    """The arrival time of the message being applied on this thread, or ``default`` when none was given."""
    t = getattr(_local, "t", None)
    return default if t is None else t
