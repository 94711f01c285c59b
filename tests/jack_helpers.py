"""A JACK dummy server and a JACK client that plays test sound into the engine's PortAudio capture ports.

Recipe from shared/TESTING.md: `jackd -d dummy` gives real capture through
PortAudio's JACK host API; a second client plays an array on an output port and
connects it to every PortAudio input port as it appears (from a thread: never
connect inside a JACK callback).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time

import numpy as np

JACK_RATE = 48000


class JackServer:
    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, JACK_DEFAULT_SERVER=self.name)
        self.proc = subprocess.Popen(["jackd", "-n", self.name, "-d", "dummy", "-r", str(JACK_RATE), "-p", "1024"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ok = subprocess.run(["jack_wait", "-s", self.name, "-c"], capture_output=True, text=True, env=env)
            if "running" in ok.stdout and "not" not in ok.stdout:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("jackd did not start within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def jack_available() -> bool:
    return shutil.which("jackd") is not None and shutil.which("jack_wait") is not None


class JackPlayer:
    """Plays ``audio`` (at the server's rate, looped) into every PortAudio input port that appears."""

    def __init__(self, audio: np.ndarray, name: str = "player") -> None:
        import jack

        self.audio = np.asarray(audio, dtype=np.float32)
        self.pos = 0
        self.client = jack.Client(name, no_start_server=True)
        self.port = self.client.outports.register("out")
        self._new_ports: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self.client.set_process_callback(self._process)
        self.client.set_port_registration_callback(self._registered, only_available=False)
        self.client.activate()
        for p in self.client.get_ports(is_input=True, is_audio=True):
            if p.name.startswith("PortAudio"):
                self._new_ports.put(p.name)
        self._thread = threading.Thread(target=self._connect_loop, daemon=True)
        self._thread.start()

    def _process(self, frames: int) -> None:
        buf = self.port.get_array()
        n = len(self.audio)
        idx = (np.arange(frames) + self.pos) % n
        buf[:] = self.audio[idx]
        self.pos = (self.pos + frames) % n

    def _registered(self, port, register: bool) -> None:
        if register and port.is_input and port.name.startswith("PortAudio"):
            self._new_ports.put(port.name)

    def _connect_loop(self) -> None:
        while not self._stop.is_set():
            try:
                name = self._new_ports.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self.client.connect(self.port, name)
            except Exception:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        try:
            self.client.deactivate()
            self.client.close()
        except Exception:
            pass
