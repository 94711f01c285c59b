"""Audio input: PortAudio devices, sound files and a built-in demo, into one ring buffer.

Every source writes mono float32 blocks at its own rate into an
:class:`AudioRing`; the analysis thread reads windows from the ring. Devices
are captured in a child process (:mod:`performer.audio.capture`) whose
PortAudio callback only copies the block onto a bounded queue (sounddevice's
own advice). Overflows are counted, never fatal; a device that disappears is
reported and reopened by name when it comes back.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from performer.errors import AudioError

log = logging.getLogger(__name__)


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
            return self._cond.wait_for(lambda: self._closed or self._total >= position, timeout=timeout) and not self._closed

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


@dataclass
class SourceStats:
    blocks: int = 0
    overflows: int = 0
    """Blocks lost: PortAudio input overflows plus blocks dropped because the queue was full."""
    reopened: int = 0
    lost: bool = False
    error: str = ""


class AudioSource(ABC):
    """A source of mono audio at ``rate``; ``start(ring)`` begins writing, ``stop()`` ends."""

    name: str = "source"
    rate: int = 0
    realtime: bool = True
    """False for files read as fast as possible (the ring then applies back-pressure)."""

    def __init__(self) -> None:
        self.stats = SourceStats()
        self.finished = threading.Event()
        """Set when a finite source (a file without loop) has delivered everything."""

    @abstractmethod
    def start(self, ring: AudioRing) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def describe(self) -> str:
        return f"{self.name} ({self.rate} Hz)"


# ---------------------------------------------------------------------------
# Arrays: files and the demo, paced in real time or as fast as possible
# ---------------------------------------------------------------------------


class ArraySource(AudioSource):
    """Plays an array into the ring from its own thread, paced like a device or as fast as possible."""

    def __init__(self, audio: np.ndarray, rate: int, *, name: str = "array", loop: bool = False,
                 realtime: bool = True, block: int | None = None) -> None:
        super().__init__()
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 2:
            audio = audio.mean(axis=1)
        if audio.ndim != 1 or len(audio) == 0:
            raise AudioError(f"audio source {name}: expected a non-empty mono or (frames, channels) array, got shape {audio.shape}")
        self.audio = audio
        self.rate = int(rate)
        self.name = name
        self.loop = loop
        self.realtime = realtime
        self.block = block or max(64, self.rate // 100)
        """Samples per write: 10 ms by default, as a live audio interface delivers them."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = 0.0
        """Monotonic time the first sample was due: sample k is due at started_at + k / rate (real time)."""

    def start(self, ring: AudioRing) -> None:
        self._stop.clear()
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, args=(ring,), name=f"audio-{self.name}", daemon=True)
        self._thread.start()

    def _run(self, ring: AudioRing) -> None:
        pos, n = 0, len(self.audio)
        t0 = self.started_at
        played = 0
        while not self._stop.is_set():
            if pos >= n:
                if not self.loop:
                    self.finished.set()
                    return
                pos = 0
            chunk = self.audio[pos:pos + self.block]
            pos += len(chunk)
            if self.realtime:
                due = t0 + (played + len(chunk)) / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
            while not ring.write(chunk, timeout=0.2):  # back-pressure: wait for the reader
                if self._stop.is_set():
                    return
            played += len(chunk)
            self.stats.blocks += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


def file_source(path: str | Path, *, loop: bool = False, realtime: bool = True) -> ArraySource:
    """A sound file (anything libsndfile reads: WAV, FLAC, OGG, ...) as a source at its own rate."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's errors: unreadable, unknown format
        raise AudioError(f"audio file {path} cannot be read: {e}") from None
    if len(audio) == 0:
        raise AudioError(f"audio file {path} holds no samples")
    if not np.isfinite(audio).all():
        raise AudioError(f"audio file {path} holds NaN or infinite samples")
    return ArraySource(audio.mean(axis=1), rate, name=path.name, loop=loop, realtime=realtime)


DEMO_RATE = 22_050
DEMO_SCENE_SECONDS = 6.0


def demo_signal(rate: int = DEMO_RATE, scene_seconds: float = DEMO_SCENE_SECONDS, seed: int = 7) -> np.ndarray:
    """A synthetic soundscape that changes character every ``scene_seconds``.

    Scenes: a two-tone siren sweep, drill-like buzzing bursts, a steady
    air-conditioner hum, and horn blasts. The built-in demo input and the
    tests use it; what the classifier makes of synthetic sound is its own
    business, but each scene sounds different, so the picture changes.
    """
    rng = np.random.default_rng(seed)
    n = int(rate * scene_seconds)
    t = np.arange(n) / rate
    # siren: a tone sweeping 700-1400 Hz twice a second, with harmonics
    f = 1050 + 350 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f) / rate
    siren = 0.35 * (np.sin(phase) + 0.3 * np.sin(2 * phase))
    # drilling: a 180 Hz buzz amplitude-modulated at 25 Hz, in bursts
    buzz = np.sign(np.sin(2 * np.pi * 180 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 25 * t))
    bursts = (np.sin(2 * np.pi * 0.4 * t) > -0.3).astype(np.float32)
    drill = 0.25 * buzz * bursts + 0.05 * rng.standard_normal(n) * bursts
    # air conditioner: low-passed noise and mains hum
    noise = np.convolve(rng.standard_normal(n), np.ones(32) / 32, mode="same")
    hum = 0.6 * noise + 0.1 * np.sin(2 * np.pi * 60 * t) + 0.05 * np.sin(2 * np.pi * 120 * t)
    # horn: two detuned square-ish tones in blasts
    horn_env = (np.sin(2 * np.pi * 0.7 * t) > 0).astype(np.float32)
    horn = 0.2 * horn_env * np.tanh(4 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 554 * t)))
    out = np.concatenate([siren, drill, hum, horn]).astype(np.float32)
    return np.clip(out, -1.0, 1.0)


def demo_source(realtime: bool = True) -> ArraySource:
    return ArraySource(demo_signal(), DEMO_RATE, name="demo", loop=True, realtime=realtime)


# ---------------------------------------------------------------------------
# PortAudio devices
# ---------------------------------------------------------------------------


def list_input_devices() -> list[dict[str, Any]]:
    """Every PortAudio device with input channels: index, name, host API, channels, default rate."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0:
            out.append({"index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
                        "channels": d["max_input_channels"], "rate": d["default_samplerate"]})
    return out


