"""The rejection rule of the ``none`` class: how readily the model says "none of these", fitted on held-out clips.

A ``none`` output trained on a few background categories is a boundary drawn from few examples, and where it
lies decides two errors that pull against each other: background named as a class, and a class sound named
``none``. Training alone picks that point by the share of background in the training set. Instead, after
training, one offset is added to the ``none`` logit (the output layer's bias, so every predict path and the live
engine use it without knowing): the largest offset at which the validation clips of the other classes lose at
most ``cost`` of their accuracy (a clip's class is the arg-max of its mean window probabilities, as in
:mod:`performer.training.evaluation`). The checkpoint records the offset and what it did on the validation set
(``meta["rejection"]``).

That rule reads clips of the same recordings and sources the model trained on, so it cannot see what ``none``
costs on sound from elsewhere, and where a trained row draws its line moves from one training seed to the next.
``performer reject`` (:func:`reject_from_args`) refits the offset of a trained checkpoint on sound held out of
its training: background categories it never heard (they should be ``none``) and recordings of its classes from
sources it never heard (they should keep their class). :func:`fit_balanced` weighs the two alike: the offset
that maximises the share of that background named ``none`` plus the share of the source clips named right
without ``none`` that are still named right with it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from performer.errors import DataError, ModelError
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


def fit_balanced(source_logp: np.ndarray, source_owners: np.ndarray, source_labels: np.ndarray,
                 background_logp: np.ndarray, background_owners: np.ndarray, none: int,
                 ceiling: float | None = None) -> dict[str, Any]:
    """The offset of :data:`OFFSETS` (added to the ``none`` log-probability of every window), at most ``ceiling``
    where given, that maximises ``none`` recall on the background clips plus the share of the source clips named
    right without ``none`` that are still named right; where several tie, the middle one. Window arrays are
    ``(windows, classes)``."""
    source_labels = np.asarray(source_labels)
    n_source, n_background = len(source_labels), int(np.max(background_owners)) + 1

    def right(offset: float) -> np.ndarray:
        return clip_decisions(source_logp, source_owners, n_source, none, offset) == source_labels

    base = right(-1e4)
    if not base.any():
        raise DataError(f"none of the {n_source} source clips is named right even without '{NONE_CLASS}': "
                        "they cannot show what saying it costs; choose recordings of the model's classes")

    def figures(offset: float) -> tuple[float, float]:
        kept = float(np.mean(right(offset)[base]))
        named_none = float(np.mean(clip_decisions(background_logp, background_owners, n_background, none,
                                                  offset) == none))
        return kept, named_none

    offsets = OFFSETS if ceiling is None else OFFSETS[OFFSETS <= ceiling + 1e-9]
    scores = np.array([sum(figures(float(o))) for o in offsets])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    chosen = float(offsets[best[len(best) // 2]])
    kept, named_none = figures(chosen)
    kept_before, none_before = figures(0.0)
    return {"offset": chosen, "rule": "balanced", "source_clips": n_source, "background_clips": n_background,
            "source_right_without_none": float(np.mean(base)),
            "source_kept_before": kept_before, "source_kept_after": kept,
            "none_recall_before": none_before, "none_recall_after": named_none}


def last_linear(model: torch.nn.Module) -> tuple[str, torch.nn.Linear]:
    """The name and module of the model's last linear layer: the output layer, whose bias carries the offset."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1]


def apply_offset(model: torch.nn.Module, none: int, offset: float) -> None:
    """Add ``offset`` to the ``none`` row's bias of the model's last linear layer."""
    _, last = last_linear(model)
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


# -- performer reject ------------------------------------------------------------------------------------------

def _held_out(clf: Any, ds: Any, args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window log-probabilities, each window's clip and each clip's class index (the model's) of ``ds``."""
    from performer.training import datasets as D
    from performer.training.outside import window_probs

    ms = D.compute_mels(ds, clf.settings, args.cache, args.skip_bad)
    probs = window_probs(clf, ms)
    owners = np.repeat(np.arange(len(probs)), [len(p) for p in probs])
    labels = np.array([clf.classes.index(ds.classes[int(k)]) for k in ms.labels])
    return np.log(np.clip(np.concatenate(probs), 1e-30, None)), owners, labels


def reject_from_args(args) -> dict[str, Any]:
    """``performer reject``: refit the ``none`` offset of a checkpoint on held-out sources and background
    categories (:func:`fit_balanced`) and write a copy of the checkpoint carrying it in the ``none`` bias."""
    from performer.classifier import Classifier
    from performer.classifier.checkpoint import rewrite_checkpoint
    from performer.training import manifests as MF
    from performer.training.outside import pick, sources_of

    model_path = Path(args.model)
    out = Path(args.out) if args.out else model_path.with_name(f"{model_path.stem}_none{model_path.suffix or '.pt'}")
    if out.exists() and not args.force:
        raise ModelError(f"{out} already exists; pass --force to replace it or choose another --out")
    torch.set_num_threads(max(1, int(args.threads)))
    clf = Classifier.from_checkpoint(model_path, device=args.device)
    if NONE_CLASS not in clf.classes:
        raise DataError(f"{model_path} has no '{NONE_CLASS}' class ({', '.join(clf.classes)}): there is no "
                        "offset to fit; train it with --background")
    if clf.model_name == "ensemble":
        raise ModelError(f"{model_path} is an ensemble, whose output is its members' mean probabilities: refit "
                         "each member, then combine them")
    sources = sources_of(clf, args.extra, args.sources, args.skip_bad)
    background = pick(MF.load_background(args.background, skip_bad=args.skip_bad), args.categories, "categories")
    src_logp, src_owners, src_labels = _held_out(clf, sources, args)
    bg_logp, bg_owners, _ = _held_out(clf, background, args)
    none = clf.classes.index(NONE_CLASS)
    trained = dict(clf.meta.get("rejection") or {})
    # the training run's rule set the most 'none' its validation clips allow (their accuracy may fall by at most
    # its cost): a refit may make 'none' rarer, never more eager than that
    ceiling = 0.0 if "cost_allowed" in trained else None
    fit = fit_balanced(src_logp, src_owners, src_labels, bg_logp, bg_owners, none, ceiling)
    # the offset is fitted on log-probabilities, softmax(logits / T): in the logits it is T times as large
    shift = fit["offset"] * clf.temperature
    apply_offset(clf.model, none, shift)
    last, layer = last_linear(clf.model)
    block = {**fit, "ceiling": ceiling, "logit_shift": shift, "temperature": clf.temperature,
             "offset_total": float(trained.get("offset_total") or trained.get("offset") or 0.0) + shift,
             "sources": sorted({c.source or "" for c in sources.clips}),
             "categories": sorted({c.source or "" for c in background.clips}),
             "extra": str(Path(args.extra).resolve()), "background": str(Path(args.background).resolve()),
             "trained": trained, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rewrite_checkpoint(model_path, out, {"rejection": block}, {f"{last}.bias": layer.bias})
    log.info("'%s' offset %+.2f fitted on %d source clips (%s) and %d background clips (%s): source clips kept "
             "%.3f -> %.3f, background named '%s' %.3f -> %.3f; written to %s", NONE_CLASS, fit["offset"],
             fit["source_clips"], ", ".join(block["sources"]), fit["background_clips"],
             ", ".join(block["categories"]), fit["source_kept_before"], fit["source_kept_after"], NONE_CLASS,
             fit["none_recall_before"], fit["none_recall_after"], out)
    return {**block, "model": str(model_path), "checkpoint": str(out)}
