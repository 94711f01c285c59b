"""The runtime kit below every stage: a worker thread, a rate meter and error counts, a child-process channel."""

from performer.runtime.meter import LoopStats, RateMeter
from performer.runtime.worker import Worker

__all__ = ["LoopStats", "RateMeter", "Worker"]
