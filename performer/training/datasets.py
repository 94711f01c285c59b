"""Labelled sound sets for training and evaluating the classifier.

Two layouts are understood:

* **UrbanSound8K** (the official release layout): ``ROOT/metadata/UrbanSound8K.csv`` and
  ``ROOT/audio/foldN/<slice_file_name>``. File names come from the CSV (``.wav`` in the official release,
  ``.flac`` in the shared development copy); folds are selectable. Class order is by ``classID``.
* **Folder per class**: ``ROOT/<class>/*.wav`` (also ``.flac``, ``.ogg``, ``.mp3``, ``.aiff``); classes are the
  sub-folder names, sorted. Such sets have no folds; :func:`split_holdout` makes a seeded, per-class holdout.

Missing or unreadable files raise :class:`performer.errors.DataError` listing every one of them, unless
``skip_bad=True``, in which case they are dropped and counted (``Dataset.skipped``).

Training crops (:func:`crop_frames`): a window of ``W`` seconds is cut at a uniformly random place in the clip.
**Padding policy**: a clip shorter than the window is *tiled* (repeated end to end, starting at a random
phase) up to the window length, never padded with silence, so the amount of padding cannot reveal the clip's
length (the "duration bias" of UrbanSound8K, where e.g. gun shots are short and air conditioners 4 s long).
The live engine never sees padding either: it always has a full window of the incoming stream.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from performer.errors import DataError

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
US8K_CSV = Path("metadata") / "UrbanSound8K.csv"


@dataclass(frozen=True)
class Clip:
    path: Path
    label: int
    fold: int | None = None
    group: str | None = None  # recording id (UrbanSound8K fsID): never split across train and test
    source: str | None = None  # where it comes from (a manifest's source, a background category); None: the set itself


@dataclass
class Dataset:
    root: Path
    layout: str  # "urbansound8k" | "folders" | "manifest" | "background"
    classes: list[str]
    clips: list[Clip]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def folds(self) -> list[int]:
        return sorted({c.fold for c in self.clips if c.fold is not None})

    def subset(self, clips: Sequence[Clip]) -> Dataset:
        return Dataset(self.root, self.layout, list(self.classes), list(clips), list(self.skipped))

    def select_folds(self, folds: Iterable[int] | None) -> Dataset:
        if folds is None:
            return self.subset(self.clips)
        wanted = set(int(f) for f in folds)
        missing = wanted - set(self.folds)
        if missing:
            raise DataError(
                f"fold(s) {sorted(missing)} not found in {self.root}; "
                f"folds present: {self.folds or 'none (folder-per-class set)'}"
            )
        return self.subset([c for c in self.clips if c.fold in wanted])

    def class_counts(self) -> dict[str, int]:
        counts = {c: 0 for c in self.classes}
        for clip in self.clips:
            counts[self.classes[clip.label]] += 1
        return counts


def detect_layout(root: Path | str) -> str:
    """``'urbansound8k'`` when ``root/metadata/UrbanSound8K.csv`` exists, else ``'folders'`` when ``root`` holds
    sub-folders with audio files; otherwise :class:`DataError`."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist or is not a folder")
    if (root / US8K_CSV).is_file():
        return "urbansound8k"
    if any(p.is_dir() and any(_is_audio(f) for f in p.iterdir()) for p in root.iterdir()):
        return "folders"
    raise DataError(
        f"{root} is neither an UrbanSound8K folder (no {US8K_CSV}) nor a folder-per-class set "
        f"(no sub-folder with {', '.join(AUDIO_EXTENSIONS)} files)"
    )


def load_dataset(root: Path | str, folds: Iterable[int] | None = None, skip_bad: bool = False,
                 check_readable: bool = True) -> Dataset:
    """Load either layout (see :func:`detect_layout`); ``folds`` only applies to UrbanSound8K."""
    layout = detect_layout(root)
    if layout == "urbansound8k":
        return load_urbansound8k(root, folds=folds, skip_bad=skip_bad, check_readable=check_readable)
    if folds is not None:
        raise DataError(f"{root} is a folder-per-class set, which has no folds; drop --folds {list(folds)}")
    return load_folders(root, skip_bad=skip_bad, check_readable=check_readable)


