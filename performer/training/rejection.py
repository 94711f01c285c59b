"""The rejection rule of the ``none`` class: how readily the model says "none of these", fitted on held-out clips.

A ``none`` output trained on a few background categories is a boundary drawn from few examples, and where it
lies decides two errors that pull against each other: background named as a class, and a class sound named
``none``. Training alone picks that point by the share of background in the training set. Instead, after
training, one offset is added to the ``none`` logit (the output layer's bias, so every predict path and the live
engine use it without knowing): the largest offset at which the validation clips of the other classes lose at
most ``cost`` of their accuracy (a clip's class is the arg-max of its mean window probabilities, as in
:mod:`performer.training.evaluation`). The checkpoint records the offset and what it did on the validation set
(``meta["rejection"]``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from performer.sound.labels import NONE_CLASS

log = logging.getLogger(__name__)

DEFAULT_COST = 0.01
"""Validation accuracy on the other classes the offset may cost."""
OFFSETS = np.arange(6.0, -12.0001, -0.25)
"""Offsets tried, most ``none`` first."""


def clip_decisions(window_logits: np.ndarray, owners: np.ndarray, n_clips: int, none: int, offset: float) -> np.ndarray:
    """Each clip's class with ``offset`` added to the ``none`` logit: arg-max of its mean window probabilities."""
    from performer.training.calibration import softmax

    z = np.asarray(window_logits, np.float64).copy()
    z[:, none] += offset
    p = softmax(z)
    sums = np.zeros((n_clips, z.shape[1]))
    np.add.at(sums, owners, p)
    return sums.argmax(axis=1)


def fit_offset(window_logits: np.ndarray, owners: np.ndarray, labels: np.ndarray, none: int,
               cost: float = DEFAULT_COST) -> dict[str, Any]:
    """The largest offset of :data:`OFFSETS` whose loss of accuracy on the clips of the other classes is at most
    ``cost``; with what it gives (``none`` recall on the background clips, accuracy on the others)."""
    labels = np.asarray(labels)
    owners = np.asarray(owners)
    n = len(labels)
    known, background = labels != none, labels == none

    def scores(offset: float) -> tuple[float, float]:
        pred = clip_decisions(window_logits, owners, n, none, offset)
        return (float(np.mean(pred[known] == labels[known])) if known.any() else 0.0,
                float(np.mean(pred[background] == none)) if background.any() else 0.0)

    never, _ = scores(-1e4)
    chosen = float(OFFSETS[-1])
    for offset in OFFSETS:
        if scores(float(offset))[0] >= never - cost - 1e-12:
            chosen = float(offset)
            break
    accuracy, recall = scores(chosen)
    accuracy_before, recall_before = scores(0.0)
    return {"offset": chosen, "cost_allowed": cost, "clips": int(known.sum()),
            "background_clips": int(background.sum()),
            "accuracy_without_none": never, "accuracy_before": accuracy_before, "accuracy_after": accuracy,
            "none_recall_before": recall_before, "none_recall_after": recall}


def apply_offset(model: torch.nn.Module, none: int, offset: float) -> None:
    """Add ``offset`` to the ``none`` row's bias of the model's last linear layer."""
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias[none] += offset


def fit_rejection(model: torch.nn.Module, classes: list[str], labels: np.ndarray, window_probs: list[np.ndarray],
                  cost: float = DEFAULT_COST) -> dict[str, Any] | None:
    """Fit the ``none`` offset of ``model`` on validation clips (their ``labels`` and each clip's window
    probabilities, as :func:`performer.training.train.clip_probabilities` gives them), add it to the model,
    and return the block for ``meta["rejection"]``; None when there is nothing to fit."""
    labels = np.asarray(labels)
    if NONE_CLASS not in classes or not len(labels):
        return None
    none = classes.index(NONE_CLASS)
    if not np.any(labels == none) or np.all(labels == none):
        log.warning("no rejection rule fitted: the validation set needs clips of '%s' and of other classes",
                    NONE_CLASS)
        return None
    owners = np.repeat(np.arange(len(window_probs)), [len(p) for p in window_probs])
    # log-probabilities are the logits less a constant per window: adding the offset to them is the same
    log_probs = np.log(np.clip(np.concatenate(window_probs), 1e-30, None))
    block = fit_offset(log_probs, owners, labels, none, cost)
    apply_offset(model, none, block["offset"])
    log.info("'%s' offset %+.2f fitted on %d validation clips (%d background): accuracy on the other classes "
             "%.3f -> %.3f (%.3f without '%s'), background named '%s' %.3f -> %.3f", NONE_CLASS, block["offset"],
             len(labels), block["background_clips"], block["accuracy_before"], block["accuracy_after"],
             block["accuracy_without_none"], NONE_CLASS, NONE_CLASS, block["none_recall_before"],
             block["none_recall_after"])
    return block
