"""Running a `performer` command with stderr on a pseudo-terminal (so it draws what it draws for a person), and
the small preset the command-line tests serve with."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from conftest import REPO

SMALL_PRESET = """format = 1
name = "small"

[params.classifier]
window = 1.0
hop = 0.1

[params.dream]
iterations = 1
width = 64
height = 64

[params.output]
fps = 8.0
"""


def on_a_terminal(args: list[str], timeout: float = 180) -> tuple[int, str, str]:
    """Run `python -m performer ARGS` with stderr on a pseudo-terminal; returns (exit code, stdout, terminal)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "performer", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, text=True,
                            env={k: v for k, v in os.environ.items() if k != "COLUMNS"})
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(5)
        os.close(master)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")
