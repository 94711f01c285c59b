"""Calibration: temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks").

A network's softmax outputs are often over-confident. Temperature scaling divides the logits by one scalar
``T > 0`` fitted on held-out data (the ``T`` that minimises the negative log-likelihood of
``softmax(logits / T)``): ``T > 1`` softens the probabilities, ``T < 1`` sharpens them, and the arg-max (so the
accuracy) never changes. A checkpoint carries it as ``meta["calibration"] = {"temperature": T, ...}``;
:class:`performer.classifier.inference.Classifier` applies it in every predict path.

Reliability is measured by the top-label expected calibration error (ECE): the windows are put into equal-width
bins of confidence (their top probability), and the ECE is the mean over bins of ``|accuracy - confidence|``,
each bin weighted by its share of the windows. :func:`calibrate_from_args` is ``performer calibrate``.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from performer.errors import ModelError

if TYPE_CHECKING:
    import torch

    from performer.sound.features import FeatureSettings
    from performer.training.datasets import MelSet

log = logging.getLogger(__name__)

DEFAULT_BINS = 15


def _labels(labels: Any, n: int, n_classes: int, what: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ModelError(f"calibration labels have shape {y.shape}, but the {what} have {n} rows; "
                         "one class index per row is needed")
    if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer)
                               or (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y))
                                   and np.all(y == np.round(y)))):
        raise ModelError(f"calibration labels must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    bad = y[(y < 0) | (y >= n_classes)]
    if bad.size:
        raise ModelError(f"calibration label {int(bad[0])} is out of range: {n_classes} classes allow 0 to "
                         f"{n_classes - 1} ({bad.size} such labels)")
    return y


def _check_logits(logits: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ModelError(f"calibration logits must be a 2-D array (windows, classes), got shape {z.shape}")
    if z.shape[0] == 0:
        raise ModelError("calibration needs held-out windows, got none (empty logits)")
    if z.shape[1] < 2:
        raise ModelError(f"calibration logits need at least 2 classes (columns), got {z.shape[1]}")
    finite = np.isfinite(z)
    if not finite.all():
        raise ModelError(f"calibration logits hold {int((~finite).sum())} non-finite values (NaN or inf) in "
                         f"{z.shape[0]} rows; every logit must be a finite number")
    return z, _labels(labels, z.shape[0], z.shape[1], "logits")


def _check_probs(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ModelError(f"probabilities must be a non-empty 2-D array (windows, classes of at least 2), "
                         f"got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or np.abs(p.sum(axis=1) - 1).max() > 1e-3:
        raise ModelError("probabilities must be finite, non-negative and sum to 1 in every row "
                         "(pass softmax outputs, not logits)")
    return p, _labels(labels, p.shape[0], p.shape[1], "probabilities")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` over the last axis, computed stably in float64."""
    s = np.asarray(logits, dtype=np.float64) / float(temperature)
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def _nll(z: np.ndarray, y: np.ndarray, temperature: float) -> float:
    s = z / temperature
    rows = np.arange(len(y))
    top = s.argmax(axis=1)
    e = np.exp(s - s[rows, top][:, None])
    e[rows, top] = 0.0  # log-sum-exp = max + log1p(the rest): exact even when the rest is 1e-40
    return float(np.mean(s[rows, top] - s[rows, y] + np.log1p(e.sum(axis=1))))


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean NLL of ``softmax(logits / temperature)`` at ``labels``."""
    z, y = _check_logits(logits, labels)
    return _nll(z, y, float(temperature))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature ``T`` minimising the NLL of ``softmax(logits / T)``, within
    :data:`~performer.classifier.checkpoint.TEMPERATURE_RANGE` (0.05 to 20).

    The NLL is convex in ``1/T``, so it has one minimum along ``log T``, found by bounded Brent search
    (``scipy.optimize.minimize_scalar``); the two bounds are compared too, so a minimum beyond them gives the bound.
    """
    from scipy.optimize import minimize_scalar

    from performer.classifier.checkpoint import TEMPERATURE_RANGE

    z, y = _check_logits(logits, labels)
    if float(np.ptp(z, axis=1).max()) == 0.0:
        return 1.0  # every row uniform: no temperature changes anything
    lo, hi = math.log(TEMPERATURE_RANGE[0]), math.log(TEMPERATURE_RANGE[1])
    res = minimize_scalar(lambda u: _nll(z, y, math.exp(u)), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-6})
    best = min((float(res.x), lo, hi), key=lambda u: _nll(z, y, math.exp(u)))
    t = float(min(max(math.exp(best), TEMPERATURE_RANGE[0]), TEMPERATURE_RANGE[1]))
    if best in (lo, hi):
        log.warning("the fitted temperature reached its bound %.3g (allowed %g-%g)", t, *TEMPERATURE_RANGE)
    return t


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin ``(k/bins, (k+1)/bins]`` (the first includes 0): window count, mean
    confidence and accuracy (NaN in empty bins)."""
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ModelError(f"calibration bins must be a positive whole number, got {bins!r:.40}")
    p, y = _check_probs(probs, labels)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    idx = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(idx, weights=conf, minlength=bins) / count
        accuracy = np.bincount(idx, weights=correct, minlength=bins) / count
    return {"count": count, "confidence": confidence, "accuracy": accuracy,
            "edges": np.linspace(0.0, 1.0, bins + 1)}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Top-label ECE: ``sum_k n_k / n * |accuracy_k - confidence_k|`` over equal-width confidence bins."""
    r = reliability_bins(probs, labels, bins)
    full = r["count"] > 0
    gap = np.abs(r["accuracy"][full] - r["confidence"][full])
    return float(np.sum(r["count"][full] * gap) / r["count"].sum())


