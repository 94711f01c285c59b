"""Measuring a classifier on sound from outside its training data.

* :func:`source_recall` -- recordings from other sources (a manifest set, see
  :mod:`performer.training.manifests`): per source and class, the share of clips named right, and what the
  others were heard as;
* :func:`false_class_rate` -- background that is none of the classes: per category, the share of clips (and of
  single windows) the classifier names as one of its classes instead of ``none``.

Both cut each clip into windows of the model's length (half-window hop; short clips tiled, the training
policy), as :mod:`performer.training.evaluation` does: a clip's class is the arg-max of its mean window
probabilities, and single windows are what the live engine sees.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from performer.errors import DataError
from performer.sound.labels import NONE_CLASS
from performer.training import datasets as D
from performer.training import manifests as MF


def window_probs(clf: Any, ms: D.MelSet, batch: int = 64) -> list[np.ndarray]:
    """The classifier's probabilities of every model-length window (half-window hop) of each clip of ``ms``."""
    frames = clf.settings.frames(clf.window_seconds)
    out = []
    for i in range(len(ms)):
        wins = D.windows_of(ms.get(i), frames)
        out.append(np.concatenate([clf.predict_mels(wins[s:s + batch]) for s in range(0, len(wins), batch)]))
    return out


def pick(ds: D.Dataset, names: list[str] | None, what: str) -> D.Dataset:
    """Only the clips of ``ds`` whose source (or category) is among ``names``; all of them without names."""
    if not names:
        return ds
    _, picked = MF.without_sources(ds, names)
    if not len(picked):
        raise DataError(f"no {what} named {names} in {ds.root}")
    return picked


def sources_of(clf: Any, root: str | Path, sources: list[str] | None = None, skip_bad: bool = False) -> D.Dataset:
    """The clips of a manifest set (only ``sources`` when given), refused when a class is not the model's."""
    ds = pick(MF.load_manifest(root, skip_bad=skip_bad), sources, "sources")
    unknown = [c for c in ds.classes if c not in clf.classes]
    if unknown:
        raise DataError(f"{root}: class(es) {unknown} are not among the model's ({', '.join(clf.classes)})")
    return ds


def source_recall(clf: Any, root: str | Path, sources: list[str] | None = None, cache: Path | None = None,
                  skip_bad: bool = False) -> dict[str, Any]:
    """Recall per source and class on a manifest set (only ``sources`` when given)."""
    ds = sources_of(clf, root, sources, skip_bad)
    ms = D.compute_mels(ds, clf.settings, cache, skip_bad)
    by_path = {str(c.path): c for c in ds.clips}
    probs = window_probs(clf, ms)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for i, p in enumerate(probs):
        clip = by_path[ms.paths[i]]
        true = ds.classes[clip.label]
        row = rows.setdefault((clip.source or "", true), {"source": clip.source, "class": true, "clips": 0,
                                                           "right": 0, "windows": 0, "windows_right": 0,
                                                           "heard_as": Counter()})
        k = clf.classes.index(true)
        said = clf.classes[int(p.mean(axis=0).argmax())]
        row["clips"] += 1
        row["right"] += said == true
        row["windows"] += len(p)
        row["windows_right"] += int((p.argmax(1) == k).sum())
        if said != true:
            row["heard_as"][said] += 1
    out = []
    for row in rows.values():
        out.append({"source": row["source"], "class": row["class"], "clips": row["clips"],
                    "recall": row["right"] / row["clips"], "window_recall": row["windows_right"] / row["windows"],
                    "heard_as": dict(row["heard_as"].most_common(3))})
    out.sort(key=lambda r: (r["source"] or "", r["class"]))
    return {"root": str(root), "window": clf.window_seconds, "rows": out}


def false_class_rate(clf: Any, root: str | Path, categories: list[str] | None = None, cache: Path | None = None,
                     skip_bad: bool = False) -> dict[str, Any]:
    """The share of background clips (and windows) named as one of the classes, per category and overall."""
    if NONE_CLASS not in clf.classes:
        raise DataError(f"the model has no '{NONE_CLASS}' class ({', '.join(clf.classes)}): every background "
                        "clip would be a false class; train it with --background")
    ds = pick(MF.load_background(root, skip_bad=skip_bad), categories, "categories")
    ms = D.compute_mels(ds, clf.settings, cache, skip_bad)
    by_path = {str(c.path): c for c in ds.clips}
    k_none = clf.classes.index(NONE_CLASS)
    per: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(window_probs(clf, ms)):
        cat = by_path[ms.paths[i]].source or ""
        row = per.setdefault(cat, {"category": cat, "clips": 0, "false": 0, "windows": 0, "windows_false": 0,
                                   "heard_as": Counter()})
        said = int(p.mean(axis=0).argmax())
        row["clips"] += 1
        row["windows"] += len(p)
        row["windows_false"] += int((p.argmax(1) != k_none).sum())
        if said != k_none:
            row["false"] += 1
            row["heard_as"][clf.classes[said]] += 1
    rows = [{"category": r["category"], "clips": r["clips"], "false_class_rate": r["false"] / r["clips"],
             "window_false_class_rate": r["windows_false"] / r["windows"], "heard_as": dict(r["heard_as"])}
            for r in sorted(per.values(), key=lambda r: r["category"])]
    clips = sum(r["clips"] for r in per.values())
    windows = sum(r["windows"] for r in per.values())
    return {"root": str(root), "window": clf.window_seconds, "clips": clips,
            "false_class_rate": sum(r["false"] for r in per.values()) / max(1, clips),
            "window_false_class_rate": sum(r["windows_false"] for r in per.values()) / max(1, windows),
            "rows": rows}
