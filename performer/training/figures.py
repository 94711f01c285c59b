"""Figures of training and evaluation: learning curves, and saving any matplotlib figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def save_figure(fig: Any, path: str | Path) -> Path:
    """Lay out, save (creating the folder) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_curves(history: list[dict[str, float]], path: Path | str, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(ep, [h["train_loss"] for h in history], label="train")
    if any("val_loss" in h for h in history):
        a1.plot(ep, [h.get("val_loss", np.nan) for h in history], label="validation")
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    a1.legend()
    a1.grid(alpha=0.3)
    a2.plot(ep, [h["train_accuracy"] for h in history], label="train (augmented crops)")
    if any("val_accuracy" in h for h in history):
        a2.plot(ep, [h.get("val_accuracy", np.nan) for h in history], label="validation (clips)")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    a2.set_ylim(0, 1)
    a2.legend()
    a2.grid(alpha=0.3)
    fig.suptitle(title)
    return save_figure(fig, path)
