"""What a training run learns from and what it keeps aside: the sets, their splits and their log-mels.

The main set (UrbanSound8K or a folder per class) is split as before: training folds and a validation fold, or
(``val_fold=0``, or a folder-per-class set) a held-out fraction of the training recordings, so that a whole
official fold can stay untouched for testing. Extra sets (manifests, see :mod:`performer.training.manifests`)
add clips of the same or new classes; background adds the class ``none`` and the room noise mixed into
training windows. Named sources and background categories are held out: they never reach training or
validation, and stay for measuring the model on sound it never heard. Splits keep recordings (``group``) and
sources whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from performer.errors import DataError
from performer.sound.features import DEFAULT_SETTINGS, FeatureSettings
from performer.sound.labels import NONE_CLASS
from performer.training import datasets as D
from performer.training import manifests as MF

log = logging.getLogger(__name__)


@dataclass
class TrainingSets:
    classes: list[str]
    train: D.MelSet
    val: D.MelSet | None
    noise: D.MelSet | None
    """Background windows mixed into training windows (the training part of the background)."""
    description: dict[str, Any] = field(default_factory=dict)
    """What went in and what was held out, for the checkpoint's metadata and the model card."""


def split_main(ds: D.Dataset, folds: list[int] | None, val_fold: int | None, val_fraction: float, seed: int):
    """Split the main set into (train, validation, train folds, validation folds)."""
    if ds.layout != "urbansound8k":
        if folds is not None:
            raise DataError(f"{ds.root} is a folder-per-class set, which has no folds; "
                            "use --val-fraction instead of --folds")
        train, val = D.split_holdout(ds, val_fraction, seed)
        return train, val, None, None
    present = ds.folds
    if val_fold == 0:  # no validation fold: a held-out fraction of the training folds' recordings
        folds = folds or present
        train, val = D.split_holdout(ds.select_folds(folds), val_fraction, seed)
        return train, val, folds, []
    if folds is None and val_fold is None:
        val_fold = present[-1]
    if val_fold is None:
        after = [f for f in present if f > max(folds)] if folds else []
        rest = [f for f in present if f not in (folds or [])]
        val_fold = after[0] if after else (rest[-1] if rest else None)
    if folds is None:
        folds = [f for f in present if f != val_fold]
    if val_fold in folds:
        raise DataError(f"validation fold {val_fold} is also a training fold ({folds}); a fold is never split")
    val = ds.select_folds([val_fold]) if val_fold is not None else ds.subset([])
    return ds.select_folds(folds), val, folds, [val_fold] if val_fold is not None else []


def concat(sets: list[D.MelSet]) -> D.MelSet | None:
    """One MelSet of several (clips in order)."""
    sets = [s for s in sets if len(s)]
    if not sets:
        return None
    offsets, base = [np.zeros(1, np.int64)], 0
    for s in sets:
        offsets.append(s.offsets[1:] + base)
        base += int(s.offsets[-1])
    return D.MelSet(np.concatenate([s.mels for s in sets], axis=1), np.concatenate(offsets).astype(np.int64),
                    np.concatenate([s.labels for s in sets]), np.concatenate([s.folds for s in sets]),
                    [p for s in sets for p in s.paths])


class _Mels:
    """The log-mels of whole sets, computed (or read from the cache) once each, then selected by clip."""

    def __init__(self, settings: FeatureSettings, cache: Path, skip_bad: bool) -> None:
        self.settings, self.cache, self.skip_bad = settings, cache, skip_bad
        self._sets: dict[str, tuple[D.MelSet, dict[str, int]]] = {}

    def of(self, whole: D.Dataset, part: D.Dataset, classes: list[str]) -> D.MelSet:
        key = str(whole.root)
        if key not in self._sets:
            ms = D.compute_mels(whole, self.settings, self.cache, self.skip_bad)
            self._sets[key] = (ms, {p: i for i, p in enumerate(ms.paths)})
        ms, index = self._sets[key]
        sel = ms.select([index[str(c.path)] for c in part.clips if str(c.path) in index])
        remap = np.asarray([classes.index(c) for c in whole.classes], np.int64)
        return D.MelSet(sel.mels, sel.offsets, remap[sel.labels], sel.folds, sel.paths)