def _sounddevice():
    try:
        import sounddevice as sd
    except OSError as e:  # the PortAudio library itself is missing
        raise AudioError(f"PortAudio is not available ({e}); install it (Debian: apt install libportaudio2)") from None
    return sd


def find_input_device(spec: str | int | None) -> dict[str, Any]:
    """The input device named by index, exact name or name substring (None: the default input)."""
    sd = _sounddevice()
    devices = list_input_devices()
    if not devices:
        asked = f"{spec!r} was asked for, but " if spec is not None else ""
        raise AudioError(f"{asked}no audio input device was found; use --input demo or --input FILE, "
                         "or connect an interface (list devices with `performer devices`)")
    if spec is None:
        default = sd.default.device[0]
        match = [d for d in devices if d["index"] == default] or devices[:1]
        return match[0]
    if isinstance(spec, int) or str(spec).isdigit():
        match = [d for d in devices if d["index"] == int(spec)]
    else:
        match = [d for d in devices if d["name"] == spec] or [d for d in devices if str(spec).lower() in d["name"].lower()]
    if not match:
        names = "; ".join(f"{d['index']}: {d['name']} ({d['hostapi']})" for d in devices)
        raise AudioError(f"no input device matches {spec!r}; inputs: {names}")
    return match[0]


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
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
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
        self._stop.clear()
        if self._proc is None:
            self._spawn(self.device_name, self.rate)
        log.info("audio input open: %s", self.describe())
        self._threads = [threading.Thread(target=self._pump, args=(ring,), name="audio-pump", daemon=True),
                         threading.Thread(target=self._watch, name="audio-watchdog", daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, ring: AudioRing) -> None:
        from performer.audio.capture import HEADER

        while not self._stop.is_set():
            proc = self._proc
            if proc is None or proc.stdout is None:
                self._stop.wait(0.05)
                continue
            head = _read_exact(proc.stdout, HEADER.size)
            if head is None:  # the child ended; the watchdog takes over
                self._stop.wait(0.05)
                continue
            frames, overflows = HEADER.unpack(head)
            data = _read_exact(proc.stdout, 4 * frames)
            if data is None:
                continue
            self.stats.overflows += overflows - self._child_overflows
            self._child_overflows = overflows
            self._last_block = time.monotonic()
            ring.write(np.frombuffer(data, dtype="<f4"))
            self.stats.blocks += 1

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
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
            if self._stop.wait(self.retry):
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
        self._stop.set()
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill(proc)
        for t in self._threads:
            t.join(timeout=1.0)


def _read_exact(f, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        log.warning("capture process %d did not exit", proc.pid)
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            f.close()


def _child_error(proc: subprocess.Popen, line: bytes) -> str:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
    return f"the capture process failed ({err[-1] if err else line.decode(errors='replace').strip() or 'no output'})"


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".opus", ".w64", ".caf")


def open_source(spec: str | None, *, loop: bool = False, realtime: bool = True) -> AudioSource:
    """``demo``, a sound file path, or a PortAudio device (index, name or name substring; None: default input)."""
    if spec == "demo":
        return demo_source(realtime=realtime)
    if spec is not None and (Path(spec).suffix.lower() in AUDIO_SUFFIXES or Path(spec).is_file()):
        return file_source(spec, loop=loop, realtime=realtime)
    return DeviceSource(spec)
