"""Going on with a training run: its whole state written at the end of every epoch, read back by ``--resume``.

``performer train`` writes ``<checkpoint>.resume.pt`` beside the checkpoint after each epoch: the model, the
optimiser, the learning-rate schedule, the random generators (so the resumed epochs draw the same crops and
augmentation as an uninterrupted run would), the history, the best epoch's weights, the early-stopping count, and
the command line of the run. ``performer train --resume PATH`` (that file, or the checkpoint beside it) rebuilds the
run from the stored command line and goes on at the next epoch; only ``--threads`` and ``--device`` come from the
new command line. The file is written to a temporary name and renamed, so a run stopped while it writes still has
the previous epoch's state. It is loaded weights-only, like checkpoints.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import torch

from performer.errors import ModelError

log = logging.getLogger(__name__)

SUFFIX = ".resume.pt"
FORMAT = 1
#: Options of the new command line that a resumed run takes (the machine's, not the run's).
MACHINE_OPTIONS = ("threads", "device")


def state_path(checkpoint: Path | str) -> Path:
    """Where the run state of the run writing ``checkpoint`` goes: ``model.pt`` → ``model.resume.pt``."""
    p = Path(checkpoint)
    return p if p.name.endswith(SUFFIX) else p.with_name(p.stem + SUFFIX)


def command_line(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a ``performer train`` run as plain values (what a weights-only file can hold): paths as
    strings, lists (a repeated ``--extra DIR``) item by item. An option of any other kind is refused rather than
    left out, so a resumed run never goes on without one of its options."""
    out: dict[str, Any] = {}
    for k, v in vars(args).items():
        if k in ("func", "resume") or k.startswith("_") or callable(v) or isinstance(v, argparse.ArgumentParser):
            continue  # the command's own machinery, not an option
        out[k] = _plain(k, v)
    return out


def _plain(name: str, v: Any) -> Any:
    if isinstance(v, (str, int, float, bool, type(None))):
        return v
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, (list, tuple)):
        return [_plain(name, x) for x in v]
    raise ModelError(f"--resume: the option {name!r} ({type(v).__name__}) cannot be stored in the run state")


def save(path: Path, args: dict[str, Any], loop: dict[str, Any]) -> None:
    """Write the run state atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "args": args, "loop": loop}, tmp)
    os.replace(tmp, path)


def load(path: Path | str) -> dict[str, Any]:
    """Read a run state written by :func:`save`; a clear :class:`ModelError` when it is missing or not one."""
    p = state_path(path)
    if not p.is_file():
        raise ModelError(f"--resume {path}: no run state at {p} (a training run writes <checkpoint>{SUFFIX} "
                         "after every epoch)")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: name it, whatever the unpickler raised
        raise ModelError(f"--resume {p}: not a readable run state ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT or not {"args", "loop"} <= set(state):
        raise ModelError(f"--resume {p}: not a run state of this version (expected format {FORMAT})")
    return state


def resumed_args(state: dict[str, Any], now: argparse.Namespace) -> argparse.Namespace:
    """The stored command line, with the machine options (threads, device) of ``now``."""
    values = dict(state["args"])
    for k in MACHINE_OPTIONS:
        if hasattr(now, k):
            values[k] = getattr(now, k)
    return argparse.Namespace(**values)


def restore_generators(loop: dict[str, Any], generators: list[Any]) -> None:
    """Put the numpy generators and torch's CPU generator back where the stored epoch left them."""
    for g, s in zip(generators, loop["rng"]):
        g.bit_generator.state = s
    torch.set_rng_state(loop["torch_rng"])
