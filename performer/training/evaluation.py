"""Evaluation: accuracy, macro-F1, per-class precision and recall, the normalised confusion matrix and
accuracy per window length.

For each window length ``W`` every clip's log-mel is cut into ``W``-second windows with a hop of ``W/2``
(clips shorter than ``W`` give one tiled window, the training padding policy). Two accuracies are reported:

* **clip accuracy**: the window probabilities of a clip are averaged and the clip's class is the arg-max
  (the usual UrbanSound8K protocol, comparable to published per-clip figures);
* **window accuracy**: every window is classified on its own, as the live engine does.

The headline ``accuracy`` (and macro-F1, per-class figures and confusion matrix) is the clip accuracy at the
model's own training window.

Calibration: ``ece`` is the top-label expected calibration error (15 equal-width confidence bins, see
:mod:`performer.training.calibration`) of the single windows at the model's window, with the probabilities as
the checkpoint gives them (its ``temperature`` applied); ``ece_clips`` is that of the clip averages, and every
``by_window`` row has its window ECE.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from performer.training.calibration import DEFAULT_BINS, expected_calibration_error, reliability_figure
from performer.training.datasets import MelSet, tile_to, windows_of
from performer.training.figures import save_figure

log = logging.getLogger(__name__)

DEFAULT_WINDOWS = (0.5, 1.0, 2.0, 4.0)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def scores(cm: np.ndarray) -> dict[str, Any]:
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    present = support > 0
    return {
        "accuracy": float(tp.sum() / max(1.0, cm.sum())),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "precision": precision, "recall": recall, "f1": f1, "support": support.astype(int),
    }


def evaluate_mels(predict_mels, ms: MelSet, classes: Sequence[str], settings, model_window: float,
                  windows: Sequence[float] = DEFAULT_WINDOWS, batch: int = 64,
                  collect: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Evaluate with ``predict_mels((n, n_mels, frames)) -> (n, n_classes)`` on the clips of ``ms``. ``collect``,
    when given, receives the single-window ``probs`` and ``labels`` at the model's window (reliability diagram)."""
    n = len(classes)
    windows = sorted(set(float(w) for w in list(windows) + [float(model_window)]))
    per_window: list[dict[str, Any]] = []
    main: dict[str, Any] | None = None
    model_frames = settings.frames(model_window)
    for w in windows:
        frames = settings.frames(w)
        clip_probs = np.zeros((len(ms), n), np.float32)
        win_correct = win_total = 0
        win_probs, win_labels = [], []
        for i in range(len(ms)):
            wins = windows_of(ms.get(i), frames)
            if frames < model_frames:  # shorter than the model's window: tiled up to it, as Classifier.predict does
                wins = np.stack([tile_to(x, model_frames) for x in wins])
            probs = np.concatenate([predict_mels(wins[s:s + batch]) for s in range(0, len(wins), batch)])
            clip_probs[i] = probs.mean(axis=0)
            win_correct += int((probs.argmax(1) == ms.labels[i]).sum())
            win_total += len(probs)
            win_probs.append(probs)
            win_labels.append(np.full(len(probs), ms.labels[i], np.int64))
        pred = clip_probs.argmax(1)
        cm = confusion(ms.labels, pred, n)
        sc = scores(cm)
        all_probs, all_labels = np.concatenate(win_probs), np.concatenate(win_labels)
        row = {"window": w, "clip_accuracy": sc["accuracy"], "window_accuracy": win_correct / max(1, win_total),
               "macro_f1": sc["macro_f1"], "windows": win_total,
               "ece": expected_calibration_error(all_probs, all_labels, DEFAULT_BINS)}
        per_window.append(row)
        log.info("window %.2f s: clip accuracy %.4f, window accuracy %.4f, macro-F1 %.4f, window ECE %.4f",
                 w, row["clip_accuracy"], row["window_accuracy"], row["macro_f1"], row["ece"])
        if abs(w - model_window) < 1e-9:
            main = {"cm": cm, **sc, "ece": row["ece"],
                    "ece_clips": expected_calibration_error(clip_probs, ms.labels, DEFAULT_BINS),
                    "window_probs": all_probs, "window_labels": all_labels}
    assert main is not None
    if collect is not None:
        collect.update(probs=main["window_probs"], labels=main["window_labels"])
    cm = main["cm"]
    norm = cm / np.maximum(1, cm.sum(axis=1, keepdims=True))
    return {
        "accuracy": main["accuracy"],
        "macro_f1": main["macro_f1"],
        "ece": main["ece"],
        "ece_clips": main["ece_clips"],
        "ece_bins": DEFAULT_BINS,
        "window": float(model_window),
        "clips": len(ms),
        "classes": list(classes),
        "per_class": [
            {"class": c, "precision": float(main["precision"][k]), "recall": float(main["recall"][k]),
             "f1": float(main["f1"][k]), "support": int(main["support"][k])}
            for k, c in enumerate(classes)
        ],
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_normalized": np.round(norm, 4).tolist(),
        "by_window": per_window,
    }