def calibration_report(logits: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Fit the temperature and measure ECE and NLL before (``T = 1``) and after it."""
    z, y = _check_logits(logits, labels)
    t = fit_temperature(z, y)
    before, after = softmax(z), softmax(z, t)
    return {"temperature": t,
            "ece_before": expected_calibration_error(before, y, bins),
            "ece_after": expected_calibration_error(after, y, bins),
            "nll_before": _nll(z, y, 1.0), "nll_after": _nll(z, y, t),
            "n": int(len(y)), "bins": int(bins), "accuracy": float(np.mean(before.argmax(axis=1) == y))}


def reliability_figure(probs: np.ndarray, labels: np.ndarray, path: Path | str, title: str = "",
                       bins: int = DEFAULT_BINS, before: np.ndarray | None = None) -> Path:
    """A reliability diagram as a PNG: accuracy per confidence bin against the diagonal, the ECE in the legend,
    and the share of windows per bin below. ``before`` (uncalibrated probabilities) is drawn too when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from performer.training.figures import save_figure

    r = reliability_bins(probs, labels, bins)
    centres = (r["edges"][:-1] + r["edges"][1:]) / 2
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    if before is not None:
        b = reliability_bins(before, labels, bins)
        ax.plot(centres, b["accuracy"], "s--", color="tab:orange", alpha=0.8,
                label=f"before (ECE {expected_calibration_error(before, labels, bins):.3f})")
    ax.bar(centres, np.nan_to_num(r["accuracy"]), width=1.0 / bins, edgecolor="black", alpha=0.6, color="tab:blue",
           label=f"{'after' if before is not None else 'accuracy'} "
           f"(ECE {expected_calibration_error(probs, labels, bins):.3f})")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "reliability diagram")
    hist.bar(centres, r["count"] / r["count"].sum(), width=1.0 / bins, edgecolor="black", color="tab:gray")
    hist.set_xlabel("confidence (top probability)")
    hist.set_ylabel("share of windows")
    return save_figure(fig, path)


# -- logits of held-out data ----------------------------------------------------------------------------------

