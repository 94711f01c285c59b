"""`performer dream`: one-off renders and the layer list, through the real command line."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_list_layers(cli):
    proc = cli("dream", "--list-layers", "efficientnet_lite0", check=True)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("efficientnet_lite0 (default: blocks.10=1)")
    assert "  blocks.15" in lines and "  stem" in lines
    everything = cli("dream", "--list-layers", check=True).stdout
    assert "inception4c" in everything and "layer3.2" in everything and "features.22" in everything
    assert cli("dream", "--list-layers", "alexnet").returncode == 2


def test_dream_an_image_with_guidance(cli, tmp_path):
    src = tmp_path / "in.png"
    rng = np.random.default_rng(0)
    Image.fromarray((100 + rng.integers(0, 60, (90, 120, 3))).astype(np.uint8)).save(src)
    out = tmp_path / "out.jpg"
    proc = cli("-v", "dream", str(src), "--out", str(out), "--iterations", "2", "--octaves", "2", "--guide",
               "golden retriever", "--guide", "254", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert "golden retriever, pug" in proc.stderr
    img = np.asarray(Image.open(out))
    assert img.shape == (90, 120, 3)  # the input's size by default
    assert np.abs(img.astype(float) - np.asarray(Image.open(src)).astype(float)).mean() > 2


def test_dream_noise_at_a_size(cli, tmp_path):
    out = tmp_path / "n.png"
    proc = cli("dream", "noise", "--out", str(out), "--width", "96", "--height", "64", "--iterations", "1",
               "--sound", "siren", "--layers", "blocks.5=1,blocks.7=0.5", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (96, 64)


def test_dream_errors_name_the_problem(cli, tmp_path):
    out = tmp_path / "x.png"
    bad_guide = cli("dream", "noise", "--out", str(out), "--guide", "retriever")
    assert bad_guide.returncode == 2 and "did you mean" in bad_guide.stderr
    bad_layers = cli("dream", "noise", "--out", str(out), "--layers", "blocks.99", "--width", "64", "--height", "64")
    assert bad_layers.returncode == 1 and "'blocks.99' is not a layer of efficientnet_lite0" in bad_layers.stderr
    assert cli("dream", str(tmp_path / "missing.png"), "--out", str(out)).returncode == 2
    assert cli("dream", "noise").returncode == 2
    assert not out.exists()


def test_bench_runs_and_reports(cli, monkeypatch, tmp_path):
    """The benchmark's plumbing (speed itself is never asserted)."""
    import argparse

    import torch

    from performer.bench import dream as bench

    monkeypatch.setattr(bench, "PAPER_TABLE1", {(200, 1, 1, 2): 4.8})
    ap = argparse.ArgumentParser()
    bench.add_arguments(ap)
    md = tmp_path / "b.md"
    threads = torch.get_num_threads()
    try:
        res = bench.run(ap.parse_args(["--threads", "1", "--repeats", "1", "--frames", "2", "--sizes", "64",
                                       "--frame-iterations", "1", "--markdown", str(md)]))
    finally:
        torch.set_num_threads(threads)
    (row,) = res["table1"]
    assert row["paper_dream_s"] == 0.3 and row["steps"] == 1 and row["layer_names"] == "blocks.10,blocks.8"
    # the speed-up comes from the unrounded time, the reported time is rounded to 0.1 ms: allow for both roundings
    assert row["ours_s"] > 0 and abs(row["speedup"] - 0.3 / row["ours_s"]) <= 0.05 + 0.3 / row["ours_s"] ** 2 * 5e-5
    assert [(c["size"], c["guided"]) for c in res["continuous"]] == [("64x64", False), ("64x64", True)]
    assert "| 200x200 | 1 | 1 | 2 | 1 | 4.8 | 0.3 |" in md.read_text()
    proc = cli("bench", "dream", "--help")
    assert proc.returncode == 0 and "--frame-iterations" in proc.stdout
