"""Inference: :class:`Classifier` turns windows of mono audio into class probabilities.

Setup (:meth:`Classifier.from_checkpoint`) loads the model, builds the torch log-mel module with its cached mel
filter matrix and warms both up; :meth:`Classifier.predict` is the per-window path: no model or filter
allocation, ``torch.inference_mode()``.

Input policy of :meth:`~Classifier.predict`:

* 1-D float audio at :attr:`Classifier.sample_rate` (2-D input is down-mixed; use
  :func:`performer.sound.features.prepare_audio` for other rates); NaN/inf raise :class:`FeatureError`;
* fewer than :data:`MIN_SAMPLES` samples (50 ms) raise :class:`FeatureError`;
* audio shorter than the model's window is *tiled* (repeated) up to the window, as in training;
  longer audio is classified whole (the models pool over time);
* silence (RMS below :data:`performer.sound.features.SILENCE_DBFS`) gives the uniform distribution: the model is
  not asked about a signal that is not there.

Calibration: a checkpoint's ``meta["calibration"]["temperature"]`` (``performer calibrate``, see
:mod:`performer.training.calibration`) divides the network's logits before the softmax in every predict path;
without it the temperature is 1 and the probabilities are the network's own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from performer.errors import FeatureError, ModelError
from performer.sound import features
from performer.sound.labels import NONE_CLASS, fast_classes_fit

log = logging.getLogger(__name__)

MIN_SAMPLES = 1103  # 50 ms at 22,050 Hz


class Classifier:
    """A trained sound classifier ready for live use."""

    def __init__(self, model: torch.nn.Module, meta: dict[str, Any], device: torch.device,
                 path: Path | None = None) -> None:
        self.model = model.to(device).eval()
        self.meta = meta
        self.device = device
        self.path = path
        self.settings = features.FeatureSettings.from_dict(meta.get("features", {}))
        self.classes: list[str] = list(meta["classes"])
        self.sample_rate: int = int(self.settings.sample_rate)
        self.window_seconds: float = float(meta.get("window_seconds", 1.0))
        self.model_name: str = str(meta.get("model", "?"))
        self.window_samples = int(round(self.window_seconds * self.sample_rate))
        self.longest_window_seconds: float = float(
            (meta.get("training") or {}).get("window_max") or self.window_seconds)
        """The longest window the model was trained on (models trained on crops of varying length)."""
        from performer.classifier.checkpoint import checkpoint_temperature

        self.temperature: float = checkpoint_temperature(meta, path)
        """The softmax temperature of the checkpoint's calibration (1.0 when it has none)."""
        self._mel = features.TorchLogMel(self.settings, device)
        self._uniform = np.full(len(self.classes), 1.0 / len(self.classes), dtype=np.float32)
        self.last_seconds = 0.0  # duration of the latest predict call
        self.predict(np.zeros(self.window_samples, np.float32)
                     + 1e-3 * np.sin(np.arange(self.window_samples, dtype=np.float32)))

    @classmethod
    def from_checkpoint(cls, path: Path | str, device: str = "auto") -> Classifier:
        """Load a checkpoint written by ``performer train``; :class:`ModelError` on a missing or corrupt file."""
        from performer.classifier.checkpoint import load_checkpoint
        from performer.device import choose_device

        check_checkpoint_file(path)
        try:
            dev = choose_device(device)
        except (RuntimeError, ValueError) as e:
            raise ModelError(f"cannot load classifier {path} on device {device!r}: {e}") from e
        model, meta = load_checkpoint(path, "cpu")
        clf = cls(model, meta, dev, Path(path))
        log.info("classifier %s loaded from %s: %d classes, window %.2f s, temperature %g, device %s",
                 clf.model_name, path, len(clf.classes), clf.window_seconds, clf.temperature, dev)
        return clf

    def __repr__(self) -> str:
        return (f"Classifier({self.model_name!r}, classes={len(self.classes)}, window={self.window_seconds} s, "
                f"temperature={self.temperature:g}, device={self.device}, path={str(self.path)!r})")

    # -- per-window path -------------------------------------------------------------------------------------

    def _softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities: ``softmax(logits / temperature)`` over the classes.

        An ensemble's output is the log of its members' mean probabilities; dividing that by the temperature
        raises the mean probabilities to the power ``1/T`` and renormalises them, the same one-parameter
        sharpening or softening, fitted by ``performer calibrate`` on the ensemble's own output."""
        if self.temperature != 1.0:
            logits = logits / self.temperature
        return torch.softmax(logits, dim=1)

    def _check(self, audio: Any) -> np.ndarray:
        a = features.to_mono(audio)
        if a.shape[0] < MIN_SAMPLES:
            raise FeatureError(
                f"audio window has {a.shape[0]} samples; at least {MIN_SAMPLES} "
                f"({MIN_SAMPLES / self.sample_rate * 1000:.0f} ms "
                f"at {self.sample_rate} Hz) are needed")
        if a.shape[0] < self.window_samples:
            a = np.resize(a, self.window_samples)  # np.resize repeats the array: tiling, the training policy
        return a

    def predict(self, audio: Any) -> np.ndarray:
        """Probabilities ``(n_classes,)`` (summing to 1) for one window of mono audio at :attr:`sample_rate`."""
        t0 = time.perf_counter()
        a = self._check(audio)
        if features.is_silent(a):
            out = self._uniform.copy()
        else:
            with torch.inference_mode():
                wave = torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
                mel = self._mel(wave.unsqueeze(0))
                out = self._softmax(self.model(mel))[0].float().cpu().numpy()
        self.last_seconds = time.perf_counter() - t0
        return out

    def predict_batch(self, batch: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for a list of windows or a 2-D array ``(n, samples)``."""
        items = [self._check(x)
                 for x in (list(batch) if not isinstance(batch, np.ndarray) or batch.ndim == 2 else [batch])]
        if not items:
            return np.zeros((0, len(self.classes)), np.float32)
        out = np.empty((len(items), len(self.classes)), np.float32)
        silent = [features.is_silent(a) for a in items]
        out[np.asarray(silent)] = self._uniform
        live = [i for i, s in enumerate(silent) if not s]
        lengths = {items[i].shape[0] for i in live}
        with torch.inference_mode():
            if len(lengths) == 1:
                wave = torch.from_numpy(np.stack([items[i] for i in live])).to(self.device)
                probs = self._softmax(self.model(self._mel(wave))).float().cpu().numpy()
                out[live] = probs
            else:
                for i in live:
                    mel = self._mel(torch.from_numpy(items[i]).to(self.device).unsqueeze(0))
                    out[i] = self._softmax(self.model(mel))[0].float().cpu().numpy()
        return out

    def predict_mels(self, mels: np.ndarray) -> np.ndarray:
        """Probabilities for precomputed log-mels ``(n, n_mels, frames)`` (no silence check)."""
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32)).to(self.device)
            return self._softmax(self.model(x)).float().cpu().numpy()

    # -- files -----------------------------------------------------------------------------------------------

    def classify_audio(self, audio: np.ndarray, window: float | None = None, hop: float = 0.5) -> dict[str, Any]:
        """Sliding-window probabilities over ``audio`` (mono, at :attr:`sample_rate`)."""
        window = float(window or self.window_seconds)
        if window <= 0 or hop <= 0:
            raise FeatureError(f"window and hop must be positive seconds, got window {window}, hop {hop}")
        n = int(round(window * self.sample_rate))
        h = max(1, int(round(hop * self.sample_rate)))
        a = features.to_mono(audio)
        starts = [0] if a.shape[0] <= n else list(range(0, a.shape[0] - n + 1, h))
        frames = []
        chunks = [a[s:s + n] for s in starts]
        probs = self.predict_batch(chunks) if chunks else np.zeros((0, len(self.classes)))
        for s, p in zip(starts, probs):
            frames.append({"start": round(s / self.sample_rate, 3),
                           "end": round(min(s + n, a.shape[0]) / self.sample_rate, 3),
                           "top": self.classes[int(np.argmax(p))],
                           "probabilities": [round(float(v), 4) for v in p]})
        mean = probs.mean(axis=0) if len(probs) else self._uniform
        return {"classes": self.classes, "window": window, "hop": hop, "frames": frames,
                "mean": [round(float(v), 4) for v in mean], "top": self.classes[int(np.argmax(mean))]}


def check_checkpoint_file(path: Path | str) -> None:
    """:class:`ModelError` naming the file unless it exists and is a ``torch.save`` archive (what ``performer
    train`` writes); the cheap check before torch is asked to unpickle it."""
    import zipfile

    path = Path(path)
    allowed = "allowed: a classifier checkpoint written by `performer train`"
    if path.is_dir():
        raise ModelError(f"classifier checkpoint {path} is a folder, not a checkpoint file; {allowed}")
    if not path.is_file():
        raise ModelError(f"classifier checkpoint {path} does not exist; {allowed}")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"classifier checkpoint {path} is not a PyTorch checkpoint (not a zip archive: another "
                         f"kind of file, or damaged); {allowed}")


def default_checkpoint() -> Path:
    """The shipped real-time UrbanSound8K model, ``models/urbansound8k_realtime.pt``."""
    from performer.resources import models_dir

    return models_dir() / "urbansound8k_realtime.pt"


def default_fast_checkpoint() -> Path:
    """The shipped fast-path model, ``models/urbansound8k_fast.pt``: the same classes less ``none``, trained on
    0.25-s windows."""
    from performer.resources import models_dir

    return models_dir() / "urbansound8k_fast.pt"


def fast_classifier_for(main: Classifier, path: Path | str | None = None, device: str = "auto") -> Classifier | None:
    """The classifier the analyser's fast path uses beside ``main``: ``path`` when given (its classes must be
    ``main``'s, perhaps without ``none``), else the shipped fast model when ``main`` is the shipped model, else
    None (``main`` serves)."""
    if path is None:
        shipped = default_fast_checkpoint()
        if main.path is None or not shipped.is_file() or Path(main.path).resolve() != default_checkpoint().resolve():
            return None
        path = shipped
    fast = Classifier.from_checkpoint(path, device=device)
    if not fast_classes_fit(fast.classes, main.classes) or fast.sample_rate != main.sample_rate:
        raise ModelError(f"fast-path classifier {path} has classes {fast.classes} at {fast.sample_rate} Hz, but the "
                         f"classifier {main.path} has {main.classes} at {main.sample_rate} Hz; they must be the same "
                         f"(the fast one may lack '{NONE_CLASS}')")
    return fast


def classify_file_from_args(args) -> dict[str, Any]:
    from performer.audio.files import probe_audio_file

    frames, rate = probe_audio_file(args.file)  # a missing or non-audio file is reported before the model loads
    if frames / rate < MIN_SAMPLES / features.SAMPLE_RATE:
        raise FeatureError(f"audio file {args.file} lasts {1000 * frames / rate:.2f} ms; classifying needs at least "
                           f"{1000 * MIN_SAMPLES / features.SAMPLE_RATE:.2f} ms")
    path = Path(args.model) if args.model else default_checkpoint()
    clf = Classifier.from_checkpoint(path, device=args.device)
    audio = features.load_audio(args.file, clf.sample_rate)
    result = clf.classify_audio(audio, args.window, args.hop)
    result["file"] = str(args.file)
    result["model"] = str(path)
    return result
