"""``performer train`` under torchrun (DistributedDataParallel, gloo on the CPU) against one process, and the
calibration block a training run writes. The tests make their own sound and bound every subprocess's time."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from test_datasets import make_us8k

from performer.classifier.checkpoint import TEMPERATURE_RANGE, load_checkpoint
from performer.classifier.inference import Classifier
from performer.errors import ModelError
from performer.sound.features import DEFAULT_SETTINGS
from performer.training import distributed as D
from performer.training.calibration import calibration_report, held_out_logits

TORCHRUN_TIMEOUT = 240  # seconds for one torchrun (two ranks on the CPU: about 20 s on a quiet 2-core machine)

#: Both sides of the comparison: 18 training clips (folds 1, 2), 9 validation clips (fold 3); one process with
#: 6 clips a batch against two ranks with 3 each (the same global batch, 3 steps an epoch on either side).
TRAIN = ["--folds", "1,2", "--val-fold", "3", "--epochs", "5", "--lr", "0.01", "--width", "4", "--threads", "1",
         "--no-augment", "--device", "cpu"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torchrun(args: list[str], cwd: Path, timeout: float = TORCHRUN_TIMEOUT) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node=2 ARGS`` on 127.0.0.1; the whole process group is
    killed when it runs past ``timeout``."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", *args]
    env = {k: v for k, v in os.environ.items() if k not in D.TORCHRUN_VARIABLES}
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # the ranks talk over the loopback interface only
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun ran past {timeout} s\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _parser() -> argparse.ArgumentParser:
    from performer.cli import classifier as cli

    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    return p


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_us8k(tmp_path_factory.mktemp("ddp") / "us8k", per_class=3)


@pytest.fixture(scope="module")
def plain_run(data) -> dict:
    """One plain process (no torchrun), in this process, with every entry into torch.distributed recorded."""
    import torch.distributed as dist
    from torch.nn import parallel

    touched: list[str] = []

    def refuse(name):
        def call(*a, **k):
            touched.append(name)
            raise AssertionError(f"a plain run called torch.distributed.{name}")
        return call

    out = data.parent / "single" / "model.pt"
    args = _parser().parse_args(["train", "--data", str(data), *TRAIN, "--batch-size", "6",
                                 "--cache", str(data.parent / "cache"), "--out", str(out)])
    stdout = io.StringIO()
    old_threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        for k in D.TORCHRUN_VARIABLES:
            mp.delenv(k, raising=False)
        for name in ("init_process_group", "barrier", "all_reduce", "broadcast", "broadcast_object_list",
                     "destroy_process_group"):
            mp.setattr(dist, name, refuse(name))
        mp.setattr(parallel, "DistributedDataParallel", refuse("DistributedDataParallel"))
        with contextlib.redirect_stdout(stdout):
            rc = args.func(args)
    torch.set_num_threads(old_threads)
    return {"rc": rc, "out": out, "result": json.loads(stdout.getvalue()), "touched": touched}


def test_torchrun_environment_is_read_and_checked():
    assert D.torchrun_env({}) is None and D.torchrun_env({"WORLD_SIZE": "2"}) is None
    assert D.torchrun_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}) == (4, 3, 1)
    with pytest.raises(ModelError, match="RANK=5"):
        D.torchrun_env({"WORLD_SIZE": "2", "RANK": "5", "LOCAL_RANK": "0"})
    with pytest.raises(ModelError, match="whole numbers.*'two'"):
        D.torchrun_env({"WORLD_SIZE": "two", "RANK": "0", "LOCAL_RANK": "0"})
    with pytest.raises(ModelError, match="not on mps"):
        with D.session("mps", environ={"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}):
            pass


def test_shards_cover_every_position_once_and_the_loss_scale_averages_to_the_global_mean():
    for n in (1, 5, 8, 21):
        ctxs = [D.Context(world_size=3, rank=r, backend="gloo") for r in range(3)]
        parts = [D.shard(n, c) for c in ctxs]
        assert sorted(np.concatenate(parts).tolist()) == list(range(n))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
        # DDP divides the sum of the ranks' gradients by 3: the scaled means must sum to 3 x the global mean
        losses = np.random.default_rng(n).random(n)
        scaled = [losses[p].mean() * D.loss_scale(len(p), n, c) for p, c in zip(parts, ctxs) if len(p)]
        assert np.isclose(sum(scaled) / 3, losses.mean())
    assert D.loss_scale(3, 5, D.SINGLE) == 1.0
    a, b = D.rngs(7, D.SINGLE)
    assert a is b  # one process: one generator, as before
    shared0, own0 = D.rngs(7, D.Context(2, 0, backend="gloo"))
    shared1, own1 = D.rngs(7, D.Context(2, 1, backend="gloo"))
    assert shared0.integers(1 << 30) == shared1.integers(1 << 30)
    assert own0.integers(1 << 30) != own1.integers(1 << 30)


@pytest.mark.slow
def test_a_plain_run_never_touches_torch_distributed_and_calibrates_at_the_end(plain_run, data):
    assert plain_run["rc"] == 0 and plain_run["touched"] == []
    model, meta = load_checkpoint(plain_run["out"])
    assert meta["training"]["world_size"] == 1 and meta["training"]["backend"] is None
    assert meta["training"]["batch_size"] == meta["training"]["global_batch_size"] == 6
    block = meta["calibration"]
    lo, hi = TEMPERATURE_RANGE
    assert lo <= block["temperature"] <= hi and block["window"] == 1.0 and block["clips"] == 9
    assert plain_run["result"]["calibration"]["temperature"] == block["temperature"]
    assert Classifier.from_checkpoint(plain_run["out"], device="cpu").temperature == block["temperature"]
    # fitted on the validation windows of the weights in the file (the best epoch's; stored as float16)
    from performer.training import datasets as DS

    ms = DS.compute_mels(DS.load_urbansound8k(data, folds=[3]), DEFAULT_SETTINGS, data.parent / "cache")
    frames = DEFAULT_SETTINGS.frames(1.0)
    again = calibration_report(*held_out_logits(model, ms, frames, "cpu", model_frames=frames))
    assert again["n"] == block["n"]
    assert again["temperature"] == pytest.approx(block["temperature"], rel=0.02)
    assert again["ece_before"] == pytest.approx(block["ece_before"], abs=0.01)


@pytest.mark.slow
def test_two_ranks_train_like_one_process(plain_run, data, tmp_path):
    out = tmp_path / "ddp" / "model.pt"
    proc = _torchrun(["-m", "performer", "train", "--data", str(data), *TRAIN, "--batch-size", "3",
                      "--cache", str(data.parent / "cache"), "--out", str(out)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # one JSON document: only rank 0 prints
    assert "rank 0 of 2 (gloo)" in proc.stderr and "rank 1 of 2" not in proc.stderr  # rank 1 logs warnings only
    assert proc.stderr.count("epoch 1:") == 1
    model, meta = load_checkpoint(out)
    _, single = load_checkpoint(plain_run["out"])
    assert meta["training"]["world_size"] == 2 and meta["training"]["backend"] == "gloo"
    assert meta["training"]["batch_size"] == 3 and meta["training"]["global_batch_size"] == 6
    assert Classifier.from_checkpoint(out, device="cpu").temperature == meta["calibration"]["temperature"]
    assert result["checkpoint"] == str(out) and result["calibration"]["temperature"] == meta["calibration"][
        "temperature"]
    # The same steps: per rank 3 of an epoch's 18 clips a step, so the one-cycle schedule is where one process
    # with 6 a step has it after every epoch.
    h1, h2 = single["history"], meta["history"]
    assert len(h1) == len(h2) == 5
    np.testing.assert_allclose([r["lr"] for r in h2], [r["lr"] for r in h1], rtol=1e-9)
    # Not bit for bit: BatchNorm normalises each rank's 3 clips rather than all 6 and the realtime model's dropout
    # draws other masks on rank 1, so the runs are two samples of the same training, not one (the exact equality
    # of the updates is tested on a model without either, below). Both start from the same weights and see the
    # same clips with the same crops each step, so they learn alike: the last epoch's validation accuracy within
    # 2 of the 9 clips, the loss within 0.3 nats (an untrained model stays at ln 3 = 1.10; these reach 0.76-0.92).
    assert abs(h1[-1]["val_accuracy"] - h2[-1]["val_accuracy"]) <= 2 / 9 + 1e-9
    assert abs(h1[-1]["val_loss"] - h2[-1]["val_loss"]) < 0.3
    assert max(h1[-1]["val_loss"], h2[-1]["val_loss"]) < 1.0


EXACT = textwrap.dedent('''
    """fit() on a model without BatchNorm or dropout: the updates must not depend on the number of ranks."""
    import os
    import sys
    import threading

    import numpy as np
    import torch

    from performer.training import distributed as D
    from performer.training import train as T
    from performer.training.datasets import MelSet
    from performer.sound.features import DEFAULT_SETTINGS

    torch.set_num_threads(1)
    out, batch = sys.argv[1], int(sys.argv[2])


    def melset(n, seed):
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % 3
        lengths = rng.integers(20, 90, n)  # shorter and longer than the 44-frame window: tiled and cropped
        mels = np.concatenate([rng.normal(-60 + 8 * y, 10, (128, t)) for y, t in zip(labels, lengths)], 1)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return MelSet(mels.astype(np.float32), offsets, labels.astype(np.int64), np.full(n, -1), [""] * n)


    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(128, 6, 3)
            self.fc = torch.nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(torch.relu(self.conv((x + 60) / 20)).mean(-1))


    torch.manual_seed(0)
    model = Tiny()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = T.TrainConfig.for_model("realtime", epochs=3, batch_size=batch, lr=0.01, patience=100, mixup=0.0,
                                  specaugment=False, gain_db=0.0, band_limit_p=0.0, eq_db=0.0, seed=3)
    with D.session("cpu") as (ddp, device):
        # 21 clips, a global batch of 8: steps of 8, 8 and 5 (3 + 2 on two ranks); 7 validation clips (4 + 3)
        res = T.fit(model, melset(21, 1), melset(7, 2), cfg, 3, DEFAULT_SETTINGS, device, ddp=ddp)
        if ddp.is_main:
            torch.save({"state": model.state_dict(), "init": init, "history": res["history"],
                        "steps": res["steps"], "world": ddp.world_size}, out)
    # Leaving the session joined the gloo worker threads: none may live on into interpreter shutdown, where one
    # still releasing its last collective's tensors aborts the process (rank 1 under load, issue #24).
    if ddp.distributed and os.path.isdir("/proc/self/task"):
        native = len(os.listdir("/proc/self/task")) - threading.active_count()
        if native:
            sys.exit(f"rank {ddp.rank}: {native} native thread(s) outlived the process group")
''')


@pytest.mark.slow
def test_ranks_give_the_updates_of_one_process_on_a_model_without_batchnorm(tmp_path):
    script = tmp_path / "exact.py"
    script.write_text(EXACT)
    env = {k: v for k, v in os.environ.items() if k not in D.TORCHRUN_VARIABLES}
    one = subprocess.run([sys.executable, str(script), str(tmp_path / "one.pt"), "8"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _torchrun([str(script), str(tmp_path / "two.pt"), "4"], cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (torch.load(tmp_path / f"{n}.pt", weights_only=True) for n in ("one", "two"))
    assert (a["world"], b["world"]) == (1, 2) and a["steps"] == b["steps"] == 9
    for k, v in a["state"].items():
        torch.testing.assert_close(b["init"][k], a["init"][k], rtol=0, atol=0)
        moved = float((v - a["init"][k]).abs().max())
        assert moved > 1e-3, f"{k} hardly trained ({moved:.2g})"
        # float32 sums in another order (the all-reduce) and nothing else: agreement to 1e-5
        torch.testing.assert_close(b["state"][k], v, rtol=1e-4, atol=1e-5)
    for r1, r2 in zip(a["history"], b["history"]):
        for key in ("train_loss", "train_accuracy", "lr", "val_loss", "val_accuracy"):
            assert r2[key] == pytest.approx(r1[key], rel=1e-4, abs=1e-6), key
