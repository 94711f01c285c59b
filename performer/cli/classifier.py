"""Command-line entry points of the sound classifier: ``train``, ``evaluate``, ``calibrate``, ``reject`` and
``classify``.

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
    int_range,
    number_list,
    positive_float,
    positive_int,
    sound_file,
    writable_dir,
    writable_file,
)
from performer.device import DEVICE_CHOICES

log = logging.getLogger(__name__)

MODEL_CHOICES = ("realtime", "efficientnet_lite0", "resnet50")

DEVICE_HELP = "torch device: auto picks cuda, then mps, then cpu (default: auto)"


def folds_text(text: str) -> str:
    """UrbanSound8K folds such as ``1,2`` or ``1-9`` (checked here, parsed again by the command)."""
    from performer.training.folds import parse_folds

    try:
        folds = parse_folds(text)
    except ValueError:
        folds = None
    if not folds or any(f < 1 for f in folds):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of fold numbers, e.g. '1,2' or '1-9'")
    return text


def name_list(text: str) -> list[str]:
    """Comma-separated names, e.g. ``sesa,elp_forest_gunshots``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of names")
    return names


def register(subparsers) -> None:
    """Add the ``train``, ``evaluate``, ``calibrate`` and ``classify`` sub-commands."""
    p = subparsers.add_parser(
        "train",
        help="train a sound classifier on UrbanSound8K or a folder-per-class set",
        description="Train a sound classifier. DIR is either the UrbanSound8K layout (metadata/UrbanSound8K.csv, "
        "audio/foldN/...) or a folder per class (DIR/<class>/*.wav). On several processes or GPUs (DDP): "
        "torchrun --nproc_per_node=N -m performer train ... (nccl, one GPU per process, on CUDA; gloo on the CPU); "
        "rank 0 writes the checkpoint and prints the result.",
    )
    p.set_defaults(log_level=logging.INFO)  # its progress (epochs, best so far) is its log
    p.add_argument("--data", default=None, metavar="DIR", type=existing_dir,
                   help="dataset folder (UrbanSound8K or folder-per-class); needed unless --resume")
    p.add_argument("--model", default="realtime", choices=MODEL_CHOICES, help="architecture (default: realtime)")
    p.add_argument("--folds", default=None, type=folds_text,
                   help="UrbanSound8K training folds, e.g. '1,2' or '1-9' (default: all but the validation fold)")
    p.add_argument("--val-fold", type=int, choices=range(0, 11), default=None, metavar="N",
                   help="UrbanSound8K validation fold (default: the fold after the last training fold, else the "
                   "last fold); 0: no validation fold, hold out --val-fraction of the training folds' recordings "
                   "instead, so a whole fold stays untouched for testing")
    p.add_argument("--val-fraction", type=float_range(0.0, 1.0), default=0.2,
                   help="fraction of recordings held out for validation: folder-per-class, --extra and --background "
                   "sets, and UrbanSound8K with --val-fold 0 (default 0.2)")
    p.add_argument("--extra", action="append", default=[], metavar="DIR", type=existing_dir,
                   help="more training sound: a folder with manifest.csv (file,class[,source]); repeatable")
    p.add_argument("--background", default=None, metavar="DIR", type=existing_dir,
                   help="sound that is none of the classes (DIR/<category>/*): adds the class 'none' and is mixed "
                   "into training windows as room noise")
    p.add_argument("--hold-out-sources", default=None, type=name_list, metavar="A,B",
                   help="--extra sources kept out of training and validation (to test on later)")
    p.add_argument("--hold-out-background", default=None, type=name_list, metavar="A,B",
                   help="background categories kept out of training and validation (to test on later)")
    p.add_argument("--window", type=float_range(0.2, 4.0), default=None,
                   help="training window in seconds, 0.2-4 (default: model's; under 0.5 s for fast-path models)")
    p.add_argument("--epochs", type=positive_int, default=None, help="maximum epochs (default: model's)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="batch size per process (default: model's); under torchrun the global batch is N times it")
    p.add_argument("--no-augment", action="store_true",
                   help="no augmentation: no mixup, SpecAugment, gain, pitch, quieter room, band limit, EQ or "
                   "background mixing (the random crops stay); for ablations and comparing runs")
    p.add_argument("--init", default=None, metavar="CKPT", type=existing_file,
                   help="start from this trained checkpoint (fine-tuning): matching weights are copied, output rows "
                   "by class name, so it can learn new classes such as 'none'")
    p.add_argument("--new-rows-only", action="store_true",
                   help="with --init: train only the output rows of classes the checkpoint lacks (e.g. 'none'); "
                   "every other weight stays as it was")
    p.add_argument("--none-share", type=float_range(0.0, 0.9), default=None, metavar="P",
                   help="repeat the background clips ('none') until they are this share of each epoch's clips "
                   "(default: as many as there are)")
    p.add_argument("--none-cost", type=float_range(0.0, 1.0), default=None, metavar="A",
                   help="with a 'none' class: validation accuracy on the other classes that saying 'none' may "
                   "cost; sets the rejection offset after training (default 0.01)")
    p.add_argument("--band-limit", type=float_range(0.0, 1.0), default=None, metavar="P",
                   help="share of training windows cut off above 4 or 8 kHz (default 0.25)")
    p.add_argument("--fmax", type=float_range(1000.0, 11025.0), default=None, metavar="HZ",
                   help="highest frequency of the mel bands the model hears, e.g. 8000: recordings made at 16 kHz "
                   "then look like the rest (default: half the sample rate, 11025)")
    p.add_argument("--eq-db", type=float_range(0.0, 24.0), default=None, metavar="DB",
                   help="largest gain of the random EQ curve across the bands (default 6; 0: off)")
    p.add_argument("--pitch", type=float_range(0.0, 12.0), default=None, metavar="SEMITONES",
                   help="shift each training window's pitch by a random amount within this many semitones up or "
                   "down (another siren, a smaller dog; default 0: off)")
    p.add_argument("--quieter-room", type=float_range(0.0, 1.0), default=None, metavar="P",
                   help="share of training windows put in a quieter room: what stays near each band's floor sinks "
                   "10-40 dB, what rises above it keeps its level (a clean recording of the same sound; default 0)")
    p.add_argument("--background-mix", type=float_range(0.0, 1.0), default=None, metavar="P",
                   help="share of training windows mixed with --background at 0-20 dB SNR (default 0.8)")
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: model's)")
    p.add_argument("--ema", type=float_range(0.0, 0.99999), default=None, metavar="DECAY",
                   help="validate and keep a moving average of the weights with this decay per step, e.g. 0.998 "
                   "(default 0: the weights themselves)")
    p.add_argument("--patience", type=positive_int, default=None,
                   help="early-stopping patience in epochs (default: model's)")
    p.add_argument("--window-max", type=float_range(0.2, 4.0), default=None, metavar="S",
                   help="crop each batch to a random length between --window and S seconds (fast-path models)")
    p.add_argument("--width", type=positive_int, default=None,
                   help="realtime model: channels of its first stage (default 16)")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads per process (default 2)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    p.add_argument("--cache", default=None, metavar="DIR", type=writable_dir,
                   help="folder for cached log-mels (default: runs/cache)")
    p.add_argument("--out", default=None, metavar="PATH", type=writable_file,
                   help="checkpoint path (default: runs/<model>-<time>/model.pt)")
    p.add_argument("--skip-bad", action="store_true", help="skip missing/unreadable files (counted) instead of failing")
    p.add_argument("--seed", type=int, default=0, help="random seed of the split, the weights and the batches "
                   "(default 0)")
    p.add_argument("--resume", default=None, metavar="PATH", type=existing_file,
                   help="go on with an interrupted run from its state (<checkpoint>.resume.pt, written after every "
                   "epoch, or the checkpoint beside it); every option but --threads and --device comes from that run")
    p.add_argument("--teacher", default=None, metavar="CKPT", type=existing_file,
                   help="distil: train on this trained model's softened probabilities of each training window as "
                   "well as on the labels (its classes must include this run's)")
    p.add_argument("--distil-alpha", type=float_range(0.0, 1.0), default=0.7, metavar="A",
                   help="with --teacher: weight of the teacher's targets against the labels (default 0.7)")
    p.add_argument("--distil-temperature", type=float_range(0.5, 10.0), default=2.0, metavar="T",
                   help="with --teacher: softmax temperature of teacher and student in the distillation term "
                   "(default 2)")
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
    p.add_argument("--extra", action="append", default=[], metavar="DIR", type=existing_dir,
                   help="also measure recall per source and class on a manifest set (manifest.csv: file,class"
                   "[,source]); repeatable")
    p.add_argument("--sources", default=None, type=name_list, metavar="A,B",
                   help="only these sources of the --extra sets (e.g. those held out of training)")
    p.add_argument("--background", default=None, metavar="DIR", type=existing_dir,
                   help="also measure the false-class rate on background (DIR/<category>/*); needs a 'none' class")
    p.add_argument("--categories", default=None, type=name_list, metavar="A,B",
                   help="only these background categories (e.g. those held out of training)")
    p.set_defaults(func=_evaluate)
    _register_calibrate(subparsers)
    _register_reject(subparsers)

    p = subparsers.add_parser("classify", help="print class probabilities of a sound file over time (sliding window)")
    p.add_argument("file", metavar="FILE", type=sound_file, help="audio file (any rate, any channel count)")
    p.add_argument("--model", default=None, metavar="CKPT", type=existing_file,
                   help="checkpoint (default: the shipped models/urbansound8k_realtime.pt)")
    p.add_argument("--window", type=positive_float, default=None, help="window in seconds (default: the model's)")
    p.add_argument("--hop", type=positive_float, default=0.5, help="hop between windows in seconds (default 0.5)")
    p.add_argument("--top", type=positive_int, default=3, help="classes shown per window in text output (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    p.set_defaults(func=_classify)


def _train(args) -> int:
    from performer.training import train

    result = train.train_from_args(args)
    if result is not None:  # under torchrun only rank 0 has the result
        print(json.dumps(result, indent=2))
    return 0


def _evaluate(args) -> int:
    from performer.training import evaluation

    report = evaluation.evaluate_from_args(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(evaluation.to_markdown(report))
    return 0


def _add_sound_options(p) -> None:
    """The options of a command that reads held-out sound through a checkpoint: --json, --skip-bad, --threads,
    --device, --cache."""
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--skip-bad", action="store_true", help="skip missing/unreadable files (counted) instead of failing")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    p.add_argument("--cache", default=None, metavar="DIR", type=writable_dir,
                   help="folder for cached log-mels (default: none)")


def _register_reject(subparsers) -> None:
    p = subparsers.add_parser(
        "reject",
        help="refit how readily a checkpoint says 'none' on sound held out of its training",
        description="Refit the offset of the 'none' output on sound held out of the checkpoint's training: "
        "background categories it never heard (should be 'none') and recordings of its classes from sources it "
        "never heard (should keep their class). The offset maximises the share of that background named 'none' "
        "plus the share of the source clips, named right without 'none', still named right; where the training "
        "run fitted an offset on its validation clips, the refit may only make 'none' rarer. Writes a copy of "
        "the checkpoint carrying it; the original is left as it is.",
    )
    p.set_defaults(log_level=logging.INFO, func=_reject)
    p.add_argument("--model", required=True, metavar="CKPT", type=existing_file,
                   help="checkpoint with a 'none' class (.pt)")
    p.add_argument("--extra", required=True, metavar="DIR", type=existing_dir,
                   help="recordings of the model's classes (manifest.csv: file,class[,source])")
    p.add_argument("--sources", required=True, type=name_list, metavar="A,B",
                   help="the sources of --extra held out of the model's training")
    p.add_argument("--background", required=True, metavar="DIR", type=existing_dir,
                   help="background that is none of the classes (DIR/<category>/*)")
    p.add_argument("--categories", required=True, type=name_list, metavar="A,B",
                   help="the background categories held out of the model's training")
    p.add_argument("--out", default=None, metavar="PATH", type=writable_file,
                   help="checkpoint written (default: <CKPT stem>_none.pt beside CKPT)")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    _add_sound_options(p)


def _reject(args) -> int:
    from performer.training import rejection

    result = rejection.reject_from_args(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"'none' offset {result['offset']:+.2f} (logits {result['logit_shift']:+.3f}): background named "
              f"'none' {result['none_recall_before']:.3f} -> {result['none_recall_after']:.3f}, source clips kept "
              f"{result['source_kept_before']:.3f} -> {result['source_kept_after']:.3f}; written to "
              f"{result['checkpoint']}")
    return 0


def _register_calibrate(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="fit a checkpoint's softmax temperature on held-out sound, so its probabilities mean what they say",
        description="Fit the temperature T that makes softmax(logits / T) calibrated on held-out windows (Guo et "
        "al. 2017) and write a copy of the checkpoint carrying it; the classifier applies it when it loads. The "
        "original checkpoint is left as it is.",
    )
    p.set_defaults(log_level=logging.INFO)
    p.add_argument("--model", required=True, metavar="CKPT", type=existing_file, help="checkpoint file (.pt)")
    p.add_argument("--data", required=True, metavar="DIR", type=existing_dir,
                   help="held-out sound: UrbanSound8K or folder-per-class (never the clips the model trained on)")
    held_out = p.add_mutually_exclusive_group()
    held_out.add_argument("--folds", default=None, type=folds_text,
                          help="UrbanSound8K folds to calibrate on (default: the checkpoint's validation fold)")
    held_out.add_argument("--val-fraction", type=float_range(0.0, 1.0, lo_open=True), default=None,
                          help="folder-per-class sets: calibrate on the holdout `performer train --val-fraction` "
                          "made (same --seed) instead of the whole folder")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the --val-fraction holdout (default: the checkpoint's training seed)")
    p.add_argument("--window", type=float_range(0.2, 4.0), default=None, metavar="S",
                   help="window in seconds, 0.2-4 (default: the model's)")
    p.add_argument("--bins", type=int_range(2, 100), default=15, help="confidence bins of the ECE (default 15)")
    p.add_argument("--out", default=None, metavar="PATH", type=writable_file,
                   help="calibrated checkpoint (default: <CKPT stem>_calibrated.pt beside CKPT)")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    _add_sound_options(p)
    p.set_defaults(func=_calibrate)


def _calibrate(args) -> int:
    from performer.training import calibration

    report = calibration.calibrate_from_args(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"temperature {report['temperature']:.4f} (was {report['previous_temperature']:g}), fitted on "
              f"{report['n']} windows of {report['window']:g} s from {report['clips']} clips\n"
              f"ECE ({report['bins']} bins) {report['ece_before']:.4f} -> {report['ece_after']:.4f}, "
              f"NLL {report['nll_before']:.4f} -> {report['nll_after']:.4f}, window accuracy {report['accuracy']:.4f}\n"
              f"calibrated checkpoint: {report['checkpoint']}\nreliability diagram: {report['reliability_png']}")
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
