"""Training on several processes: ``torchrun --nproc_per_node=N -m performer train ...`` (DistributedDataParallel).

torchrun starts N copies of the command and tells each its place through the environment (``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). :func:`session` reads it: without torchrun it gives
:data:`SINGLE` and never touches :mod:`torch.distributed`, so a plain ``performer train`` is one process as
before; under torchrun it joins the process group (nccl with each rank on ``cuda:LOCAL_RANK``, gloo on the CPU)
and leaves it at the end.

How :func:`performer.training.train.fit` shares the work (``--batch-size`` is per process, so the global
batch is N times it and the learning-rate schedule counts the per-process steps):

* every rank draws the same permutation of the training clips each epoch, and the same crops, from a generator
  seeded with ``--seed``; each step takes the next ``batch_size * N`` clips (a global batch) and each rank trains
  on its interleaved share (:func:`shard`), so one epoch still sees every clip once;
* the rest of the augmentation (gain, band limit, EQ, background, SpecAugment, mixup) and dropout draw from
  per-rank generators seeded from ``(seed, rank)``: different on every rank, the same on every run;
* DistributedDataParallel averages the gradients; each rank's loss is scaled by its share of the global batch
  (:func:`loss_scale`), so a short last batch weighs its clips as one process would;
* the epoch's loss and accuracy counters and the validation (each rank scores its share of the clips) are summed
  over the ranks (:func:`all_sum`); rank 0's decision (better epoch or not) is broadcast (:func:`agree`), so early
  stopping happens on every rank at once; only rank 0 logs progress, writes checkpoints and figures and prints
  the result; the other ranks log warnings only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from performer.errors import ModelError

log = logging.getLogger(__name__)

#: The environment variables torchrun sets in every process it starts.
TORCHRUN_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK")

#: How long a rank waits for the others at a collective. Generous, because rank 0 computes (and caches) the
#: log-mels of the whole data set while the others wait; a rank that fails is ended by torchrun anyway.
TIMEOUT = timedelta(hours=3)


@dataclass(frozen=True)
class Context:
    """This process's place in the training run."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str | None = None
    """``nccl`` or ``gloo`` under torchrun, None for one plain process."""

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, writes the checkpoint and prints the result."""
        return self.rank == 0

    def describe(self) -> dict[str, Any]:
        """What the checkpoint's ``training`` block records."""
        return {"world_size": self.world_size, "backend": self.backend}


SINGLE = Context()
"""One plain process (no torchrun)."""


def torchrun_env(environ: Mapping[str, str] | None = None) -> tuple[int, int, int] | None:
    """``(world_size, rank, local_rank)`` when torchrun started this process, else None."""
    env = os.environ if environ is None else environ
    if not all(env.get(k) for k in TORCHRUN_VARIABLES):
        return None
    try:
        world, rank, local = (int(env[k]) for k in TORCHRUN_VARIABLES)
    except ValueError:
        raise ModelError("torchrun's environment is malformed: WORLD_SIZE, RANK and LOCAL_RANK must be whole "
                         f"numbers, got {', '.join(f'{k}={env[k]!r}' for k in TORCHRUN_VARIABLES)}") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ModelError(f"torchrun's environment is inconsistent: WORLD_SIZE={world}, RANK={rank}, "
                         f"LOCAL_RANK={local}; RANK must be from 0 to WORLD_SIZE - 1")
    return world, rank, local


def _device_for(name: str, local_rank: int):
    import torch

    from performer.device import choose_device

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "mps":
        raise ModelError("training under torchrun runs on CUDA GPUs (nccl) or the CPU (gloo), not on mps; "
                         "use --device cuda or --device cpu")
    try:
        device = choose_device(name)
    except RuntimeError as e:
        raise ModelError(str(e)) from e
    if device.type != "cuda":
        return device, "gloo"
    if local_rank >= torch.cuda.device_count():
        raise ModelError(f"torchrun started process LOCAL_RANK={local_rank} but torch sees "
                         f"{torch.cuda.device_count()} CUDA GPU(s) here; start at most that many processes per "
                         "machine (--nproc_per_node) or use --device cpu")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank), "nccl"


