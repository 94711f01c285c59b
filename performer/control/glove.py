"""The flex-sensor glove: serial or OSC readings, calibrated per finger, as modulation sources.

A glove is an Arduino-style board sending one line of N comma-separated
readings per sample (50-100 Hz), e.g. ``512,498,733,701,655``; or any sender
of ``/glove/flex f f f f f`` over OSC. Each finger is calibrated between its
open-hand and fist readings (``performer glove calibrate``), smoothed, and
published as ``glove.1`` .. ``glove.N`` (0 open .. 1 bent) plus ``glove.fist``,
the mean of the fingers, which the default preset ties to the dream's intensity.
Partial lines and garbage are counted and skipped, never fatal.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from performer.runtime import Worker

log = logging.getLogger(__name__)


@dataclass
class Calibration:
    """Raw readings of each finger with the hand open and closed in a fist."""

    open: list[float]
    fist: list[float]

    def __post_init__(self) -> None:
        if len(self.open) != len(self.fist) or not self.open:
            raise ValueError("calibration needs as many open as fist readings, "
                             f"got {len(self.open)} and {len(self.fist)}")

    def normalize(self, raw: Sequence[float]) -> list[float]:
        out = []
        for i, r in enumerate(raw):
            if i >= len(self.open):
                break
            lo, hi = self.open[i], self.fist[i]
            out.append(0.0 if hi == lo else min(1.0, max(0.0, (r - lo) / (hi - lo))))
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"open": self.open, "fist": self.fist}, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        try:
            data = json.loads(Path(path).read_text())
            return cls([float(x) for x in data["open"]], [float(x) for x in data["fist"]])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"glove calibration {path} is unreadable ({e}); "
                             "expected JSON {\"open\": [...], \"fist\": [...]} "
                             "from `performer glove calibrate`") from None

    @classmethod
    def default(cls, fingers: int) -> Calibration:
        """10-bit ADC readings spanning the whole range: use until the glove is calibrated."""
        return cls([0.0] * fingers, [1023.0] * fingers)


def parse_line(line: str | bytes, fingers: int) -> list[float] | None:
    """The readings on one line, or None for a partial or garbled line."""
    if isinstance(line, bytes):
        line = line.decode("ascii", errors="replace")
    parts = line.strip().split(",")
    if len(parts) != fingers:
        return None
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


class Glove:
    """Turns raw readings into calibrated, smoothed sources in ``sources`` (the engine's extra_sources)."""

    def __init__(self, sources: MutableMapping[str, float], *, fingers: int = 5,
                 calibration: Calibration | None = None, smoothing: float = 0.05) -> None:
        self.sources = sources
        self.fingers = fingers
        self.calibration = calibration or Calibration.default(fingers)
        self.smoothing = smoothing
        self.samples = 0
        self.bad_lines = 0
        self._state: list[float] | None = None
        self._last = 0.0
        self.raw: list[float] = []
        """The latest raw readings, one per finger, before calibration."""

    def feed(self, raw: Sequence[float]) -> None:
        """One sample of raw readings (from serial or OSC)."""
        if len(raw) != self.fingers:
            self.bad_lines += 1
            return
        self.raw = list(raw)
        x = self.calibration.normalize(raw)
        now = time.monotonic()
        if self._state is not None and self.smoothing > 0:
            a = 1.0 - math.exp(-(now - self._last) / self.smoothing)
            x = [s + a * (v - s) for s, v in zip(self._state, x)]
        self._state, self._last = x, now
        for i, v in enumerate(x, start=1):
            self.sources[f"glove.{i}"] = v
        self.sources["glove.fist"] = sum(x) / len(x)
        self.samples += 1

    def feed_line(self, line: str | bytes) -> None:
        values = parse_line(line, self.fingers)
        if values is None:
            self.bad_lines += 1
            return
        self.feed(values)

    def values(self) -> dict[str, float]:
        """The published sources: ``glove.1`` .. ``glove.N`` (0 open .. 1 bent) and ``glove.fist``; empty until
        the first reading."""
        state = self._state
        if state is None:
            return {}
        out = {f"glove.{i}": round(float(v), 4) for i, v in enumerate(state, start=1)}
        out["glove.fist"] = round(sum(state) / len(state), 4)
        return out

    def stats(self) -> dict[str, object]:
        """Counters and the latest readings, for ``--stats``, status queries and OSC out."""
        age = round(time.monotonic() - self._last, 3) if self._state is not None else None
        return {"fingers": self.fingers, "samples": self.samples, "bad_lines": self.bad_lines,
                "last_sample_age_s": age, "raw": [round(float(r), 2) for r in self.raw], "values": self.values()}


class SerialGlove:
    """Reads a glove on a serial port in its own thread; a port that vanishes is reopened when it returns."""

    def __init__(self, glove: Glove, port: str, baud: int = 115200, retry: float = 1.0) -> None:
        self.glove = glove
        self.port = port
        self.baud = baud
        self.retry = retry
        self.connected = False
        self._worker = Worker("glove", self._run, timeout=1.5)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        import serial

        reported = False
        while self._worker.running:
            try:
                with serial.Serial(self.port, self.baud, timeout=0.2) as ser:
                    self.connected, reported = True, False
                    log.info("glove connected on %s at %d baud", self.port, self.baud)
                    buf = b""
                    while self._worker.running:
                        chunk = ser.read(256)
                        if not chunk:
                            continue
                        buf += chunk
                        *lines, buf = buf.split(b"\n")
                        for line in lines:
                            self.glove.feed_line(line)
                        if len(buf) > 4096:  # no newline in sight: garbage
                            self.glove.bad_lines += 1
                            buf = b""
            except (OSError, serial.SerialException) as e:
                self.connected = False
                if not reported:
                    log.error("glove on %s unavailable (%s); retrying every %.1f s", self.port, e, self.retry)
                    reported = True
                self._worker.wait(self.retry)


def calibrate(read_sample: Callable[[], list[float] | None], *, seconds: float = 3.0, pause: float = 2.0,
              say: Callable[[str], None] = print) -> Calibration:
    """Record the open hand, then the fist, averaging the readings of each phase.

    Before each phase the hand gets ``pause`` seconds to get there, counted down;
    the readings of that time (the hand moving) are read and thrown away, so the
    averages hold only the held pose.
    """
    phases = []
    for what, pose in (("Open your hand and relax it", "open hand"), ("Now close your hand into a tight fist", "fist")):
        if pause > 0:
            say(f"{what}; recording starts in {pause:g} s...")
            _discard(read_sample, pause, say)
        say(f"Recording the {pose}: hold it ({seconds:g} s)...")
        readings = _record(read_sample, seconds)
        if not readings:
            raise ValueError(f"no glove readings arrived in {seconds:g} s; check the port and the baud rate")
        n = len(readings[0])
        phases.append([sum(r[i] for r in readings) / len(readings) for i in range(n)])
    say("Done.")
    return Calibration(phases[0], phases[1])


def _record(read_sample: Callable[[], list[float] | None], seconds: float) -> list[list[float]]:
    readings = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sample = read_sample()
        if sample is not None:
            readings.append(sample)
    return readings


def _discard(read_sample: Callable[[], list[float] | None], seconds: float, say: Callable[[str], None]) -> None:
    """Read (and drop) samples for ``seconds``, counting down the whole seconds left."""
    end = time.monotonic() + seconds
    announced = math.ceil(seconds)
    while (left := end - time.monotonic()) > 0:
        if math.ceil(left) < announced:
            announced = math.ceil(left)
            say(f"{announced}...")
        read_sample()
