"""Data loaders (UrbanSound8K layout, folder per class) on small trees built from generated sound."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from performer.errors import DataError
from performer.training import datasets as D

SR = 22050


def _sound(kind: int, seconds: float, sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    if kind == 0:  # low tone
        x = 0.4 * np.sin(2 * np.pi * rng.uniform(200, 400) * t)
    elif kind == 1:  # upward sweep
        f0 = rng.uniform(500, 1500)
        x = 0.3 * np.sin(2 * np.pi * (f0 * t + 3000 * t ** 2 / 2))
    else:  # noise bursts
        x = rng.normal(0, 0.2, t.size) * (np.sin(2 * np.pi * 4 * t) > 0)
    return x.astype(np.float32)


def make_us8k(root: Path, per_class: int = 2, folds=(1, 2, 3), sr: int = SR, stereo: bool = False) -> Path:
    """A miniature UrbanSound8K tree: 3 classes, WAV files named by the CSV, varying lengths."""
    classes = ["hum", "sweep", "bursts"]
    rows = []
    n = 0
    for fold in folds:
        (root / "audio" / f"fold{fold}").mkdir(parents=True, exist_ok=True)
        for cid, name in enumerate(classes):
            for k in range(per_class):
                fsid = 1000 * fold + 10 * cid + k
                fname = f"{fsid}-{cid}-0-{k}.wav"
                seconds = [0.3, 1.2, 2.5, 4.0][n % 4]
                x = _sound(cid, seconds, sr, n)
                sf.write(root / "audio" / f"fold{fold}" / fname, np.stack([x, x], 1) if stereo else x, sr)
                rows.append([fname, fsid, 0.0, seconds, 1, fold, cid, name])
                n += 1
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        w.writerows(rows)
    return root


def make_folders(root: Path, per_class: int = 4, sr: int = SR) -> Path:
    for cid, name in enumerate(["bursts", "hum", "sweep"]):
        (root / name).mkdir(parents=True, exist_ok=True)
        kind = {"hum": 0, "sweep": 1, "bursts": 2}[name]
        for k in range(per_class):
            sf.write(root / name / f"{name}{k}.wav", _sound(kind, 0.5 + 0.5 * k, sr, 10 * cid + k), sr)
    return root


def test_urbansound8k_layout_folds_and_names_from_csv(tmp_path):
    root = make_us8k(tmp_path / "us8k", sr=44100, stereo=True)
    ds = D.load_urbansound8k(root)
    assert ds.layout == "urbansound8k" and D.detect_layout(root) == "urbansound8k"
    assert ds.classes == ["hum", "sweep", "bursts"]
    assert len(ds) == 18 and ds.folds == [1, 2, 3]
    sub = D.load_urbansound8k(root, folds=[1, 3])
    assert {c.fold for c in sub.clips} == {1, 3} and len(sub) == 12
    assert all(c.path.parent.name == f"fold{c.fold}" for c in sub.clips)
    assert ds.class_counts() == {"hum": 6, "sweep": 6, "bursts": 6}
    with pytest.raises(DataError, match=r"fold\(s\) \[7\]"):
        D.load_urbansound8k(root, folds=[7])


def test_missing_and_unreadable_files_are_listed_or_skipped(tmp_path):
    root = make_us8k(tmp_path / "us8k")
    victims = sorted((root / "audio" / "fold2").glob("*.wav"))[:2]
    victims[0].unlink()
    victims[1].write_bytes(b"this is not audio")
    with pytest.raises(DataError) as err:
        D.load_urbansound8k(root)
    msg = str(err.value)
    assert "2 of 18" in msg and victims[0].name in msg and victims[1].name in msg and "--skip-bad" in msg
    ds = D.load_urbansound8k(root, skip_bad=True)
    assert len(ds) == 16 and len(ds.skipped) == 2


def test_folder_per_class_layout_and_holdout(tmp_path):
    root = make_folders(tmp_path / "my_sounds")
    (root / "notes.txt").write_text("ignored")
    ds = D.load_dataset(root)
    assert ds.layout == "folders" and ds.classes == ["bursts", "hum", "sweep"]
    assert len(ds) == 12 and ds.folds == []
    train, val = D.split_holdout(ds, 0.25, seed=1)
    assert len(train) + len(val) == 12
    assert {c.label for c in val.clips} == {0, 1, 2}  # every class held out
    assert not {c.path for c in train.clips} & {c.path for c in val.clips}
    with pytest.raises(DataError, match="no folds"):
        D.load_dataset(root, folds=[1])
    (root / "hum" / "hum0.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(DataError, match="hum0.wav"):
        D.load_folders(root)
    assert len(D.load_folders(root, skip_bad=True).skipped) == 1


def test_not_a_dataset(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        D.load_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="neither"):
        D.load_dataset(tmp_path / "empty")


def test_cached_log_mels_match_and_are_reused(tmp_path):
    from performer.sound import features

    root = make_us8k(tmp_path / "us8k", per_class=1, sr=16000)
    ds = D.load_urbansound8k(root)
    cache = tmp_path / "cache"
    ms = D.compute_mels(ds, cache_dir=cache)
    assert len(ms) == len(ds) and len(list(cache.glob("*.npz"))) == 1
    again = D.compute_mels(ds, cache_dir=cache)
    # float16 on disk, and the run that filled the cache saw the same numbers as the runs that read it (a resumed
    # run must train on what the run it resumes trained on)
    np.testing.assert_array_equal(again.mels, ms.mels)
    clip = ds.clips[3]
    ref = features.log_mel(features.load_audio(clip.path), SR)
    np.testing.assert_allclose(ms.get(3), ref, atol=0.05)
    np.testing.assert_allclose(D.compute_mels(ds).get(3), ref, atol=1e-4)  # without a cache: float32 as computed
    # a 4 s clip has 173 frames; a 0.3 s one 13
    assert sorted(set(ms.lengths().tolist())) == [13, 52, 108, 173]


def test_two_runs_that_fill_one_cache_at_once_both_finish(tmp_path, monkeypatch):
    """Two trainings started together on one --cache compute the same log-mels and write the same cache file at
    the same moment; each must keep its own temporary file (a shared one was moved away under the other)."""
    import threading

    root = make_us8k(tmp_path / "us8k", per_class=1, sr=16000)
    ds = D.load_urbansound8k(root)
    both_writing = threading.Barrier(2, timeout=30)
    savez = np.savez

    def savez_together(*args, **kwargs):
        savez(*args, **kwargs)
        both_writing.wait()  # neither moves its file into place before the other has written

    monkeypatch.setattr(D.np, "savez", savez_together)
    errors: list[BaseException] = []

    def run():
        try:
            D.compute_mels(ds, cache_dir=tmp_path / "cache")
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [p.name for p in (tmp_path / "cache").iterdir() if "tmp" in p.name] == []
    assert len(D.compute_mels(ds, cache_dir=tmp_path / "cache")) == len(ds)


def test_crop_and_tiling_policy():
    rng = np.random.default_rng(0)
    mel = np.arange(10, dtype=np.float32)[None, :].repeat(4, 0)  # (4, 10), column j holds j
    crop = D.crop_frames(mel, 6, rng)
    assert crop.shape == (4, 6) and np.all(np.diff(crop[0]) == 1)  # contiguous
    tiled = D.crop_frames(mel, 25, rng)
    assert tiled.shape == (4, 25)
    assert np.all(np.diff(tiled[0]) % 10 == 1)  # repeats the clip, never pads silence
    assert set(tiled[0].tolist()) == set(range(10))
    starts = {int(D.crop_frames(mel, 6, rng)[0, 0]) for _ in range(200)}
    assert starts == set(range(5))  # every placement occurs
    w = D.windows_of(np.zeros((4, 100)), 44)
    assert w.shape == (4, 4, 44)  # starts 0, 22, 44, 56
    assert D.windows_of(np.zeros((4, 13)), 44).shape == (1, 4, 44)
