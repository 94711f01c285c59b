"""What a worker counts: events a second over a sliding window, and its failures.

:class:`RateMeter` is the frame-rate meter of the render loop, the output clock, every output and every video
source: events a second over the last few seconds. :class:`LoopStats` is what every worker loop's stats begin
with: ``errors`` and ``last_error``, and :meth:`LoopStats.failed`, which counts one failed iteration and says
whether the failure is new, so a loop that fails every frame writes one log line, not one a frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


class RateMeter:
    """Events a second over the last ``window`` seconds.

    ``keep``: events kept however old, so that a rate shows after a long gap (the render loop keeps two: a slow
    frame's rate is that of its own interval). The rate needs ``least`` events (2 at least)."""

    def __init__(self, window: float = 2.0, *, keep: int = 1, least: int = 2) -> None:
        self.window = window
        self.keep = keep
        self.least = max(2, least)
        self.times: deque[float] = deque()

    def add(self, t: float) -> float | None:
        """Count an event at monotonic ``t``; the rate now, or None while the window holds too few events."""
        times = self.times
        times.append(t)
        while len(times) > self.keep and t - times[0] > self.window:
            times.popleft()
        return self.rate()

    def rate(self) -> float | None:
        """Events a second over the window: intervals over their span; None with too few events or no span."""
        times = self.times
        if len(times) < self.least:
            return None
        span = times[-1] - times[0]
        return (len(times) - 1) / span if span > 0 else None

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1, lower) of the instantaneous rates between the events in the window."""
        times = list(self.times)
        rates = sorted(1.0 / max(1e-6, b - a) for a, b in zip(times, times[1:]))
        return rates[int(q * (len(rates) - 1))] if rates else 0.0


@dataclass
class LoopStats:
    """What every worker loop counts, the base of the stages' stats: iterations that failed, and the last
    failure's text."""

    errors: int = 0
    last_error: str = ""

    def failed(self, text: str) -> bool:
        """Count one failed iteration and keep its ``text``; True when the text differs from the last failure's
        (the line worth logging)."""
        self.errors += 1
        new = text != self.last_error
        self.last_error = text
        return new