def window_logits(model: Any, windows: np.ndarray, device: Any = "cpu", batch: int = 64) -> np.ndarray:
    """The network's logits (not softmax) for log-mel ``windows`` ``(n, n_mels, frames)``, in batches."""
    import torch

    out = []
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(windows), batch):
            xb = torch.from_numpy(np.ascontiguousarray(windows[s:s + batch], dtype=np.float32)).to(device)
            out.append(model(xb).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def held_out_logits(model: Any, ms: Any, frames: int, device: Any = "cpu", model_frames: int | None = None,
                    hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels of every ``frames``-long window (hop ``frames // 2``) of every clip of the
    :class:`~performer.training.datasets.MelSet` ``ms``; windows shorter than ``model_frames`` are tiled up to
    it, as :class:`~performer.classifier.inference.Classifier` does."""
    from performer.training.datasets import tile_to, windows_of

    wins, labels = [], []
    for i in range(len(ms)):
        w = windows_of(ms.get(i), frames, hop)
        if model_frames and frames < model_frames:
            w = np.stack([tile_to(x, model_frames) for x in w])
        wins.append(w)
        labels.extend([int(ms.labels[i])] * len(w))
    if not wins:
        raise ModelError("no held-out clips to calibrate on")
    return window_logits(model, np.concatenate(wins), device), np.asarray(labels, np.int64)


# -- performer calibrate ---------------------------------------------------------------------------------------

def default_output(model: Path | str) -> Path:
    model = Path(model)
    return model.with_name(f"{model.stem}_calibrated{model.suffix or '.pt'}")


def calibrate_from_args(args) -> dict[str, Any]:
    """``performer calibrate``: fit the temperature of a checkpoint on held-out data and write a copy of the
    checkpoint that carries it. Never replaces an existing file without ``--force``."""
    import torch

    from performer.classifier.checkpoint import checkpoint_temperature, load_checkpoint, write_calibration
    from performer.device import choose_device
    from performer.errors import DataError
    from performer.sound.features import FeatureSettings
    from performer.training import datasets
    from performer.training.folds import parse_folds

    out = Path(args.out) if args.out else default_output(args.model)
    if out.exists() and not args.force:
        raise ModelError(f"{out} already exists; pass --force to replace it or choose another --out"
                         + (" (it is the checkpoint being calibrated)" if out.resolve() == Path(args.model).resolve()
                            else ""))
    torch.set_num_threads(max(1, int(args.threads)))
    device = choose_device(args.device)
    model, meta = load_checkpoint(args.model, device)
    previous = checkpoint_temperature(meta, args.model)
    settings = FeatureSettings.from_dict(meta.get("features", {}))
    folds = parse_folds(args.folds)
    layout = datasets.detect_layout(args.data)
    if layout == "urbansound8k":
        if args.val_fraction is not None:
            raise DataError(f"{args.data} is an UrbanSound8K set: choose held-out folds with --folds, "
                            "not --val-fraction")
        if folds is None:
            folds = (meta.get("dataset") or {}).get("validation_folds") or None
            if not folds:
                raise DataError(f"{args.model} names no validation fold; choose held-out folds with --folds")
            log.info("calibrating on the checkpoint's validation fold(s) %s", folds)
        ds = datasets.load_dataset(args.data, folds=folds, skip_bad=args.skip_bad)
    else:
        if folds is not None:
            raise DataError(f"{args.data} is a folder-per-class set, which has no folds; use --val-fraction "
                            "(the holdout `performer train` made) or give a folder of held-out sound")
        ds = datasets.load_dataset(args.data, skip_bad=args.skip_bad)
        if args.val_fraction is not None:
            seed = int(args.seed if args.seed is not None else (meta.get("training") or {}).get("seed", 0))
            _, ds = datasets.split_holdout(ds, args.val_fraction, seed)
    if list(ds.classes) != list(meta["classes"]):
        raise DataError(f"the classes of {args.data} ({', '.join(ds.classes)}) differ from the model's "
                        f"({', '.join(meta['classes'])}); calibrate on a set with the same classes")
    if not len(ds):
        raise DataError(f"no held-out clips in {args.data} to calibrate on")
    ms = datasets.compute_mels(ds, settings, args.cache, args.skip_bad)
    model_window = float(meta.get("window_seconds", 1.0))
    window = float(args.window or model_window)
    logits, labels = held_out_logits(model, ms, settings.frames(window), device, settings.frames(model_window))
    report = calibration_report(logits, labels, args.bins)
    block = {**report, "window": window, "clips": len(ms), "data": str(Path(args.data).resolve()),
             "folds": folds, "val_fraction": args.val_fraction,
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_calibration(args.model, out, block)
    png = reliability_figure(softmax(logits, report["temperature"]), labels,
                             out.with_name(out.stem + "_calibration.png"),
                             f"{meta.get('model', '?')}, T = {report['temperature']:.3f}", args.bins,
                             before=softmax(logits))
    log.info("temperature %.4f fitted on %d windows of %d clips; ECE %.4f -> %.4f; written to %s",
             report["temperature"], report["n"], len(ms), report["ece_before"], report["ece_after"], out)
    return {**block, "previous_temperature": previous, "model": str(args.model), "checkpoint": str(out),
            "reliability_png": str(png)}


def calibrate_on(model: torch.nn.Module, val: MelSet, window: float, device: torch.device,
                 settings: FeatureSettings | None = None) -> dict[str, Any] | None:
    """The checkpoint's calibration block (``meta["calibration"]``, see :mod:`performer.training.calibration`):
    the temperature of ``model`` fitted on the ``window``-second windows (half-window hop) of the validation
    clips; None (with a warning) when it cannot be fitted, so that the trained model is saved all the same."""
    from performer.errors import PerformerError
    from performer.sound.features import DEFAULT_SETTINGS

    frames = (settings or DEFAULT_SETTINGS).frames(window)
    try:
        logits, labels = held_out_logits(model, val, frames, device, model_frames=frames)
        report = calibration_report(logits, labels)
    except PerformerError as e:
        log.warning("no calibration at the end of training: %s", e)
        return None
    log.info("calibration on the validation set (%d windows of %d clips): temperature %.4f, ECE %.4f -> %.4f",
             report["n"], len(val), report["temperature"], report["ece_before"], report["ece_after"])
    return {**report, "window": float(window), "clips": len(val), "data": "the training run's validation set",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