def build(data: str | Path, *, folds: list[int] | None = None, val_fold: int | None = None,
          val_fraction: float = 0.2, extra: list[str | Path] | None = None, background: str | Path | None = None,
          hold_out_sources: list[str] | None = None, hold_out_background: list[str] | None = None,
          skip_bad: bool = False, seed: int = 0, cache: Path | None = None, limit: int | None = None,
          settings: FeatureSettings = DEFAULT_SETTINGS) -> TrainingSets:
    cache = cache or Path("runs") / "cache"
    main = D.load_dataset(data, skip_bad=skip_bad)
    train_main, val_main, train_folds, val_folds = split_main(main, folds, val_fold, val_fraction, seed)
    classes = list(main.classes)
    wholes, train_parts, val_parts = [main], [train_main], [val_main]
    extras_desc = []
    held_sources = set(hold_out_sources or [])
    for root in extra or []:
        ds = MF.load_manifest(root, skip_bad=skip_bad)
        whole = ds
        ds, held = MF.without_sources(ds, held_sources & {c.source or "" for c in ds.clips})
        held_sources -= {c.source for c in held.clips}
        classes += [c for c in ds.classes if c not in classes]
        tr, va = D.split_holdout(ds, val_fraction, seed) if len(ds) else (ds, ds)
        wholes.append(whole)
        train_parts.append(tr)
        val_parts.append(va)
        extras_desc.append({"root": str(Path(root).resolve()), "train_clips": len(tr), "validation_clips": len(va),
                            "held_out_clips": len(held),
                            "sources": sorted({c.source or "" for c in ds.clips}),
                            "held_out_sources": sorted({c.source or "" for c in held.clips})})
    if held_sources:
        raise DataError(f"--hold-out-sources names {sorted(held_sources)}, which no --extra set has")
    noise_parts: list[tuple[D.Dataset, D.Dataset]] = []
    bg_desc = None
    if background is not None:
        whole = MF.load_background(background, skip_bad=skip_bad)
        bg, held = MF.without_sources(whole, hold_out_background or [])
        classes.append(NONE_CLASS)
        tr, va = D.split_holdout(bg, val_fraction, seed)
        wholes.append(whole)
        train_parts.append(tr)
        val_parts.append(va)
        noise_parts.append((whole, tr))
        bg_desc = {"root": str(Path(background).resolve()), "train_clips": len(tr), "validation_clips": len(va),
                   "categories": sorted({c.source or "" for c in bg.clips}),
                   "held_out_categories": sorted({c.source or "" for c in held.clips})}
    elif hold_out_background:
        raise DataError("--hold-out-background needs --background")
    if limit:
        train_parts = [p.subset(p.clips[:: max(1, len(p) // limit)]) for p in train_parts]
        noise_parts = [(w, p.subset(p.clips[:: max(1, len(p) // limit)])) for w, p in noise_parts]
        val_parts = [p.subset(p.clips[:: max(1, len(p) // limit)]) for p in val_parts]
    mels = _Mels(settings, cache, skip_bad)
    train = concat([mels.of(w, p, classes) for w, p in zip(wholes, train_parts)])
    if train is None:
        raise DataError(f"no training clips in {data} (folds {train_folds})")
    val = concat([mels.of(w, p, classes) for w, p in zip(wholes, val_parts)])
    noise = concat([mels.of(w, p, classes) for w, p in noise_parts])
    description = {"root": str(Path(data).resolve()), "layout": main.layout, "train_folds": train_folds,
                   "validation_folds": val_folds, "train_clips": len(train),
                   "validation_clips": len(val) if val is not None else 0, "skipped_files": len(main.skipped),
                   "validation": ("fold" if val_folds else f"{val_fraction:g} of the training recordings"),
                   "extra": extras_desc, "background": bg_desc}
    return TrainingSets(classes, train, val, noise, description)


def with_share(ms: D.MelSet, label: int, share: float, name: str = NONE_CLASS) -> D.MelSet:
    """``ms`` with the clips of ``label`` repeated until they are about ``share`` of all clips (never fewer than
    they are): a small background set then weighs in each epoch as much as asked. Every clip still gets its own
    random crop and augmentation each time it comes round."""
    mine = np.flatnonzero(ms.labels == label)
    rest = len(ms) - len(mine)
    if not len(mine) or not rest or not 0.0 < share < 1.0:
        return ms
    want = int(round(share * rest / (1.0 - share)))
    if want <= len(mine):
        return ms
    extra = np.resize(mine, want - len(mine))
    log.info("the %d '%s' clips repeated to %d (%.0f %% of the training clips)", len(mine),
             name, want, 100 * share)
    return ms.select(np.concatenate([np.arange(len(ms)), extra]).tolist())
