"""Starting a training run from a trained checkpoint (``performer train --init CKPT``).

Fine-tuning keeps what a model already knows: every weight whose shape matches is copied, and the output layer's
rows are copied by class name, so a model can learn a new class (e.g. ``none``) or new data without starting from
nothing. Classes the checkpoint does not have start from the fresh layer's random rows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from performer.errors import ModelError

log = logging.getLogger(__name__)


def init_config(path: Path | str, model: str, width: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checkpoint's (state, meta) and the model config a run must use to start from it."""
    from performer.classifier.checkpoint import load_checkpoint

    net, meta = load_checkpoint(path)
    if meta.get("model") != model:
        raise ModelError(f"--init {path}: it is a {meta.get('model')!r} model, not {model!r}; pass --model "
                         f"{meta.get('model')}")
    config = dict(meta.get("model_config") or {})
    if width is not None and int(config.get("width", width)) != int(width):
        raise ModelError(f"--init {path}: its width is {config.get('width')}, not {width}; leave out --width")
    return net.state_dict(), meta


def warm_start(model: torch.nn.Module, state: dict[str, torch.Tensor], old_classes: list[str],
               classes: list[str]) -> dict[str, Any]:
    """Copy ``state`` into ``model``: matching shapes as they are, output rows by class name. Returns a summary."""
    own = model.state_dict()
    copied, by_class = 0, []
    for key, value in own.items():
        old = state.get(key)
        if old is None:
            continue
        if old.shape == value.shape and (old.dim() == 0 or old.shape[0] != len(old_classes)
                                         or len(old_classes) == len(classes)):
            own[key] = old.to(value.dtype)
            copied += 1
        elif old.dim() >= 1 and old.shape[0] == len(old_classes) and value.shape[0] == len(classes) \
                and old.shape[1:] == value.shape[1:]:
            rows = value.clone()
            for k, name in enumerate(classes):
                if name in old_classes:
                    rows[k] = old[old_classes.index(name)].to(value.dtype)
            own[key] = rows
            by_class.append(key)
    if not copied:
        raise ModelError("--init: no weight of the checkpoint fits this model")
    model.load_state_dict(own)
    new = [c for c in classes if c not in old_classes]
    log.info("started from a checkpoint: %d tensors copied, output rows copied by class (%s)%s", copied,
             ", ".join(by_class) or "none", f"; new classes: {', '.join(new)}" if new else "")
    return {"tensors": copied, "by_class": by_class, "new_classes": new}
