"""PortAudio devices as audio sources, captured in a child process.

A device is captured in a child process (:mod:`performer.audio.capture`)
whose PortAudio callback only copies the block onto a bounded queue
(sounddevice's own advice); the child streams mono blocks over a pipe and a
pump thread here writes them into the :class:`~performer.audio.ring.AudioRing`.
Overflows are counted, never fatal; a device that disappears is reported and
reopened by name when it comes back.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from typing import Any

import numpy as np

from performer.audio.ring import AudioRing
from performer.audio.source import AudioSource
from performer.errors import AudioError
from performer.runtime.child import read_exact
from performer.runtime.worker import Worker

log = logging.getLogger(__name__)


class DeviceSource(AudioSource):
    """A PortAudio input device, by index or name, at its own rate and channel count.

    Capture runs in a child process (see :mod:`performer.audio.capture`): its
    callback copies each block onto a queue and the child streams mono blocks
    over a pipe; a pump thread here writes them into the ring. A watchdog
    notices a device that stopped delivering (unplugged, audio server gone),
    reports it, and starts a fresh child for the same device every ``retry``
    seconds until it is back. This process never loads PortAudio itself.
    """

    def __init__(self, spec: str | int | None = None, *, block: int = 1024, retry: float = 1.0,
                 stall: float = 1.0) -> None:
        super().__init__()
        self.spec = None if spec is None else str(spec)
        self.block = block
        self.retry = retry
        self.stall = stall
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump_worker = Worker("audio-pump", self._pump)
        self._watchdog = Worker("audio-watchdog", self._watch)
        self._last_block = 0.0
        self._child_overflows = 0
        info = self._spawn(self.spec)  # opens the device now, so a bad name fails at start-up
        self.device_name = info["name"]
        self.name = info["name"]
        self.rate = int(info["rate"])
        self.channels = int(info["channels"])
        self.hostapi = info["hostapi"]

    def describe(self) -> str:
        return f"{self.device_name} ({self.hostapi}, {self.rate} Hz, {self.channels} ch)"

    def _spawn(self, spec: str | None, expect_rate: int | None = None) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "performer.audio.capture", "--block", str(self.block)]
        if spec is not None:
            cmd += ["--device", spec]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        try:
            info = json.loads(line)
        except ValueError:
            info = {"error": _child_error(proc, line)}
        if "error" in info:
            _kill(proc)
            raise AudioError(info["error"])
        if expect_rate is not None and info["rate"] != expect_rate:
            _kill(proc)
            raise AudioError(f"audio input {spec!r} came back at {info['rate']} Hz instead of {expect_rate} Hz")
        self._proc = proc
        self._child_overflows = 0
        self._last_block = time.monotonic()
        return info

    def start(self, ring: AudioRing) -> None:
        if self._proc is None:
            self._spawn(self.device_name, self.rate)
        log.info("audio input open: %s", self.describe())
        self._pump_worker.start(ring)
        self._watchdog.start()

    def _pump(self, ring: AudioRing) -> None:
        # Imported here, not at the top: the child runs as `python -m performer.audio.capture`, which imports
        # this package first; capture already in sys.modules by then would make runpy warn on the child's stderr.
        from performer.audio.capture import HEADER

        worker = self._pump_worker
        while worker.running:
            proc = self._proc
            if proc is None or proc.stdout is None:
                worker.wait(0.05)
                continue
            head = read_exact(proc.stdout, HEADER.size)
            if head is None:  # the child ended; the watchdog takes over
                worker.wait(0.05)
                continue
            frames, overflows = HEADER.unpack(head)
            data = read_exact(proc.stdout, 4 * frames)
            if data is None:
                continue
            self.stats.overflows += overflows - self._child_overflows
            self._child_overflows = overflows
            self._last_block = time.monotonic()
            ring.write(np.frombuffer(data, dtype="<f4"))
            self.stats.blocks += 1

    def _watch(self) -> None:
        while not self._watchdog.wait(0.25):
            proc = self._proc
            alive = proc is not None and proc.poll() is None and time.monotonic() - self._last_block < self.stall
            if alive:
                continue
            if not self.stats.lost:
                self.stats.lost = True
                self.stats.error = f"audio input {self.device_name!r} stopped delivering sound"
                log.error("%s; rendering goes on, retrying every %.1f s", self.stats.error, self.retry)
            if proc is not None:
                self._proc = None
                _kill(proc)
            if self._watchdog.wait(self.retry):
                return
            try:
                self._spawn(self.device_name, self.rate)
            except AudioError as e:
                log.debug("reopening %s failed: %s", self.device_name, e)
                continue
            self.stats.lost = False
            self.stats.error = ""
            self.stats.reopened += 1
            log.warning("audio input %r is back (reopened %d time(s))", self.device_name, self.stats.reopened)

    def stop(self) -> None:
        self._pump_worker.stopping.set()
        self._watchdog.stopping.set()
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill(proc)
        self._pump_worker.join(1.0)
        self._watchdog.join(1.0)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        log.warning("capture process %d did not exit", proc.pid)
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            f.close()


def _child_error(proc: subprocess.Popen[bytes], line: bytes) -> str:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
    return f"the capture process failed ({err[-1] if err else line.decode(errors='replace').strip() or 'no output'})"
