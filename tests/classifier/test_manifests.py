"""Manifest sets, background folders, the training sets built from them, and the room augmentation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_datasets import _sound, make_us8k

from performer.errors import DataError
from performer.sound.labels import NONE_CLASS
from performer.training import augment as A
from performer.training import manifests as MF
from performer.training import trainset

SR = 16000


def make_manifest(root: Path) -> Path:
    """Two sources: 'alpha' (hum, sweep) and 'beta' (hum), at 16 kHz, as ../shared/data/extra/positives."""
    rows = []
    for source, classes in (("alpha", ("hum", "sweep")), ("beta", ("hum",))):
        for name in classes:
            (root / source / name).mkdir(parents=True, exist_ok=True)
            for k in range(3):
                rel = f"{source}/{name}/{source}_{name}_{k}.flac"
                sf.write(root / rel, _sound(["hum", "sweep"].index(name), 0.8, SR, k), SR)
                rows.append([rel, name, "some/repo", "abc", f"orig/{k}.wav", "CC0"])
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "class", "source_repo", "commit", "original_path", "licence"])
        w.writerows(rows)
    return root


def make_background(root: Path, manifest: bool = True) -> Path:
    """Three categories of 'none' sound; ESC-50 names, two takes of one recording in 'rain'."""
    names = {"rain": ["1-100-A-1", "1-100-B-1", "2-200-A-1"], "talk": ["3-300-A-2", "3-301-A-2"],
             "clock": ["4-400-A-3", "4-401-A-3"]}
    rows = []
    rng = np.random.default_rng(0)
    for cat, files in names.items():
        (root / cat).mkdir(parents=True, exist_ok=True)
        for f in files:
            sf.write(root / cat / f"{f}.flac", (0.1 * rng.standard_normal(SR)).astype(np.float32), SR)
            rows.append([f"{cat}/{f}.flac", cat])
    if manifest:
        with open(root / "manifest.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "category"])
            w.writerows(rows)
    return root


def test_a_manifest_set_has_classes_sources_and_groups(tmp_path):
    ds = MF.load_manifest(make_manifest(tmp_path / "m"))
    assert ds.layout == "manifest" and ds.classes == ["hum", "sweep"] and len(ds) == 9
    assert {c.source for c in ds.clips} == {"alpha", "beta"}
    assert len({c.group for c in ds.clips}) == 9
    kept, held = MF.without_sources(ds, ["beta"])
    assert len(kept) == 6 and len(held) == 3 and {c.source for c in held.clips} == {"beta"}
    with pytest.raises(DataError, match=r"source\(s\) \['gamma'\] not in .*sources there: alpha, beta"):
        MF.without_sources(ds, ["gamma"])


def test_a_manifest_cannot_name_files_outside_its_folder(tmp_path):
    root = make_manifest(tmp_path / "m")
    (tmp_path / "secret.flac").write_bytes(b"x")
    with open(root / "manifest.csv", "a", newline="") as fh:
        csv.writer(fh).writerow(["../secret.flac", "hum", "", "", "", ""])
    with pytest.raises(DataError, match=r"file '\.\./secret\.flac' is outside"):
        MF.load_manifest(root)


def test_a_manifest_without_its_columns_is_a_clear_error(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "manifest.csv").write_text("path,label\nx.flac,hum\n")
    with pytest.raises(DataError, match="needs a 'file' column and one of 'class'"):
        MF.load_manifest(tmp_path / "m")
    with pytest.raises(DataError, match="manifest .* not found"):
        MF.load_manifest(tmp_path)


@pytest.mark.parametrize("manifest", [True, False])
def test_background_is_the_none_class_with_categories_as_sources(tmp_path, manifest):
    ds = MF.load_background(make_background(tmp_path / "bg", manifest=manifest))
    assert ds.classes == [NONE_CLASS] and len(ds) == 7 and {c.label for c in ds.clips} == {0}
    assert {c.source for c in ds.clips} == {"rain", "talk", "clock"}
    rain = [c.group for c in ds.clips if c.source == "rain"]
    assert rain.count("esc50/100") == 2  # two takes of one recording stay together


def test_training_sets_hold_out_sources_categories_and_a_whole_fold(tmp_path):
    us = make_us8k(tmp_path / "us", per_class=4)
    sets = trainset.build(us, folds=[1, 2], val_fold=0, val_fraction=0.25, extra=[make_manifest(tmp_path / "m")],
                          background=make_background(tmp_path / "bg"), hold_out_sources=["beta"],
                          hold_out_background=["talk"], cache=tmp_path / "cache")
    assert sets.classes == ["hum", "sweep", "bursts", NONE_CLASS]
    seen = set(sets.train.paths) | set(sets.val.paths)
    assert not set(sets.train.paths) & set(sets.val.paths)
    assert not any("fold3" in p for p in seen)  # the test fold is untouched
    assert not any("/beta/" in p or "/talk/" in p for p in seen)  # held-out source and category
    assert any("/alpha/" in p for p in sets.train.paths) and any("/rain/" in p for p in seen)
    assert NONE_CLASS in [sets.classes[k] for k in sets.train.labels]
    assert sets.noise is not None and set(sets.noise.paths) <= set(sets.train.paths)
    desc = sets.description
    assert desc["extra"][0]["held_out_sources"] == ["beta"] and desc["background"]["held_out_categories"] == ["talk"]
    assert desc["validation_folds"] == [] and desc["train_folds"] == [1, 2]
    # the labels follow the combined class list: an 'alpha' sweep is 'sweep' whatever its set called it
    for path, label in zip(sets.train.paths, sets.train.labels):
        if "/alpha/sweep/" in path:
            assert sets.classes[label] == "sweep"
    with pytest.raises(DataError, match="names \\['nowhere'\\], which no --extra set has"):
        trainset.build(us, folds=[1, 2], extra=[tmp_path / "m"], hold_out_sources=["nowhere"], cache=tmp_path / "c")
    with pytest.raises(DataError, match="--hold-out-background needs --background"):
        trainset.build(us, folds=[1, 2], hold_out_background=["talk"], cache=tmp_path / "c")


def test_band_limit_silences_the_bands_above_the_cut_as_a_recording_at_that_bandwidth_has_them():
    from scipy.signal import butter, sosfiltfilt

    from performer.sound import features

    band_hz = A.mel_band_hz()
    x = torch.zeros(4, 128, 10)
    y = A.band_limit(x, band_hz, np.random.default_rng(0), p=1.0, cutoffs_hz=(4000.0,))
    assert (y[:, band_hz > 4000, :] == -80.0).all() and (y[:, band_hz <= 4000, :] == 0).all()
    assert (A.band_limit(x, band_hz, np.random.default_rng(0), p=0.0, cutoffs_hz=(4000.0,)) == 0).all()
    # noise recorded at 8 kHz bandwidth (a 16-kHz source): its log-mel has the bands above the cut at its floor,
    # the loudest value less top_db, and so has the full-band noise's log-mel band-limited here
    sr = features.DEFAULT_SETTINGS.sample_rate
    full = np.random.default_rng(1).standard_normal(sr).astype(np.float32) * 0.1
    narrow = sosfiltfilt(butter(16, 7000, fs=sr, output="sos"), full).astype(np.float32)
    recorded = torch.from_numpy(features.log_mel(narrow, sr))[None]
    limited = A.band_limit(torch.from_numpy(features.log_mel(full, sr))[None], band_hz, np.random.default_rng(0),
                           p=1.0, cutoffs_hz=(8000.0,))
    high = band_hz > 8500
    inner = recorded[0, high, 2:-2]  # the filter's edges leak into the first and last frames
    assert torch.allclose(inner, (recorded.max() - 80.0).expand_as(inner), atol=0.5)
    assert torch.allclose(limited[0, high], (limited.max() - 80.0).expand_as(limited[0, high]))
    assert abs(float(limited.max() - recorded.max())) < 3.0  # the same place relative to the sound


def test_pitch_shift_moves_a_harmonic_sound_where_the_same_sound_played_higher_or_lower_has_it():
    from performer.sound import features

    sr = features.DEFAULT_SETTINGS.sample_rate
    t = np.arange(sr) / sr

    def tone(f0: float) -> torch.Tensor:  # eight harmonics, played at f0
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 9)).astype(np.float32) * 0.1
        return torch.from_numpy(features.log_mel(wave, sr))

    band_hz = A.mel_band_hz()
    source = tone(440.0)
    up, down = A.pitch_shift(source[None].repeat(2, 1, 1), band_hz, np.array([3.0, -3.0]))
    mine = source.mean(dim=1)
    for shifted, f0 in ((up.mean(dim=1), 440.0 * 2 ** 0.25), (down.mean(dim=1), 440.0 / 2 ** 0.25)):
        played = tone(f0).mean(dim=1)
        # the eight harmonics' bands: where the played sound peaks, the shifted one does within a band, the
        # source does not
        peaks = [int(np.argmin(abs(band_hz - k * f0))) for k in range(1, 9)]
        assert all(abs(int(shifted[p - 2:p + 3].argmax()) - 2) <= 1 for p in peaks)
        assert sum(abs(int(mine[p - 2:p + 3].argmax()) - 2) <= 1 for p in peaks) <= 4
        assert float((shifted - played)[10:100].abs().mean()) < 0.5 * float((mine - played)[10:100].abs().mean())
    # shifted down, the top bands read frequencies above the recording's: silent, at its floor
    assert (band_hz > band_hz[-1] / 2 ** 0.25).sum() >= 5
    assert torch.all(down[band_hz > band_hz[-1] / 2 ** 0.25] == source.max() - 80.0)
    assert torch.equal(A.pitch_shift(source[None], band_hz, np.array([0.0]))[0], source)


def test_a_quieter_room_sinks_a_steady_bed_and_keeps_the_sound_that_moves_over_it():
    from scipy.signal import chirp

    from performer.sound import features

    sr = features.DEFAULT_SETTINGS.sample_rate
    t = np.arange(sr) / sr
    bed = np.random.default_rng(2).standard_normal(sr).astype(np.float32) * 0.01
    sweep = chirp(t, 500, 1.0, 3000).astype(np.float32) * 0.3  # a siren's rise over a hiss
    both = torch.from_numpy(features.log_mel(bed + sweep, sr))[None]
    hiss = torch.from_numpy(features.log_mel(bed, sr))[None]
    sink = (30.0, 30.0)
    clean = A.quieter_room(both, np.random.default_rng(0), 1.0, sink_db=sink)
    ridge = both >= both.amax(dim=1, keepdim=True) - 3  # the sweep's own bands, frame by frame
    assert ridge.sum() > 80 and torch.allclose(clean[ridge], both[ridge], atol=0.5)
    on = both > hiss + 20  # around it, far above the hiss (its edges, smoothed, may sink a little)
    assert on.sum() > 200 and float(np.percentile((both - clean)[on].numpy(), 95)) < 1.0
    off = both < hiss + 1  # the hiss alone
    assert float((both - clean)[off].median()) > 20.0
    assert float(clean.min()) >= float(both.max()) - 80.0 - 1e-4
    # a steady hiss alone sinks nearly as a whole: centred, as the network sees it, it changes little
    steady = A.quieter_room(hiss, np.random.default_rng(0), 1.0, sink_db=sink)
    centred = (steady - steady.mean()) - (hiss - hiss.mean())
    assert float(centred.abs().median()) < 4.0 and float((hiss - steady).median()) > 20.0
    # off: untouched, and the generator not drawn from, so runs without it are the runs they were
    rng = np.random.default_rng(5)
    assert A.quieter_room(both, rng, 0.0) is both and rng.random() == np.random.default_rng(5).random()


def test_background_is_mixed_at_the_asked_snr():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.uniform(-40, 0, (3, 128, 20)).astype(np.float32))
    noise = torch.from_numpy(rng.uniform(-60, -20, (3, 128, 20)).astype(np.float32))
    snr = np.array([0.0, 10.0, 20.0])
    mixed = A.mix_background(x, noise, snr)
    px = torch.pow(10, x / 10).mean(dim=(1, 2))
    added = (torch.pow(10, mixed / 10) - torch.pow(10, x / 10)).mean(dim=(1, 2))
    assert np.allclose(10 * np.log10((px / added).numpy()), snr, atol=0.05)


def test_random_eq_is_smooth_and_bounded():
    x = torch.zeros(5, 128, 4)
    y = A.random_eq(x, np.random.default_rng(2), max_db=6.0)
    assert y.abs().max() <= 6.0 and (y[:, :, 0:1] == y).all()  # one gain per band, the same at every frame
    assert (y[:, 1:, 0] - y[:, :-1, 0]).abs().max() < 0.5  # no jumps between neighbouring bands
