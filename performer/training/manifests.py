"""Sound sets described by a manifest, and background sound that is none of the classes.

Two more layouts beside those of :mod:`performer.training.datasets`:

* **Manifest**: ``ROOT/manifest.csv`` with a ``file`` column (a path relative to ``ROOT``) and a ``class`` column;
  optional ``source`` (else the first folder of ``file``, e.g. ``sesa/gun_shot/x.flac`` comes from ``sesa``)
  and ``licence``. Recordings from other sources, to train and to test a model outside UrbanSound8K.
* **Background**: sound that is none of the classes, ``ROOT/<category>/*.flac``, with an optional
  ``ROOT/manifest.csv`` (``file`` and ``category`` columns) that then names the files. Every clip is labelled
  :data:`~performer.sound.labels.NONE_CLASS`; its ``source`` is its category, so categories can be held
  out of training and used to measure the false-class rate.

Groups keep recordings whole when a set is split: ESC-50 names (``FOLD-CLIPID-TAKE-TARGET``) group the takes
of one recording; any other file is its own group within its source.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from performer.errors import DataError
from performer.sound.labels import NONE_CLASS
from performer.training.datasets import Clip, Dataset, _check_files, _is_audio

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
_ESC50 = re.compile(r"^\d+-(\d+)-[A-Z]+-\d+$")


def _group(source: str, path: Path) -> str:
    m = _ESC50.match(path.stem)
    return f"esc50/{m.group(1)}" if m else f"{source}/{path.stem}"


def _read_rows(csv_path: Path, label_columns: tuple[str, ...]) -> tuple[list[dict[str, str]], str]:
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = set(reader.fieldnames or [])
        label = next((c for c in label_columns if c in fields), None)
        if "file" not in fields or label is None:
            raise DataError(f"{csv_path} needs a 'file' column and one of {', '.join(map(repr, label_columns))}; "
                            f"it has {sorted(fields)}")
        rows = list(reader)
    if not rows:
        raise DataError(f"{csv_path} has no rows")
    return rows, label


def _inside(root: Path, rel: str, csv_path: Path) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DataError(f"{csv_path}: file {rel!r} is outside {root}; a manifest names files inside its folder")
    return path


def load_manifest(root: Path | str, skip_bad: bool = False, check_readable: bool = True) -> Dataset:
    """A manifest set (see the module docstring); classes are the sorted ``class`` values."""
    root = Path(root)
    csv_path = root / MANIFEST
    if not csv_path.is_file():
        raise DataError(f"manifest {csv_path} not found; a manifest set is ROOT/{MANIFEST} with file,class columns")
    rows, label = _read_rows(csv_path, ("class",))
    classes = sorted({r[label].strip() for r in rows})
    if "" in classes:
        raise DataError(f"{csv_path}: a row has an empty class")
    index = {c: i for i, c in enumerate(classes)}
    clips = []
    for r in rows:
        path = _inside(root, r["file"], csv_path)
        parts = Path(r["file"]).parts
        source = (r.get("source") or "").strip() or (parts[0] if len(parts) > 1 else root.name)
        clips.append(Clip(path, index[r[label].strip()], None, _group(source, path), source))
    good, bad = _check_files(clips, root, skip_bad, check_readable)
    log.info("manifest %s: %d clips, %d classes, sources %s", root, len(good), len(classes),
             ", ".join(sorted({c.source or "" for c in good})))
    return Dataset(root, "manifest", classes, good, bad)


def load_background(root: Path | str, skip_bad: bool = False, check_readable: bool = True) -> Dataset:
    """Background sound (see the module docstring): one class, ``none``; each clip's source is its category."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"background folder {root} does not exist or is not a folder")
    csv_path = root / MANIFEST
    clips: list[Clip] = []
    if csv_path.is_file():
        rows, label = _read_rows(csv_path, ("category", "class"))
        for r in rows:
            path = _inside(root, r["file"], csv_path)
            category = r[label].strip() or path.parent.name
            clips.append(Clip(path, 0, None, _group(category, path), category))
    else:
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(f for f in folder.rglob("*") if _is_audio(f)):
                clips.append(Clip(f, 0, None, _group(folder.name, f), folder.name))
    if not clips:
        raise DataError(f"no background clips in {root}: expected ROOT/<category>/*.flac or ROOT/{MANIFEST}")
    good, bad = _check_files(clips, root, skip_bad, check_readable)
    log.info("background %s: %d clips in %d categories", root, len(good), len({c.source for c in good}))
    return Dataset(root, "background", [NONE_CLASS], good, bad)


def without_sources(ds: Dataset, sources: Iterable[str]) -> tuple[Dataset, Dataset]:
    """Split ``ds`` into (clips from other sources, clips from ``sources``); unknown names are an error."""
    wanted = set(sources)
    present = {c.source for c in ds.clips}
    unknown = wanted - present
    if unknown:
        raise DataError(f"source(s) {sorted(unknown)} not in {ds.root}; sources there: "
                        f"{', '.join(sorted(s for s in present if s))}")
    kept = [c for c in ds.clips if c.source not in wanted]
    held = [c for c in ds.clips if c.source in wanted]
    return ds.subset(kept), ds.subset(held)


def relabel(ds: Dataset, classes: list[str]) -> Dataset:
    """``ds`` with its labels renumbered into ``classes`` (which must hold all of ``ds.classes``)."""
    missing = [c for c in ds.classes if c not in classes]
    if missing:
        raise DataError(f"{ds.root}: class(es) {missing} are not among {classes}")
    remap = [classes.index(c) for c in ds.classes]
    clips = [Clip(c.path, remap[c.label], c.fold, c.group, c.source) for c in ds.clips]
    return Dataset(ds.root, ds.layout, list(classes), clips, list(ds.skipped))
