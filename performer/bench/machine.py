"""What a benchmark result was measured on."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine_info() -> dict:
    """What a result was measured on: cores, threads, load."""
    info: dict[str, Any] = {"machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        info["load_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info
