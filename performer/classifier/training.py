"""Training: random-crop log-mel windows, augmentation, validation each epoch, early stopping, checkpoints.

The log-mels of all clips are computed once (and cached on disk when a cache folder is given); every epoch
takes one random crop of ``window`` seconds from each training clip (short clips are tiled, see
:mod:`performer.classifier.datasets`), so the model neither learns clip length nor needs 4 s of sound.

Augmentation (per model, see :data:`performer.classifier.models.TRAIN_DEFAULTS`): random gain (a constant in
dB), SpecAugment (two frequency and two time masks filled with the example's mean) and mixup (in the power
domain, soft targets).

Validation each epoch is clip-level accuracy on the validation clips: every clip is cut into windows of the
training length (half-window hop), and the window probabilities are averaged. The best epoch's weights are kept;
training stops after ``patience`` epochs without improvement.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from performer.analysis.features import DEFAULT_SETTINGS, FeatureSettings
from performer.classifier import models as M
from performer.classifier.checkpoint import save_checkpoint
from performer.classifier.datasets import MelSet, crop_frames, windows_of
from performer.classifier.figures import plot_curves
from performer.errors import DataError, ModelError

log = logging.getLogger(__name__)

#: Training windows allowed, in seconds. Windows under 0.5 s are for fast-path models (``performer serve
#: --fast-model``), which name a sound from its first fifth of a second.
WINDOW_RANGE = (0.2, 4.0)


@dataclass
class TrainConfig:
    model: str = "realtime"
    window: float = 1.0
    window_max: float | None = None
    """When set, each batch is cropped to a random length between ``window`` and this (fast-path models, which
    must name sounds of any age); validation uses ``window``."""
    epochs: int = 60
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 3e-3
    momentum: float = 0.9
    weight_decay: float = 1e-3
    patience: int = 15
    mixup: float = 0.3
    specaugment: bool = True
    gain_db: float = 6.0
    image_size: int | None = None
    seed: int = 0
    threads: int = 2
    model_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_model(cls, name: str, **overrides: Any) -> TrainConfig:
        if name not in M.MODEL_NAMES:
            raise ModelError(f"unknown model {name!r}; choose one of {', '.join(M.MODEL_NAMES)}")
        values = dict(M.TRAIN_DEFAULTS[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        cfg = cls(model=name, **values)
        if not WINDOW_RANGE[0] <= cfg.window <= WINDOW_RANGE[1]:
            raise DataError(f"training window must be between {WINDOW_RANGE[0]:g} and {WINDOW_RANGE[1]:g} s, "
                            f"got {cfg.window}")
        if cfg.window_max is not None and not cfg.window <= cfg.window_max <= WINDOW_RANGE[1]:
            raise DataError(f"--window-max must be between the window ({cfg.window:g} s) and {WINDOW_RANGE[1]:g} s, "
                            f"got {cfg.window_max}")
        return cfg


def library_versions() -> dict[str, str]:
    import librosa
    import torchvision

    import performer

    return {"performer": str(performer.__version__), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__),
            # librosa's typing stub (__init__.pyi) leaves out the __version__ its __init__.py sets
            "librosa": str(librosa.__version__),  # type: ignore[attr-defined]
            "numpy": str(np.__version__), "python": sys.version.split()[0]}


class Progress:
    """A one-line progress bar on stderr; silent when stderr is not a terminal."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.n = total, label, 0
        self.on = sys.stderr.isatty()

    def update(self, n: int = 1, extra: str = "") -> None:
        self.n += n
        if self.on:
            width = 30
            done = int(width * self.n / max(1, self.total))
            sys.stderr.write(f"\r{self.label} [{'#' * done}{'.' * (width - done)}] {self.n}/{self.total} {extra}   ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\n")


