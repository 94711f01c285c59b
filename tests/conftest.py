"""Shared test helpers: where the repository and the shared data are, and how to run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The suite runs in parallel workers (pytest-xdist, pyproject's addopts) on two shared cores. OpenMP threads that
# wait for a partner spin by default, and a partner that is not running then costs the whole time slice: 30 clips
# of the shipped classifier took 14-22 s with two torch threads beside busy work, 1.8 s with the waits passive.
# Set before torch is imported here or in any command a test starts (they inherit it); an explicit value stays.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from jack_helpers import JackServer, jack_available

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA_ENV = "PERFORMER_SHARED_DATA"


def shared_data_root() -> Path:
    """The shared data folder: $PERFORMER_SHARED_DATA, else ``../shared/data`` beside the checkout."""
    value = os.environ.get(SHARED_DATA_ENV, "").strip()
    return Path(value).expanduser() if value else REPO.parent / "shared" / "data"


SHARED_DATA = shared_data_root() / "urbansound8k"


def run_cli(*args: str, timeout: float = 120, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run `performer ARGS` as a real subprocess (the console script's module entry point)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-m", "performer", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"performer {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


PORTS_READY = 20.0
"""How long a test waits for MIDI ports to be opened: about 1 s here, 1.5-2 s beside three busy processes, and
once past 5 s in CI's fresh clone with the other test worker busy. A wait returns as soon as they are there."""


def wait_until(cond, timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll ``cond`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


@pytest.fixture(scope="module")
def one_torch_thread():
    """Two torch threads on two shared, busy cores can be 50x slower than one (OpenMP spin-waits)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def cli():
    return run_cli


def require_shared_data() -> Path:
    if not (SHARED_DATA / "metadata" / "UrbanSound8K.csv").exists():
        pytest.skip(f"the shared UrbanSound8K clips are not at {SHARED_DATA} (only the development machines have "
                    f"them; set {SHARED_DATA_ENV} to the folder that holds urbansound8k/)")
    return SHARED_DATA


@pytest.fixture
def jack_server(monkeypatch):
    """A private JACK dummy server for one test (the engine's capture child process finds it by name)."""
    if not jack_available():
        pytest.skip("jackd2 is not installed (Debian: apt install jackd2); .ci/run installs it")
    name = f"performer-test-{os.getpid()}-{time.monotonic_ns() % 100000}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    server = JackServer(name)
    server.start()
    yield server
    server.stop()
