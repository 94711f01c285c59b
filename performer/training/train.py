"""Training: random-crop log-mel windows, augmentation, validation each epoch, early stopping, checkpoints.

The log-mels of all clips are computed once (and cached on disk when a cache folder is given); every epoch
takes one random crop of ``window`` seconds from each training clip (short clips are tiled, see
:mod:`performer.training.datasets`), so the model neither learns clip length nor needs 4 s of sound.

Augmentation (per model, see :data:`performer.classifier.models.TRAIN_DEFAULTS`): the recording chain of
:mod:`performer.training.augment` (quieter room, pitch, EQ, background, band limit), gain, SpecAugment, mixup.

Validation each epoch is clip-level accuracy on the validation clips: every clip is cut into windows of the
training length (half-window hop), and the window probabilities are averaged. The best epoch's weights (with
``ema``, their moving average: :mod:`performer.training.average`) are kept; training stops after ``patience`` epochs
without improvement; then their softmax temperature is fitted on the validation windows and stored.

Under torchrun every process runs :func:`train_from_args` and :func:`fit` shares each epoch among them
(DistributedDataParallel, see :mod:`performer.training.distributed`).
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

from performer.classifier import models as M
from performer.classifier.checkpoint import save_checkpoint
from performer.errors import DataError, ModelError
from performer.sound.features import DEFAULT_SETTINGS, FeatureSettings
from performer.sound.labels import NONE_CLASS
from performer.training import distributed as D
from performer.training import resume as R
from performer.training.augment import RoomAugment, mel_band_hz, mixup_db, room, spec_augment
from performer.training.average import WeightAverage
from performer.training.calibration import calibrate_on
from performer.training.datasets import MelSet, crop_frames, windows_of
from performer.training.distil import Distiller
from performer.training.figures import plot_curves
from performer.training.progress import Progress
from performer.training.warmstart import NewRowsOnly

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
    band_limit_p: float = 0.25
    """Share of windows whose bands above 4 or 8 kHz fall silent (as the band-limited sources)."""
    eq_db: float = 6.0  # largest gain of the random EQ curve across the bands
    background_p: float = 0.8
    """Share of windows mixed with background at a random SNR (when there is background)."""
    snr_db: tuple[float, float] = (0.0, 20.0)
    pitch: float = 0.0  # largest random pitch shift, in semitones
    quieter_p: float = 0.0  # share of windows put in a quieter room (augment.quieter_room)
    ema: float = 0.0
    """Decay of the weights' moving average that is validated and kept (0: the weights themselves; see
    :mod:`performer.training.average`)."""
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


def predict_windows(model: torch.nn.Module, windows: np.ndarray, device: torch.device, batch: int = 64) -> np.ndarray:
    """Softmax probabilities of ``windows`` (N, F, T) in batches."""
    from performer.training.calibration import softmax, window_logits

    logits = window_logits(model, windows, device, batch)
    return softmax(logits).astype(np.float32) if logits.size else logits


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


def validate(model: torch.nn.Module, val: MelSet, n_total: int, frames: int, device: torch.device,
             ddp: D.Context = D.SINGLE) -> dict[str, float]:
    """Clip-level ``val_loss`` and ``val_accuracy`` of ``val`` (under torchrun: this rank's share of the
    ``n_total`` validation clips, summed over the ranks)."""
    if len(val):
        probs, _ = clip_probabilities(model, val, frames, device)
        nll = -np.log(np.clip(probs[np.arange(len(val)), val.labels], 1e-7, 1))
        hits = probs.argmax(1) == val.labels
    else:
        nll, hits = np.zeros(0, np.float32), np.zeros(0, bool)
    if not ddp.distributed:
        return {"val_loss": float(np.mean(nll)), "val_accuracy": float(np.mean(hits))}
    nll_sum, hit_sum = D.all_sum([float(np.sum(nll, dtype=np.float64)), int(hits.sum())], ddp, device)
    return {"val_loss": nll_sum / n_total, "val_accuracy": hit_sum / n_total}


def fit(model: torch.nn.Module, train: MelSet, val: MelSet | None, cfg: TrainConfig, n_classes: int,
        settings: FeatureSettings = DEFAULT_SETTINGS, device: torch.device | None = None,
        on_epoch: Callable[[dict], None] | None = None, max_steps: int | None = None,
        on_best: Callable[[dict[str, Any], list[dict[str, float]]], None] | None = None,
        noise: MelSet | None = None, ddp: D.Context = D.SINGLE, frozen: NewRowsOnly | None = None,
        resume: dict[str, Any] | None = None, on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
        teacher: Distiller | None = None) -> dict[str, Any]:
    """Train ``model`` in place; returns the history and the best epoch. ``max_steps`` stops early (tests).
    ``on_best(best, history)`` is called whenever the validation accuracy improves (to save a checkpoint).
    ``noise``: background log-mels mixed into training windows (see :mod:`performer.training.augment`).
    ``ddp``: this process's place under torchrun (see :mod:`performer.training.distributed`); ``on_epoch`` and
    ``on_best`` are called on rank 0 only. ``frozen``: only the new classes' rows train (``--new-rows-only``).
    ``on_epoch_end(loop)`` gets the whole run state after each epoch and ``resume`` (such a state) goes on from it
    (see :mod:`performer.training.resume`). ``teacher``: soft targets from a trained model (distillation)."""
    device = device or torch.device("cpu")
    torch.manual_seed(cfg.seed + ddp.rank)
    shared_rng, rng = D.rngs(cfg.seed, ddp)
    frames = settings.frames(cfg.window)
    frames_max = settings.frames(cfg.window_max) if cfg.window_max else frames
    model.to(device)
    aug = RoomAugment(band_limit_p=cfg.band_limit_p, eq_db=cfg.eq_db, background_p=cfg.background_p,
                      snr_db=tuple(cfg.snr_db), pitch=cfg.pitch, quieter_p=cfg.quieter_p)  # type: ignore[arg-type]
    band_hz = mel_band_hz(settings)
    opt: torch.optim.Optimizer
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        raise ModelError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adamw")
    net = D.wrap(model, ddp, device)
    global_batch = cfg.batch_size * ddp.world_size
    steps_per_epoch = math.ceil(len(train) / global_batch)  # per rank
    val_mine = val.select(D.shard(len(val), ddp).tolist()) if val is not None and ddp.distributed else val
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.15) if cfg.optimizer == "adamw" else None
    average = WeightAverage(model, cfg.ema, (resume or {}).get("average")) if cfg.ema else None
    kept = average.module if average is not None else model  # what is validated, chosen and kept
    history: list[dict[str, float]] = []
    best = {"epoch": -1, "val_accuracy": -1.0, "val_loss": float("inf")}
    best_state = None
    stale = 0
    steps = 0
    t_start = time.time()
    first, done = 1, False
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        if sched is not None and resume.get("scheduler") is not None:
            sched.load_state_dict(resume["scheduler"])
        history, best, best_state = list(resume["history"]), dict(resume["best"]), resume["best_state"]
        stale, steps, done = int(resume["stale"]), int(resume["steps"]), bool(resume["done"])
        first = int(resume["epoch"]) + 1
        t_start -= float(resume["seconds"])
        R.restore_generators(resume, [shared_rng, rng])
        log.info("resuming after epoch %d of %d (best %.4f at epoch %d)", first - 1, cfg.epochs,
                 best["val_accuracy"], best["epoch"])
    for epoch in range(first, cfg.epochs + 1):
        if done:
            break
        if frozen is not None:
            frozen.train_mode(net)
        else:
            net.train()
        order = shared_rng.permutation(len(train))
        total, seen, correct = 0.0, 0, 0
        bar = Progress(steps_per_epoch, f"epoch {epoch}/{cfg.epochs}", on=ddp.is_main)
        for s in range(0, len(order), global_batch):
            batch = order[s:s + global_batch]
            if len(batch) < 2 * ddp.world_size:  # every rank needs two clips (BatchNorm, mixup)
                continue
            crop = int(shared_rng.integers(frames, frames_max + 1)) if frames_max > frames else frames
            crops = [crop_frames(train.get(i), crop, shared_rng) for i in batch]  # all ranks draw the same crops
            mine = D.shard(len(batch), ddp)
            idx = batch[mine]
            xb = torch.from_numpy(np.stack([crops[k] for k in mine]).astype(np.float32))
            yb = torch.from_numpy(train.labels[idx])
            noise_b = None
            if noise is not None and len(noise):
                picks = rng.integers(0, len(noise), len(idx))
                noise_b = torch.from_numpy(np.stack([crop_frames(noise.get(int(j)), crop, rng)
                                                     for j in picks]).astype(np.float32))
            xb = room(xb, rng, aug, band_hz, noise_b)
            if cfg.gain_db > 0:
                xb = xb + torch.from_numpy(rng.uniform(-cfg.gain_db, cfg.gain_db, (len(idx), 1, 1)).astype(np.float32))
            if cfg.specaugment:
                xb = spec_augment(xb, rng)
            xb, target = mixup_db(xb, yb, cfg.mixup, rng, n_classes)
            xb, target, yb = xb.to(device), target.to(device), yb.to(device)
            logits = net(xb)
            loss = torch.sum(-target * F.log_softmax(logits, dim=1), dim=1).mean()
            if teacher is not None:
                loss = teacher.loss(logits, loss, xb)
            opt.zero_grad(set_to_none=True)
            (loss * D.loss_scale(len(idx), len(batch), ddp) if ddp.distributed else loss).backward()
            opt.step()
            if frozen is not None:
                frozen.restore()
            if average is not None:
                average.update(model)
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
        if ddp.distributed:
            total, n_seen, n_correct = D.all_sum([total, seen, correct], ddp, device)
            seen, correct = int(n_seen), int(n_correct)
        row: dict[str, float] = {"epoch": epoch, "train_loss": total / max(1, seen),
                                 "train_accuracy": correct / max(1, seen),
                                 "lr": opt.param_groups[0]["lr"], "seconds": time.time() - t_start}
        if val is not None and len(val):
            D.sync_buffers(kept, ddp)  # validate with rank 0's BatchNorm statistics, the ones it saves
            row.update(validate(kept, val if val_mine is None else val_mine, len(val), frames, device, ddp))
        history.append(row)
        log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch"))
        if on_epoch and ddp.is_main:
            on_epoch(row)
        if max_steps is not None and steps >= max_steps:
            break
        if val is not None and len(val):
            # Only new rows training: their offset is fitted afterwards (rejection), so the validation accuracy
            # before it says little; the last epoch (the learning rate annealed to zero) is kept.
            better = frozen is not None or D.agree(row["val_accuracy"] > best["val_accuracy"] or (
                row["val_accuracy"] == best["val_accuracy"] and row["val_loss"] < best["val_loss"]), ddp)
            if better:
                best = {"epoch": epoch, "val_accuracy": row["val_accuracy"], "val_loss": row["val_loss"]}
                best_state = {k: v.detach().cpu().clone() for k, v in kept.state_dict().items()}
                stale = 0
                if on_best and ddp.is_main:
                    on_best(dict(best, seconds=time.time() - t_start), history)
            else:
                stale += 1
                if stale >= cfg.patience:
                    log.info("early stop: no better validation accuracy for %d epochs (best %.4f at epoch %d)",
                             stale, best["val_accuracy"], best["epoch"])
                    done = True
        if on_epoch_end and ddp.is_main:
            on_epoch_end({"epoch": epoch, "done": done, "model": model.state_dict(), "optimizer": opt.state_dict(),
                          "scheduler": sched.state_dict() if sched is not None else None, "history": history,
                          "best": best, "best_state": best_state, "stale": stale, "steps": steps,
                          "average": average.state() if average is not None else None,
                          "seconds": time.time() - t_start, "rng": [shared_rng.bit_generator.state,
                                                                    rng.bit_generator.state],
                          "torch_rng": torch.get_rng_state()})
        if done:
            break
    if best_state is None and average is not None:  # nothing validated: the average at the end is kept
        best_state = kept.state_dict()
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"history": history, "best": best, "seconds": time.time() - t_start, "steps": steps}


def train_from_args(args) -> dict[str, Any] | None:
    """``performer train``. Under torchrun every process runs it (see :mod:`performer.training.distributed`);
    rank 0 returns the result, the others None."""
    loop = None
    if getattr(args, "resume", None):
        state = R.load(args.resume)
        args, loop = R.resumed_args(state, args), state["loop"]
    if getattr(args, "data", None) is None:
        raise DataError("performer train needs --data DIR (or --resume PATH to go on with an interrupted run)")
    share = getattr(args, "none_share", None)
    if share and getattr(args, "background", None) is None:
        raise DataError(f"--none-share {share:g} needs --background DIR (the '{NONE_CLASS}' clips it repeats)")
    torch.set_num_threads(max(1, int(args.threads)))
    options = dict(band_limit_p="band_limit", eq_db="eq_db", background_p="background_mix", pitch="pitch",
                   quieter_p="quieter_room")  # the room chain's settings and their command-line options
    augment: dict[str, Any] = {k: getattr(args, a, None) for k, a in options.items()}
    off = dict(mixup=0.0, specaugment=False, gain_db=0.0, **{k: 0.0 for k in options})
    if getattr(args, "no_augment", False):
        augment = off
    cfg = TrainConfig.for_model(args.model, window=args.window, window_max=getattr(args, "window_max", None),
                                epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                                seed=args.seed, threads=args.threads, ema=getattr(args, "ema", None), **augment)
    with D.session(args.device) as (ddp, device):
        if loop is not None and ddp.distributed:
            raise ModelError("--resume goes on with a run on one process; run it without torchrun")
        return _train(args, cfg, ddp, device, loop)


def _train(args, cfg: TrainConfig, ddp: D.Context, device: torch.device,
           loop: dict[str, Any] | None = None) -> dict[str, Any] | None:
    from performer.training import trainset
    from performer.training.folds import parse_folds

    name = cfg.model
    settings = FeatureSettings(fmax=float(args.fmax)) if getattr(args, "fmax", None) else DEFAULT_SETTINGS
    with D.rank_zero_first(ddp):  # rank 0 computes and caches the log-mels, the others read the cache
        sets = trainset.build(args.data, folds=parse_folds(args.folds), val_fold=args.val_fold,
                              val_fraction=args.val_fraction, extra=getattr(args, "extra", None) or [],
                              background=getattr(args, "background", None),
                              hold_out_sources=getattr(args, "hold_out_sources", None) or [],
                              hold_out_background=getattr(args, "hold_out_background", None) or [],
                              skip_bad=args.skip_bad, seed=args.seed,
                              cache=Path(args.cache) if args.cache else None, limit=args.limit, settings=settings)
    classes, train_ms, val_ms = sets.classes, sets.train, sets.val
    share = getattr(args, "none_share", None)
    if share and NONE_CLASS in classes:
        train_ms = trainset.with_share(train_ms, classes.index(NONE_CLASS), share)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{name}-{stamp}" / "model.pt"
    args.out = str(out)  # a resumed run writes where it wrote
    command = R.command_line(args)
    cfg.model_config = {"image_size": cfg.image_size} if cfg.image_size else {}
    if getattr(args, "width", None):
        if name != "realtime":
            raise ModelError(f"--width applies to the realtime model, not {name}")
        cfg.model_config["width"] = int(args.width)
    init = None
    if getattr(args, "init", None):
        from performer.training import warmstart

        init_state, init_meta = warmstart.init_config(args.init, name, getattr(args, "width", None))
        cfg.model_config = dict(init_meta.get("model_config") or {})
    torch.manual_seed(cfg.seed)  # the new layers' weights (under torchrun DDP copies rank 0's to the others)
    model = M.build_model(name, len(classes), pretrained=True, config=cfg.model_config)
    cfg.model_config = M.model_config(model)
    frozen = None
    if getattr(args, "init", None):
        init = {"checkpoint": str(Path(args.init).resolve()),
                **warmstart.warm_start(model, init_state, list(init_meta["classes"]), classes)}
        if getattr(args, "new_rows_only", False):
            frozen = warmstart.NewRowsOnly(model, list(init_meta["classes"]), classes)
            init["new_rows_only"] = True
    elif getattr(args, "new_rows_only", False):
        raise ModelError("--new-rows-only needs --init CKPT (the model whose other weights stay)")
    log.info("training %s (%d parameters) on %d clips, validating on %d, window %.2f s, device %s",
             name, M.count_parameters(model), len(train_ms), len(val_ms) if val_ms else 0, cfg.window, device)

    def make_meta(best: dict[str, Any], history: list[dict[str, float]], seconds: float, final: bool) -> dict[str, Any]:
        return {
            "model": name,
            "model_config": cfg.model_config,
            "classes": list(classes),
            "features": settings.to_dict(),
            "window_seconds": float(cfg.window),
            "padding": "tile",
            "dataset": sets.description,
            "training": {**{k: v for k, v in asdict(cfg).items() if k != "model_config"}, **ddp.describe(),
                         "global_batch_size": cfg.batch_size * ddp.world_size, "init": init,
                         "teacher": None if teacher is None else {"checkpoint": str(args.teacher),
                                                                  "alpha": teacher.alpha,
                                                                  "temperature": teacher.temperature}},
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

    teacher = None
    if getattr(args, "teacher", None):
        teacher = Distiller.from_checkpoint(args.teacher, list(classes), device, args.distil_alpha,
                                            args.distil_temperature, settings)
    result = fit(model, train_ms, val_ms, cfg, len(classes), settings, device, on_best=save_best, noise=sets.noise,
                 ddp=ddp, frozen=frozen, resume=loop, teacher=teacher,
                 on_epoch_end=lambda state: R.save(R.state_path(out), command, state))
    if not ddp.is_main:
        return None
    meta = make_meta(result["best"], result["history"], result["seconds"], final=True)
    if val_ms is not None and len(val_ms):  # the best epoch's weights are loaded: fit the rejection, the temperature
        from performer.training.rejection import DEFAULT_COST, fit_rejection

        cost = getattr(args, "none_cost", None)
        rejection = None
        if NONE_CLASS in classes:
            _, window_probs = clip_probabilities(model, val_ms, settings.frames(cfg.window), device)
            rejection = fit_rejection(model, classes, val_ms.labels, window_probs,
                                      DEFAULT_COST if cost is None else cost)
        block = calibrate_on(model, val_ms, cfg.window, device, settings)
        if block is not None:
            meta["calibration"] = block
        if rejection is not None:
            meta["rejection"] = rejection
    save_checkpoint(out, model, meta)
    curves = plot_curves(result["history"], out.with_name(out.stem + "_curves.png"),
                         f"{name} on {Path(args.data).name}")
    log.info("checkpoint saved to %s, curves to %s", out, curves)
    calibration = {k: meta["calibration"][k] for k in ("temperature", "ece_before", "ece_after")} \
        if "calibration" in meta else None
    return {"checkpoint": str(out), "curves": str(curves), **meta["metrics"], "calibration": calibration}
