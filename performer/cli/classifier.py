"""Command-line entry points of the sound classifier: ``train``, ``evaluate`` and ``classify``.

Heavy imports (torch, librosa) happen inside the handlers so that ``performer --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from performer.cli.types import (
    existing_dir,
    existing_file,
    float_range,
    nonempty,
    number_list,
    positive_float,
    positive_int,
    writable_dir,
    writable_file,
)
from performer.device import DEVICE_CHOICES

log = logging.getLogger(__name__)

MODEL_CHOICES = ("realtime", "efficientnet_lite0", "resnet50")

DEVICE_HELP = "torch device: auto picks cuda, then mps, then cpu (default: auto)"


def folds_text(text: str) -> str:
    """UrbanSound8K folds such as ``1,2`` or ``1-9`` (checked here, parsed again by the command)."""
    from performer.classifier.folds import parse_folds

    try:
        folds = parse_folds(text)
    except ValueError:
        folds = None
    if not folds or any(f < 1 for f in folds):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of fold numbers, e.g. '1,2' or '1-9'")
    return text


def register(subparsers) -> None:
    """Add the ``train``, ``evaluate`` and ``classify`` sub-commands."""
    p = subparsers.add_parser(
        "train",
        help="train a sound classifier on UrbanSound8K or a folder-per-class set",
        description="Train a sound classifier. DIR is either the UrbanSound8K layout (metadata/UrbanSound8K.csv, "
        "audio/foldN/...) or a folder per class (DIR/<class>/*.wav).",
    )
    p.set_defaults(log_level=logging.INFO)  # its progress (epochs, best so far) is its log
    p.add_argument("--data", required=True, metavar="DIR", type=existing_dir,
                   help="dataset folder (UrbanSound8K or folder-per-class)")
    p.add_argument("--model", default="realtime", choices=MODEL_CHOICES, help="architecture (default: realtime)")
    p.add_argument("--folds", default=None, type=folds_text,
                   help="UrbanSound8K training folds, e.g. '1,2' or '1-9' (default: all but the validation fold)")
    p.add_argument("--val-fold", type=positive_int, default=None,
                   help="UrbanSound8K validation fold "
                   "(default: the fold after the last training fold, else the last fold)")
    p.add_argument("--val-fraction", type=float_range(0.0, 1.0), default=0.2,
                   help="folder-per-class sets: fraction of files held out for validation (default 0.2)")
    p.add_argument("--window", type=float_range(0.2, 4.0), default=None,
                   help="training window in seconds, 0.2-4 (default: model's; under 0.5 s for fast-path models)")
    p.add_argument("--epochs", type=positive_int, default=None, help="maximum epochs (default: model's)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: model's)")
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: model's)")
    p.add_argument("--patience", type=positive_int, default=None,
                   help="early-stopping patience in epochs (default: model's)")
    p.add_argument("--window-max", type=float_range(0.2, 4.0), default=None, metavar="S",
                   help="crop each batch to a random length between --window and S seconds (fast-path models)")
    p.add_argument("--width", type=positive_int, default=None,
                   help="realtime model: channels of its first stage (default 16)")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    p.add_argument("--cache", default=None, metavar="DIR", type=writable_dir,
                   help="folder for cached log-mels (default: runs/cache)")
    p.add_argument("--out", default=None, metavar="PATH", type=writable_file,
                   help="checkpoint path (default: runs/<model>-<time>/model.pt)")
    p.add_argument("--skip-bad", action="store_true", help="skip missing/unreadable files (counted) instead of failing")
    p.add_argument("--seed", type=int, default=0, help="random seed of the split, the weights and the batches "
                   "(default 0)")
    p.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a classifier checkpoint: accuracy, macro-F1, confusion matrix, accuracy per window length",
    )
    p.add_argument("--data", required=True, metavar="DIR", type=existing_dir,
                   help="dataset folder (UrbanSound8K or folder-per-class)")
    p.add_argument("--model", required=True, metavar="CKPT", type=existing_file, help="checkpoint file (.pt)")
    p.add_argument("--folds", default=None, type=folds_text,
                   help="UrbanSound8K folds to evaluate on (default: the checkpoint's validation fold)")
    p.add_argument("--windows", default="0.5,1,2,4", type=number_list(),
                   help="window lengths in seconds (default 0.5,1,2,4)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--out", default=None, metavar="DIR", type=writable_dir,
                   help="folder for the confusion-matrix PNG and reports (default: beside the checkpoint)")
    p.add_argument("--skip-bad", action="store_true", help="skip missing/unreadable files (counted) instead of failing")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    p.add_argument("--cache", default=None, metavar="DIR", type=writable_dir,
                   help="folder for cached log-mels (default: none)")
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser("classify", help="print class probabilities of a sound file over time (sliding window)")
    p.add_argument("file", metavar="FILE", type=nonempty, help="audio file (any rate, any channel count)")
    p.add_argument("--model", default=None, metavar="CKPT", type=existing_file,
                   help="checkpoint (default: the shipped models/urbansound8k_realtime.pt)")
    p.add_argument("--window", type=positive_float, default=None, help="window in seconds (default: the model's)")
    p.add_argument("--hop", type=positive_float, default=0.5, help="hop between windows in seconds (default 0.5)")
    p.add_argument("--top", type=positive_int, default=3, help="classes shown per window in text output (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    p.set_defaults(func=_classify)


def _train(args) -> int:
    from performer.classifier import training

    result = training.train_from_args(args)
    print(json.dumps(result, indent=2))
    return 0


def _evaluate(args) -> int:
    from performer.classifier import evaluation

    report = evaluation.evaluate_from_args(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(evaluation.to_markdown(report))
    return 0


def _classify(args) -> int:
    from performer.audio.files import probe_audio_file

    probe_audio_file(args.file)  # a missing or non-audio file is named at once, before torch and the model load
    from performer.classifier.inference import classify_file_from_args

    result = classify_file_from_args(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        classes = result["classes"]
        for row in result["frames"]:
            probs = row["probabilities"]
            top = sorted(range(len(classes)), key=lambda i: -probs[i])[: max(1, args.top)]
            shown = "  ".join(f"{classes[i]} {probs[i]:.2f}" for i in top)
            print(f"{row['start']:7.2f}-{row['end']:6.2f} s  {shown}")
        summary = result["mean"]
        best = max(range(len(classes)), key=lambda i: summary[i])
        print(f"overall: {classes[best]} {summary[best]:.2f}", file=sys.stdout)
    return 0