def plot_confusion(report: dict[str, Any], path: Path | str, title: str = "") -> Path:
    """The row-normalised confusion matrix as a PNG (true class rows, predicted class columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = np.asarray(report["confusion_matrix_normalized"])
    classes = report["classes"]
    size = max(5.0, 0.6 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if norm[i, j] >= 0.005:
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"normalised confusion matrix (accuracy {report['accuracy']:.3f})")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return save_figure(fig, path)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table's lines."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def _heard(row: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in row["heard_as"].items())


def to_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"**Accuracy** (clips, {report['window']:g}-s windows averaged per clip): {report['accuracy']:.4f}  ",
        f"**Macro-F1**: {report['macro_f1']:.4f}  ",
        f"**ECE** (single {report['window']:g}-s windows, {report.get('ece_bins', DEFAULT_BINS)} bins"
        + (f", temperature {report['temperature']:.4g}" if "temperature" in report else "")
        + f"): {report['ece']:.4f}; clip averages: {report['ece_clips']:.4f}  ",
        f"Clips: {report['clips']}"
        + (f", data: {report['data']}, folds: {report.get('folds')}" if "data" in report else ""),
        "",
        "| window (s) | clip accuracy | window accuracy | macro-F1 (clips) | window ECE | windows |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["by_window"]:
        lines.append(f"| {r['window']:g} | {r['clip_accuracy']:.4f} | {r['window_accuracy']:.4f} "
                     f"| {r['macro_f1']:.4f} | {r['ece']:.4f} | {r['windows']} |")
    lines += ["", "| class | precision | recall | F1 | clips |", "|---|---|---|---|---|"]
    for r in report["per_class"]:
        lines.append(f"| {r['class']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
    for part in report.get("outside", {}).get("sources", []):
        lines += ["", f"Other sources ({part['root']}), clips at {part['window']:g}-s windows:", ""]
        lines += _table(("source", "class", "clips", "recall (clips)", "recall (windows)", "others heard as"),
                        [(r["source"], r["class"], r["clips"], f"{r['recall']:.3f}", f"{r['window_recall']:.3f}",
                          _heard(r)) for r in part["rows"]])
    bg = report.get("outside", {}).get("background")
    if bg:
        lines += ["", f"Background ({bg['root']}): **false-class rate** {bg['false_class_rate']:.3f} of "
                  f"{bg['clips']} clips, {bg['window_false_class_rate']:.3f} of single windows", ""]
        lines += _table(("category", "clips", "false class (clips)", "false class (windows)", "heard as"),
                        [(r["category"], r["clips"], f"{r['false_class_rate']:.3f}",
                          f"{r['window_false_class_rate']:.3f}", _heard(r)) for r in bg["rows"]])
    if report.get("confusion_png"):
        lines += ["", f"Confusion matrix: {report['confusion_png']}"]
    if report.get("reliability_png"):
        lines += ["", f"Reliability diagram: {report['reliability_png']}"]
    return "\n".join(lines)


def _outside(clf: Any, args) -> dict[str, Any]:
    """The sets from outside the training data that ``args`` names (``--extra``/``--background``)."""
    from performer.training import outside

    found: dict[str, Any] = {}
    for root in getattr(args, "extra", None) or []:
        found.setdefault("sources", []).append(
            outside.source_recall(clf, root, getattr(args, "sources", None), args.cache, args.skip_bad))
    if getattr(args, "background", None):
        found["background"] = outside.false_class_rate(clf, args.background, getattr(args, "categories", None),
                                                       args.cache, args.skip_bad)
    return found


def evaluate_from_args(args) -> dict[str, Any]:
    import json

    import torch

    from performer.classifier.inference import Classifier
    from performer.errors import DataError
    from performer.training import datasets
    from performer.training.folds import parse_folds

    torch.set_num_threads(max(1, int(args.threads)))
    clf = Classifier.from_checkpoint(args.model, device=args.device)
    folds = parse_folds(args.folds)
    layout = datasets.detect_layout(args.data)
    if layout == "urbansound8k" and folds is None:
        seen = clf.meta.get("dataset", {})
        folds = seen.get("validation_folds") or None
        if folds:
            log.info("evaluating on the checkpoint's validation fold(s) %s", folds)
        elif seen.get("train_folds"):  # validated on part of its training folds: test on the folds it never saw
            # the folds come from the CSV alone: the files are checked once, below, for the folds evaluated
            present = datasets.load_dataset(args.data, skip_bad=True, check_readable=False).folds
            folds = [f for f in present if f not in seen["train_folds"]] or None
            if folds is None:
                raise DataError(f"{args.data} has no fold the model did not train on ({seen['train_folds']}); "
                                "name the folds with --folds")
            log.info("evaluating on the fold(s) the checkpoint never trained on: %s", folds)
    ds = datasets.load_dataset(args.data, folds=folds if layout == "urbansound8k" else None, skip_bad=args.skip_bad)
    if list(ds.classes) != list(clf.classes):
        if not set(ds.classes) <= set(clf.classes):
            raise DataError(f"the classes of {args.data} ({', '.join(ds.classes)}) are not among the model's "
                            f"({', '.join(clf.classes)}); evaluate on a set with the same classes")
        # the model knows more (e.g. 'none'): the set's labels are renumbered into the model's classes, and a
        # clip heard as one of the others counts as wrong
        from performer.training.manifests import relabel

        ds = relabel(ds, list(clf.classes))
    ms = datasets.compute_mels(ds, clf.settings, args.cache, args.skip_bad)
    windows = [float(w) for w in str(args.windows).split(",") if w.strip()]
    at_model_window: dict[str, np.ndarray] = {}
    report = evaluate_mels(clf.predict_mels, ms, clf.classes, clf.settings, clf.window_seconds, windows,
                           collect=at_model_window)
    report.update({"model": str(args.model), "data": str(args.data), "folds": folds, "skipped_files": len(ds.skipped),
                   "temperature": clf.temperature})
    report["outside"] = _outside(clf, args)
    out = Path(args.out) if args.out else Path(args.model).parent
    stem = Path(args.model).stem
    png = plot_confusion(report, out / f"{stem}_confusion.png",
                         f"{clf.model_name}, {Path(args.data).name} folds {folds}: accuracy {report['accuracy']:.3f}")
    report["confusion_png"] = str(png)
    report["reliability_png"] = str(reliability_figure(
        at_model_window["probs"], at_model_window["labels"], out / f"{stem}_reliability.png",
        f"{clf.model_name}, {clf.window_seconds:g}-s windows, T = {clf.temperature:.3g}"))
    (out / f"{stem}_evaluation.json").write_text(json.dumps(report, indent=2))
    (out / f"{stem}_evaluation.md").write_text(to_markdown(report) + "\n")
    return report