def _import_before_joining() -> None:
    """Import ``torch._dynamo``, which DistributedDataParallel imports lazily, before the process group exists.

    DDP's first construction imports ``torch._dynamo`` (hundreds of modules), and that import, when a default
    process group already exists, takes ten references to it that are never released (torch 2.14; which of the
    modules holds them is not pinned down, they are not visible to the garbage collector). The
    group then outlives :func:`torch.distributed.destroy_process_group`, so its gloo worker threads are never
    joined and live on into interpreter shutdown. A worker that is still dropping its last collective (the
    broadcast of :func:`agree`) when ``Py_FinalizeEx`` starts must take the GIL to release the tensor's Python
    object, is made to exit by the finalizing interpreter, and the unwind through the work's destructor ends in
    ``terminate called without an active exception`` (SIGABRT; seen on rank 1, which exits while rank 0 still
    writes). Imported first, nothing holds the group: destroying it joins the worker threads while the
    interpreter is whole.
    """
    import importlib

    importlib.import_module("torch._dynamo")


@contextmanager
def session(device_name: str = "auto", environ: Mapping[str, str] | None = None) -> Iterator[tuple[Context, Any]]:
    """``(context, torch device)`` for the run: one plain process without torchrun, else this rank's place in the
    joined process group (left again on exit)."""
    env = torchrun_env(environ)
    if env is None:
        from performer.device import choose_device

        try:
            device = choose_device(device_name)
        except RuntimeError as e:
            raise ModelError(str(e)) from e
        yield SINGLE, device
        return
    import torch.distributed as dist

    world, rank, local = env
    device, backend = _device_for(device_name, local)
    if rank != 0:  # one log for the run: rank 0's; the others report warnings and errors only
        root = logging.getLogger()
        root.setLevel(max(root.level, logging.WARNING))
    _import_before_joining()
    dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)
    ctx = Context(world_size=dist.get_world_size(), rank=dist.get_rank(), local_rank=local, backend=backend)
    if ctx.world_size != world or ctx.rank != rank:
        raise ModelError(f"the process group has {ctx.world_size} ranks (this one {ctx.rank}), but torchrun said "
                         f"WORLD_SIZE={world}, RANK={rank}")
    log.info("rank %d of %d (%s) on %s", rank, world, backend, device)
    try:
        yield ctx, device
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@contextmanager
def rank_zero_first(ctx: Context) -> Iterator[None]:
    """Rank 0 runs the body before the others (it fills the log-mel cache that they then read)."""
    if not ctx.distributed:
        yield
        return
    import torch.distributed as dist

    if not ctx.is_main:
        try:
            dist.barrier()
        except RuntimeError as e:  # rank 0 failed (its error says why) and closed the connection
            raise ModelError(f"rank {ctx.rank}: rank 0 stopped before the training data were ready; its error "
                             f"is the one to read ({str(e).splitlines()[0][:120]})") from e
    yield
    if ctx.is_main:
        dist.barrier()


def rngs(seed: int, ctx: Context) -> tuple[np.random.Generator, np.random.Generator]:
    """``(shared, own)``: the generator of the epochs' order and crops (the same on every rank) and this rank's
    augmentation generator. One process uses one generator for both, as it always has."""
    shared = np.random.default_rng(seed)
    if not ctx.distributed:
        return shared, shared
    return shared, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ctx.rank,)))


def shard(n: int, ctx: Context) -> np.ndarray:
    """This rank's positions among ``n`` (interleaved: ``rank, rank + N, ...``); shares differ by one at most."""
    return np.arange(ctx.rank, n, ctx.world_size)


def loss_scale(n_local: int, n_global: int, ctx: Context) -> float:
    """Factor of this rank's mean loss such that DDP's average of the gradients is the global batch's mean."""
    return n_local * ctx.world_size / n_global if ctx.distributed else 1.0


def wrap(model: Any, ctx: Context, device: Any) -> Any:
    """``model`` in DistributedDataParallel under torchrun (it starts from rank 0's weights), else itself."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def all_sum(values: Sequence[float], ctx: Context, device: Any) -> list[float]:
    """``values`` summed over the ranks (float64), the same on every rank."""
    if not ctx.distributed:
        return [float(v) for v in values]
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(v) for v in t.cpu()]


def agree(value: Any, ctx: Context) -> Any:
    """Rank 0's ``value`` (a small picklable decision) on every rank."""
    if not ctx.distributed:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sync_buffers(model: Any, ctx: Context) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank, before validating."""
    if not ctx.distributed:
        return
    import torch.distributed as dist

    for buf in model.buffers():
        dist.broadcast(buf, src=0)
