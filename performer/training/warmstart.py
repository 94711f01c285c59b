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


class NewRowsOnly:
    """``performer train --init CKPT --new-rows-only``: train only the output rows of classes the checkpoint lacks.

    Every other weight stays exactly as the checkpoint had it: the feature layers (BatchNorm statistics included,
    so they run in eval mode while the new rows train) and the old classes' output rows, which are put back after
    every optimiser step (decoupled weight decay would shrink them otherwise). What the model knew of its classes
    is kept; a new class (``none``) can only take probability from them where its row says so.
    """

    def __init__(self, model: torch.nn.Module, old_classes: list[str], classes: list[str]) -> None:
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not linears or linears[-1].out_features != len(classes):
            raise ModelError("--new-rows-only: the model's last layer is not a linear layer with one row per class")
        self.out = linears[-1]
        self.keep = [k for k, c in enumerate(classes) if c in old_classes]
        if len(self.keep) == len(classes):
            raise ModelError(f"--new-rows-only: every class ({', '.join(classes)}) is already in the checkpoint; "
                             "nothing new to train")
        for p in model.parameters():
            p.requires_grad_(False)
        for p in self.out.parameters():
            p.requires_grad_(True)
        self._weight = self.out.weight.detach()[self.keep].clone()
        self._bias = self.out.bias.detach()[self.keep].clone() if self.out.bias is not None else None

    def train_mode(self, model: torch.nn.Module) -> None:
        """``model.train()``, but the frozen layers' BatchNorm keeps its statistics (dropout still trains the rows)."""
        model.train()
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()

    def restore(self) -> None:
        """Put the old classes' rows back as they were."""
        with torch.no_grad():
            self.out.weight[self.keep] = self._weight
            if self._bias is not None:
                self.out.bias[self.keep] = self._bias
