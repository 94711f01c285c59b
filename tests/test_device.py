"""The live engine's thread setup: torch's intra-op threads, and BLAS pools that do not spin beside the renderer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Run in a child: the settings are process-wide (torch's threads, the BLAS pools, the environment).
CHILD = r"""
import json, os
import numpy
from threadpoolctl import threadpool_info
from performer.device import configure_threads
n = configure_threads(None)
before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
import scipy.linalg  # a BLAS loaded after the setup (librosa loads scipy's)
after = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
import torch
print(json.dumps({"torch": torch.get_num_threads(), "n": n, "before": before, "after": list(after.values()),
                  "env": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def _run(env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_blas_pools_get_one_thread_and_torch_leaves_a_core():
    got = _run(None)
    assert got["torch"] == got["n"] == max(1, (os.cpu_count() or 2) - 1)
    assert got["before"] and set(got["before"]) == {1}, got  # numpy's BLAS, loaded before the setup
    assert len(got["after"]) >= 1 and set(got["after"]) == {1}, got  # and one loaded after it
    assert got["env"] == "1"


def test_a_blas_thread_count_from_the_environment_is_kept():
    got = _run("3")
    assert set(got["before"]) == {3} and got["env"] == "3", got  # (a BLAS loaded later caps it at the cores)
