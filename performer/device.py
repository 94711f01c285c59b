"""Choosing the torch device: CUDA when there is one, then Apple's MPS, else the CPU."""

from __future__ import annotations

import logging
from typing import Literal

log = logging.getLogger(__name__)

DeviceName = Literal["auto", "cuda", "mps", "cpu"]
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cuda", "mps", "cpu")


def choose_device(name: str = "auto"):
    """Return a ``torch.device`` for ``name``; ``auto`` picks cuda, then mps, then cpu.

    Asking for a device that is not there is an error, not a quiet switch to the CPU.
    """
    import torch

    if name not in DEVICE_CHOICES:
        raise ValueError(f"device {name!r} is not one of {', '.join(DEVICE_CHOICES)}")
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
        log.info("torch device: %s (auto)", name)
    elif name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    elif name == "mps" and not has_mps:
        raise RuntimeError("device 'mps' was asked for but this torch has no Apple MPS backend; "
                           "use --device cpu or auto")
    return torch.device(name)


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads for the live engine, make the BLAS pools serial, and return torch's number.

    The renderer and the classifier call torch from two threads of one process, and each call spreads over
    the intra-op threads: on a small machine that oversubscribes the cores, and OpenMP threads then spin on
    partners that are not running (measured here: one EfficientNet-Lite0 pass took 0.9 s instead of 0.02 s).
    The default leaves one core to the other caller: ``cores - 1``, at least 1.

    The BLAS behind numpy and scipy (OpenBLAS in their wheels) gets one thread: the engine only hands it small
    products (filter banks, features), and between them a pool of its own spins, waiting for more. On the
    2-core development machine that pool took 0.8 of a core and the renderer ran at 8.8 instead of 13-14 frames
    a second (``benchmarks/osc.md``). Libraries already loaded are limited through threadpoolctl; one loaded
    later (scipy, under librosa) reads ``OPENBLAS_NUM_THREADS``, set here unless the environment sets it.
    """
    import os

    import torch
    from threadpoolctl import threadpool_limits

    n = threads if threads else max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(n)
    asked = os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    blas = int(asked) if asked.isdigit() and int(asked) > 0 else 1
    threadpool_limits(limits=blas, user_api="blas")
    log.info("torch CPU threads: %d, BLAS threads: %d", n, blas)
    return n
