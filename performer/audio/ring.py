"""The ring buffer every audio source writes into and the analysis thread reads windows from."""

from __future__ import annotations

import threading

import numpy as np


class AudioRing:
    """The last ``seconds`` of mono audio, written by one source and read by the analysis.

    ``total`` counts every sample ever written, so a reader can ask for the
    window that ends at an absolute position. With ``backpressure`` (files read
    as fast as possible) the writer waits until the reader has consumed what
    it would overwrite, so nothing is skipped.
    """

    def __init__(self, rate: int, seconds: float = 8.0, backpressure: bool = False) -> None:
        self.rate = int(rate)
        self.size = int(rate * seconds)
        self._buf = np.zeros(self.size, dtype=np.float32)
        self._total = 0
        self._consumed = 0
        self._cond = threading.Condition()
        self.backpressure = backpressure
        self._closed = False

    @property
    def total(self) -> int:
        with self._cond:
            return self._total

    def write(self, block: np.ndarray, timeout: float = 1.0) -> bool:
        """Append a mono block; returns False if back-pressure waited past ``timeout`` or the ring closed."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        n = len(block)
        if n > self.size:
            block, n = block[-self.size:], self.size
        with self._cond:
            if self.backpressure:
                ok = self._cond.wait_for(lambda: self._closed or self._total + n - self._consumed <= self.size,
                                         timeout=timeout)
                if not ok or self._closed:
                    return False
            start = self._total % self.size
            first = min(n, self.size - start)
            self._buf[start:start + first] = block[:first]
            if first < n:
                self._buf[:n - first] = block[first:]
            self._total += n
            self._cond.notify_all()
        return True

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until ``position`` samples have been written (or the ring is closed)."""
        with self._cond:
            reached = self._cond.wait_for(lambda: self._closed or self._total >= position, timeout=timeout)
            return reached and not self._closed

    def read(self, end: int, n: int) -> np.ndarray:
        """The ``n`` samples ending at absolute position ``end`` (zeros for what was never written)."""
        out = np.zeros(n, dtype=np.float32)
        with self._cond:
            end = min(end, self._total)
            start = max(end - n, self._total - self.size, 0)
            count = end - start
            if count <= 0:
                return out
            i = start % self.size
            first = min(count, self.size - i)
            out[n - count:n - count + first] = self._buf[i:i + first]
            if first < count:
                out[n - count + first:] = self._buf[:count - first]
        return out

    def consumed(self, position: int) -> None:
        """Tell a back-pressured writer that everything before ``position`` has been read."""
        with self._cond:
            self._consumed = max(self._consumed, position)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