def spec_augment(x: torch.Tensor, rng: np.random.Generator, n_freq: int = 2, f_max: int = 16, n_time: int = 2,
                 t_frac: float = 0.125) -> torch.Tensor:
    """SpecAugment masks on a batch ``(B, F, T)``, filled with each example's mean (in place on a copy)."""
    x = x.clone()
    b, nf, nt = x.shape
    fill = x.mean(dim=(1, 2))
    t_max = max(1, int(nt * t_frac))
    for i in range(b):
        for _ in range(n_freq):
            w = int(rng.integers(0, f_max + 1))
            f0 = int(rng.integers(0, max(1, nf - w)))
            x[i, f0:f0 + w, :] = fill[i]
        for _ in range(n_time):
            w = int(rng.integers(0, t_max + 1))
            t0 = int(rng.integers(0, max(1, nt - w)))
            x[i, :, t0:t0 + w] = fill[i]
    return x


def mixup_db(x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator, n_classes: int):
    """Mixup of dB spectrograms in the power domain; returns (mixed, soft targets)."""
    targets = F.one_hot(y, n_classes).float()
    if alpha <= 0:
        return x, targets
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=x.shape[0]).astype(np.float32))
    lam = torch.maximum(lam, 1 - lam)  # the first example dominates
    perm = torch.from_numpy(rng.permutation(x.shape[0]))
    l3 = lam.view(-1, 1, 1)
    p = l3 * torch.pow(10.0, x / 10.0) + (1 - l3) * torch.pow(10.0, x[perm] / 10.0)
    mixed = 10.0 * torch.log10(torch.clamp(p, min=1e-10))
    return mixed, lam.view(-1, 1) * targets + (1 - lam.view(-1, 1)) * targets[perm]


