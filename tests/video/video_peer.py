"""Test helpers for video in: a real NDI sender on loopback sending a known picture, and test pictures."""

from __future__ import annotations

import threading
import time

import numpy as np

from performer.outputs import FrameInfo, NDIOutput


def picture(h: int = 180, w: int = 320, flip: bool = False) -> np.ndarray:
    """A smooth picture (NDI's compression keeps it well) far from any dream: red to the left, cyan to the right,
    a vertical brightness ramp; ``flip`` swaps the sides."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    left = (x < w / 2) if not flip else (x >= w / 2)
    ramp = 0.6 + 0.4 * y / max(1, h - 1)
    img = np.where(left[..., None], np.array([230, 30, 40], np.float32), np.array([20, 200, 220], np.float32))
    return (img * ramp[..., None]).clip(0, 255).astype(np.uint8)


class Sender:
    """An NDI sender (Performer's own NDI output) sending ``image`` at ``fps`` from its own thread."""

    def __init__(self, name: str, image: np.ndarray, fps: float = 30.0) -> None:
        self.out = NDIOutput("test-sender", sender=name, fps=fps)
        self.image = image
        self.fps = fps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sender:
        self.out.open()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def full_name(self) -> str:
        return self.out.source_name

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            self.out.send(self.image, FrameInfo(n, n / self.fps))
            time.sleep(1.0 / self.fps)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.out.close()


def error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pictures of the same size (0..255)."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())