def _is_audio(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")


def _check_files(clips: list[Clip], root: Path, skip_bad: bool, check_readable: bool) -> tuple[list[Clip], list]:
    bad: list[tuple[Path, str]] = []
    good: list[Clip] = []
    if check_readable:
        import soundfile as sf
    for clip in clips:
        reason = None
        if not clip.path.is_file():
            reason = "missing"
        elif check_readable:
            try:
                info = sf.info(str(clip.path))
                if info.frames <= 0:
                    reason = "no samples"
            except Exception as e:
                reason = f"unreadable ({e})"
        if reason is None:
            good.append(clip)
        else:
            bad.append((clip.path, reason))
    if bad and not skip_bad:
        listing = "\n".join(f"  {p}: {r}" for p, r in bad[:50])
        more = f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else ""
        raise DataError(
            f"{len(bad)} of {len(clips)} file(s) in {root} are missing or unreadable:\n{listing}{more}\n"
            "Fix them or pass --skip-bad to leave them out."
        )
    if bad:
        log.warning("skipped %d missing or unreadable file(s) of %d in %s", len(bad), len(clips), root)
    return good, bad


def load_urbansound8k(root: Path | str, folds: Iterable[int] | None = None, skip_bad: bool = False,
                      check_readable: bool = True) -> Dataset:
    """The official UrbanSound8K layout; ``folds`` (e.g. ``[1, 2]``) selects folds, ``None`` takes all."""
    root = Path(root)
    csv_path = root / US8K_CSV
    if not csv_path.is_file():
        raise DataError(f"UrbanSound8K metadata {csv_path} not found; expected ROOT/{US8K_CSV} and ROOT/audio/foldN/")
    wanted = None if folds is None else set(int(f) for f in folds)
    rows = []
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"slice_file_name", "fsID", "fold", "classID", "class"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise DataError(f"{csv_path} lacks column(s) {sorted(need - set(reader.fieldnames or []))}; "
                            f"expected the official columns {sorted(need)}")
        for row in reader:
            rows.append(row)
    if not rows:
        raise DataError(f"{csv_path} has no rows")
    id_to_name: dict[int, str] = {}
    for row in rows:
        id_to_name.setdefault(int(row["classID"]), row["class"])
    classes = [id_to_name[i] for i in sorted(id_to_name)]
    present_folds = sorted({int(r["fold"]) for r in rows})
    if wanted is not None and not wanted <= set(present_folds):
        raise DataError(f"fold(s) {sorted(wanted - set(present_folds))} not in {csv_path}; "
                        f"folds present: {present_folds}")
    index = {i: k for k, i in enumerate(sorted(id_to_name))}
    clips = [
        Clip(root / "audio" / f"fold{int(r['fold'])}" / r["slice_file_name"], index[int(r["classID"])],
             int(r["fold"]), str(r["fsID"]))
        for r in rows
        if wanted is None or int(r["fold"]) in wanted
    ]
    good, bad = _check_files(clips, root, skip_bad, check_readable)
    log.info("UrbanSound8K %s: %d clips, folds %s", root, len(good), sorted(wanted) if wanted else present_folds)
    return Dataset(root, "urbansound8k", classes, good, bad)


def load_folders(root: Path | str, skip_bad: bool = False, check_readable: bool = True) -> Dataset:
    """A folder-per-class set ``root/<class>/*.wav``; the group of each file is its own name."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist or is not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    clips: list[Clip] = []
    for label, name in enumerate(classes):
        files = sorted(f for f in (root / name).rglob("*") if _is_audio(f))
        for f in files:
            clips.append(Clip(f, label, None, f"{name}/{f.stem}"))
    classes_with = {c.label for c in clips}
    empty = [classes[i] for i in range(len(classes)) if i not in classes_with]
    if empty:
        log.warning("class folder(s) without audio files in %s: %s (kept as classes)", root, ", ".join(empty))
    if not clips:
        raise DataError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in the class sub-folders of {root}")
    if len(classes) < 2:
        raise DataError(f"{root} has {len(classes)} class folder(s); at least 2 are needed")
    good, bad = _check_files(clips, root, skip_bad, check_readable)
    return Dataset(root, "folders", classes, good, bad)


def split_holdout(ds: Dataset, fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split into (train, validation), per class and by ``group`` so no recording is on both sides."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"validation fraction must be between 0 and 1 (exclusive), got {fraction}")
    rng = np.random.default_rng(seed)
    train: list[Clip] = []
    val: list[Clip] = []
    for label in range(len(ds.classes)):
        # Both loaders give every clip a group (a str); only a hand-made Clip can lack one.
        groups = sorted(cast("set[str]", {c.group for c in ds.clips if c.label == label}))
        rng.shuffle(groups)
        n_val = max(1, int(round(len(groups) * fraction))) if len(groups) > 1 else 0
        val_groups = set(groups[:n_val])
        for c in ds.clips:
            if c.label == label:
                (val if c.group in val_groups else train).append(c)
    return ds.subset(train), ds.subset(val)


# ---------------------------------------------------------------------------------------------------------------
# Cached log-mels


@dataclass
class MelSet:
    """Log-mels of many clips, concatenated along time: ``mels[:, offsets[i]:offsets[i+1]]`` is clip ``i``."""

    mels: np.ndarray  # (n_mels, total_frames) float32 or float16
    offsets: np.ndarray  # (n + 1,) int64
    labels: np.ndarray  # (n,) int64
    folds: np.ndarray  # (n,) int64, -1 when none
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def get(self, i: int) -> np.ndarray:
        return self.mels[:, self.offsets[i]: self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def select(self, idx: Sequence[int]) -> MelSet:
        parts = [self.get(i) for i in idx]
        lengths = [p.shape[1] for p in parts]
        return MelSet(
            np.concatenate(parts, axis=1) if parts else self.mels[:, :0],
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            self.labels[list(idx)], self.folds[list(idx)], [self.paths[i] for i in idx],
        )


def compute_mels(ds: Dataset, settings=None, cache_dir: Path | str | None = None, skip_bad: bool = False) -> MelSet:
    """Log-mels (``performer.sound.features.log_mel``) of every clip of ``ds``, cached in ``cache_dir`` when given.

    The cache file's name hashes the file list, their sizes and modification times, and the feature settings,
    so a changed data set or setting never reads a stale cache.
    """
    from performer.errors import AudioError, FeatureError
    from performer.sound import features

    settings = settings or features.DEFAULT_SETTINGS
    key = hashlib.sha1(repr(settings.to_dict()).encode())
    for c in ds.clips:
        st = c.path.stat()
        key.update(f"{c.path}|{st.st_size}|{int(st.st_mtime)}|{c.label}|{c.fold}\n".encode())
    cache_file = Path(cache_dir) / f"mels-{key.hexdigest()[:16]}.npz" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        z = np.load(cache_file, allow_pickle=False)
        log.info("log-mels of %d clips read from cache %s", len(z["labels"]), cache_file)
        return MelSet(z["mels"].astype(np.float32), z["offsets"], z["labels"], z["folds"], [str(p) for p in z["paths"]])
    parts, labels, folds, paths, bad = [], [], [], [], []
    for i, clip in enumerate(ds.clips):
        try:
            audio = features.load_audio(clip.path, settings.sample_rate)
            parts.append(features.log_mel(audio, settings.sample_rate, settings))
        except (AudioError, FeatureError) as e:
            bad.append((clip.path, str(e)))
            continue
        labels.append(clip.label)
        folds.append(-1 if clip.fold is None else clip.fold)
        paths.append(str(clip.path))
        if (i + 1) % 250 == 0:
            log.info("log-mels: %d / %d clips", i + 1, len(ds.clips))
    if bad and not skip_bad:
        listing = "\n".join(f"  {p}: {r}" for p, r in bad[:50])
        raise DataError(f"{len(bad)} file(s) could not be turned into features:\n{listing}\n"
                        "Pass --skip-bad to leave them out.")
    if bad:
        log.warning("skipped %d file(s) that could not be turned into features", len(bad))
        ds.skipped.extend(bad)
    if not parts:
        raise DataError(f"no usable clips in {ds.root}")
    lengths = [p.shape[1] for p in parts]
    ms = MelSet(np.concatenate(parts, axis=1).astype(np.float32),
                np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                np.asarray(labels, dtype=np.int64), np.asarray(folds, dtype=np.int64), paths)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        # a file of this writer's own: two runs that share a cache may compute the same set at once
        fd, name = tempfile.mkstemp(suffix=".tmp.npz", prefix=cache_file.stem + ".", dir=cache_file.parent)
        os.close(fd)
        tmp = Path(name)
        half = ms.mels.astype(np.float16)
        np.savez(tmp, mels=half, offsets=ms.offsets, labels=ms.labels, folds=ms.folds, paths=np.asarray(ms.paths))
        tmp.replace(cache_file)
        log.info("log-mels of %d clips cached in %s", len(ms), cache_file)
        # the run that fills the cache sees what every later run (a resumed one too) reads from it
        ms = MelSet(half.astype(np.float32), ms.offsets, ms.labels, ms.folds, ms.paths)
    return ms


def tile_to(mel: np.ndarray, frames: int, start: int = 0) -> np.ndarray:
    """Repeat ``mel`` (n_mels, T) along time, beginning at column ``start``, to exactly ``frames`` columns."""
    t = mel.shape[1]
    if t == 0:
        raise DataError("cannot tile a spectrogram with 0 frames")
    idx = (np.arange(frames) + start) % t
    return mel[:, idx]


def crop_frames(mel: np.ndarray, frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A ``frames``-long crop of ``mel``: random placement with ``rng``, centred without. Short clips are tiled."""
    t = mel.shape[1]
    if t >= frames:
        start = int(rng.integers(0, t - frames + 1)) if rng is not None else (t - frames) // 2
        return mel[:, start: start + frames]
    start = int(rng.integers(0, t)) if rng is not None else 0
    return tile_to(mel, frames, start)


def windows_of(mel: np.ndarray, frames: int, hop: int | None = None) -> np.ndarray:
    """All ``frames``-long windows of ``mel`` with ``hop`` (default ``frames // 2``); short clips give one tiled
    window. Returns ``(n_windows, n_mels, frames)``."""
    t = mel.shape[1]
    if t <= frames:
        return tile_to(mel, frames)[None]
    hop = max(1, hop or frames // 2)
    starts = list(range(0, t - frames + 1, hop))
    if starts[-1] != t - frames:
        starts.append(t - frames)
    return np.stack([mel[:, s: s + frames] for s in starts])