def predict_windows(model: torch.nn.Module, windows: np.ndarray, device: torch.device, batch: int = 64) -> np.ndarray:
    """Softmax probabilities of ``windows`` (N, F, T) in batches."""
    out = []
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(windows), batch):
            xb = torch.from_numpy(np.ascontiguousarray(windows[s:s + batch], dtype=np.float32)).to(device)
            out.append(torch.softmax(model(xb), dim=1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def clip_probabilities(model: torch.nn.Module, ms: MelSet, frames: int, device: torch.device,
                       hop: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per clip: the mean of its window probabilities, and the per-window probabilities."""
    wins, owners = [], []
    for i in range(len(ms)):
        w = windows_of(ms.get(i), frames, hop)
        wins.append(w)
        owners.extend([i] * len(w))
    probs = predict_windows(model, np.concatenate(wins), device)
    owners_a = np.asarray(owners)
    per_clip = [probs[owners_a == i] for i in range(len(ms))]
    return np.stack([p.mean(axis=0) for p in per_clip]), per_clip


def fit(model: torch.nn.Module, train: MelSet, val: MelSet | None, cfg: TrainConfig, n_classes: int,
        settings: FeatureSettings = DEFAULT_SETTINGS, device: torch.device | None = None,
        on_epoch: Callable[[dict], None] | None = None, max_steps: int | None = None,
        on_best: Callable[[dict[str, Any], list[dict[str, float]]], None] | None = None) -> dict[str, Any]:
    """Train ``model`` in place; returns the history and the best epoch. ``max_steps`` stops early (tests).
    ``on_best(best, history)`` is called whenever the validation accuracy improves (to save a checkpoint)."""
    device = device or torch.device("cpu")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    frames = settings.frames(cfg.window)
    frames_max = settings.frames(cfg.window_max) if cfg.window_max else frames
    model.to(device)
    opt: torch.optim.Optimizer
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        raise ModelError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adamw")
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.15) if cfg.optimizer == "adamw" else None
    history: list[dict[str, float]] = []
    best = {"epoch": -1, "val_accuracy": -1.0, "val_loss": float("inf")}
    best_state = None
    stale = 0
    steps = 0
    t_start = time.time()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = rng.permutation(len(train))
        total, seen, correct = 0.0, 0, 0
        bar = Progress(steps_per_epoch, f"epoch {epoch}/{cfg.epochs}")
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            if len(idx) < 2:
                continue
            crop = int(rng.integers(frames, frames_max + 1)) if frames_max > frames else frames
            xb = torch.from_numpy(np.stack([crop_frames(train.get(i), crop, rng) for i in idx]).astype(np.float32))
            yb = torch.from_numpy(train.labels[idx])
            if cfg.gain_db > 0:
                xb = xb + torch.from_numpy(rng.uniform(-cfg.gain_db, cfg.gain_db, (len(idx), 1, 1)).astype(np.float32))
            if cfg.specaugment:
                xb = spec_augment(xb, rng)
            xb, target = mixup_db(xb, yb, cfg.mixup, rng, n_classes)
            xb, target, yb = xb.to(device), target.to(device), yb.to(device)
            logits = model(xb)
            loss = torch.sum(-target * F.log_softmax(logits, dim=1), dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            steps += 1
            bar.update(1, f"loss {total / seen:.3f}")
            if max_steps is not None and steps >= max_steps:
                break
        bar.close()
        row: dict[str, float] = {"epoch": epoch, "train_loss": total / max(1, seen),
                                 "train_accuracy": correct / max(1, seen),
                                 "lr": opt.param_groups[0]["lr"], "seconds": time.time() - t_start}
        if val is not None and len(val):
            probs, _ = clip_probabilities(model, val, frames, device)
            row["val_loss"] = float(-np.mean(np.log(np.clip(probs[np.arange(len(val)), val.labels], 1e-7, 1))))
            row["val_accuracy"] = float(np.mean(probs.argmax(1) == val.labels))
        history.append(row)
        log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch"))
        if on_epoch:
            on_epoch(row)
        if max_steps is not None and steps >= max_steps:
            break
        if val is not None and len(val):
            better = row["val_accuracy"] > best["val_accuracy"] or (
                row["val_accuracy"] == best["val_accuracy"] and row["val_loss"] < best["val_loss"])
            if better:
                best = {"epoch": epoch, "val_accuracy": row["val_accuracy"], "val_loss": row["val_loss"]}
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                stale = 0
                if on_best:
                    on_best(dict(best, seconds=time.time() - t_start), history)
            else:
                stale += 1
                if stale >= cfg.patience:
                    log.info("early stop: no better validation accuracy for %d epochs (best %.4f at epoch %d)",
                             stale, best["val_accuracy"], best["epoch"])
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"history": history, "best": best, "seconds": time.time() - t_start, "steps": steps}


def split_data(data: str | Path, folds: list[int] | None, val_fold: int | None, val_fraction: float,
               skip_bad: bool, seed: int):
    """Load a data set and split it into (dataset, train, validation, train folds, validation folds)."""
    from performer.classifier import datasets

    ds = datasets.load_dataset(data, skip_bad=skip_bad)
    if ds.layout == "urbansound8k":
        present = ds.folds
        if folds is None and val_fold is None:
            val_fold = present[-1]
        if val_fold is None:
            after = [f for f in present if f > max(folds)] if folds else []
            rest = [f for f in present if f not in (folds or [])]
            val_fold = after[0] if after else (rest[-1] if rest else None)
        if folds is None:
            folds = [f for f in present if f != val_fold]
        if val_fold in folds:
            raise DataError(f"validation fold {val_fold} is also a training fold ({folds}); a fold is never split")
        train = ds.select_folds(folds)
        val = ds.select_folds([val_fold]) if val_fold is not None else ds.subset([])
        return ds, train, val, folds, [val_fold] if val_fold is not None else []
    if folds is not None:
        raise DataError(f"{data} is a folder-per-class set, which has no folds; use --val-fraction instead of --folds")
    train, val = datasets.split_holdout(ds, val_fraction, seed)
    return ds, train, val, None, None


def train_from_args(args) -> dict[str, Any]:
    from performer.classifier import datasets
    from performer.classifier.folds import parse_folds
    from performer.device import choose_device

    torch.set_num_threads(max(1, int(args.threads)))
    name = args.model
    cfg = TrainConfig.for_model(name, window=args.window, window_max=getattr(args, "window_max", None),
                                epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                                seed=args.seed, threads=args.threads)
    device = choose_device(args.device)
    ds, train_ds, val_ds, train_folds, val_folds = split_data(
        args.data, parse_folds(args.folds), args.val_fold, args.val_fraction, args.skip_bad, args.seed)
    if args.limit:
        train_ds = train_ds.subset(train_ds.clips[:: max(1, len(train_ds) // args.limit)])
        val_ds = val_ds.subset(val_ds.clips[:: max(1, len(val_ds) // args.limit)])
    if not len(train_ds):
        raise DataError(f"no training clips in {args.data} (folds {train_folds})")
    cache = Path(args.cache) if args.cache else Path("runs") / "cache"
    settings = DEFAULT_SETTINGS
    # One cache for the whole data set, whatever the folds: later runs with other folds reuse it.
    all_ms = datasets.compute_mels(ds, settings, cache, args.skip_bad)
    index = {p: i for i, p in enumerate(all_ms.paths)}
    train_ms = all_ms.select([index[str(c.path)] for c in train_ds.clips if str(c.path) in index])
    val_ms = all_ms.select([index[str(c.path)] for c in val_ds.clips if str(c.path) in index]) if len(val_ds) else None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{name}-{stamp}" / "model.pt"
    cfg.model_config = {"image_size": cfg.image_size} if cfg.image_size else {}
    if getattr(args, "width", None):
        if name != "realtime":
            raise ModelError(f"--width applies to the realtime model, not {name}")
        cfg.model_config["width"] = int(args.width)
    model = M.build_model(name, len(ds.classes), pretrained=True, config=cfg.model_config)
    cfg.model_config = M.model_config(model)
    log.info("training %s (%d parameters) on %d clips, validating on %d, window %.2f s, device %s",
             name, M.count_parameters(model), len(train_ms), len(val_ms) if val_ms else 0, cfg.window, device)
    def make_meta(best: dict[str, Any], history: list[dict[str, float]], seconds: float, final: bool) -> dict[str, Any]:
        return {
            "model": name,
            "model_config": cfg.model_config,
            "classes": list(ds.classes),
            "features": settings.to_dict(),
            "window_seconds": float(cfg.window),
            "padding": "tile",
            "dataset": {"root": str(Path(args.data).resolve()), "layout": ds.layout, "train_folds": train_folds,
                        "validation_folds": val_folds, "train_clips": len(train_ms),
                        "validation_clips": len(val_ms) if val_ms else 0, "skipped_files": len(ds.skipped)},
            "training": {k: v for k, v in asdict(cfg).items() if k != "model_config"},
            "history": list(history),
            "metrics": {"best_epoch": best["epoch"], "val_accuracy": best["val_accuracy"],
                        "val_loss": best["val_loss"], "train_seconds": seconds, "finished": final},
            "versions": library_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def save_best(best: dict[str, Any], history: list[dict[str, float]]) -> None:
        # The best model so far is on disk at every improvement, so an interrupted run still leaves one.
        save_checkpoint(out, model, make_meta(best, history, best["seconds"], final=False))
        log.info("best so far (epoch %d, validation accuracy %.4f) saved to %s",
                 best["epoch"], best["val_accuracy"], out)

    result = fit(model, train_ms, val_ms, cfg, len(ds.classes), settings, device, on_best=save_best)
    meta = make_meta(result["best"], result["history"], result["seconds"], final=True)
    save_checkpoint(out, model, meta)
    curves = plot_curves(result["history"], out.with_name(out.stem + "_curves.png"),
                         f"{name} on {Path(args.data).name}")
    log.info("checkpoint saved to %s, curves to %s", out, curves)
    return {"checkpoint": str(out), "curves": str(curves), **meta["metrics"]}
