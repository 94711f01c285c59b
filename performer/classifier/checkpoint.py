"""Classifier checkpoints: ``{"format", "state_dict", "meta"}`` saved for weights-only loading, and ensembles.

A checkpoint holds plain tensors and JSON-like metadata only, so ``torch.load(path, weights_only=True)`` reads it
and a hostile file cannot run code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from performer.classifier import models as M
from performer.errors import ModelError

CHECKPOINT_FORMAT = "performer-classifier/1"

#: The softmax temperatures a checkpoint's calibration block (``meta["calibration"]["temperature"]``) may hold.
TEMPERATURE_RANGE = (0.05, 20.0)


def checkpoint_temperature(meta: dict[str, Any], path: Path | str | None = None) -> float:
    """The softmax temperature of a checkpoint's metadata (``meta["calibration"]["temperature"]``, written by
    ``performer calibrate``), 1.0 when it has no calibration block; :class:`ModelError` naming the file, the value
    and the allowed range when the block is corrupt."""
    where = f"classifier checkpoint {path}" if path is not None else "classifier metadata"
    lo, hi = TEMPERATURE_RANGE
    allowed = f"a number from {lo:g} to {hi:g} (1 = uncalibrated)"
    block = meta.get("calibration")
    if block is None:
        return 1.0
    if not isinstance(block, dict) or "temperature" not in block:
        raise ModelError(f"{where} has a calibration block {_short(block)} without a temperature; "
                         f"expected {{'temperature': {allowed}, ...}}")
    value = block["temperature"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"{where} has calibration temperature {_short(value)}, which is not a number; "
                         f"allowed: {allowed}")
    t = float(value)
    if not math.isfinite(t) or not lo <= t <= hi:
        raise ModelError(f"{where} has calibration temperature {_short(value)}; allowed: {allowed}")
    return t


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


ALLOWED = "allowed: a classifier checkpoint written by `performer train`"
"""Said at the end of a refusal of a checkpoint file."""


def _one_line(e: BaseException, limit: int = 240) -> str:
    """An exception's message on one line, cut to ``limit`` characters (torch's can run to many lines)."""
    text = "; ".join(line.strip() for line in str(e).splitlines() if line.strip()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(meta: Any) -> Any:
    """``meta`` as plain JSON types (what ``torch.load(weights_only=True)`` accepts)."""
    import json

    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, (np.ndarray,)):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        return str(o)

    return json.loads(json.dumps(meta, default=default))


def save_checkpoint(path: Path | str, model: torch.nn.Module, meta: dict[str, Any]) -> Path:
    """Save ``{"format", "state_dict", "meta"}``; loadable with ``torch.load(path, weights_only=True)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # float16 halves the file; the model runs in float32 after loading.
    state = {k: (v.half() if v.is_floating_point() and v.numel() > 1024 else v) for k, v in state.items()}
    payload = {"format": CHECKPOINT_FORMAT, "state_dict": state, "meta": _plain(meta)}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def _read_payload(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelError(f"classifier checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(f"classifier checkpoint {path} is unreadable or corrupt ({_one_line(e)}); {ALLOWED}") from e
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ModelError(f"{path} is not a Performer classifier checkpoint (format {_short(found)}, "
                         f"expected {CHECKPOINT_FORMAT!r}); {ALLOWED}")
    if not isinstance(payload.get("meta"), dict):
        raise ModelError(f"classifier checkpoint {path} is corrupt: its metadata is "
                         f"{_short(payload.get('meta'))}, not a table; {ALLOWED}")
    classes = payload["meta"].get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise ModelError(f"classifier checkpoint {path} has the class list {_short(classes)}; allowed: a list of "
                         "at least 2 class names, as `performer train` writes")
    return payload


def rewrite_checkpoint(src: Path | str, out: Path | str, meta: dict[str, Any],
                       tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Copy checkpoint ``src`` to ``out`` with the entries of ``meta`` replaced and the named ``tensors`` of its
    state replaced (each kept in its stored dtype; every other weight byte for byte); ``out`` is written
    atomically and may be ``src``."""
    src, out = Path(src), Path(out)
    payload = _read_payload(src)
    state = payload["state_dict"]
    for key, value in (tensors or {}).items():
        if key not in state or tuple(state[key].shape) != tuple(value.shape):
            raise ModelError(f"{src} has no weights {key!r} of shape {tuple(value.shape)} to replace")
        state[key] = value.detach().cpu().to(state[key].dtype)
    payload["meta"] = dict(payload["meta"], **_plain(meta))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(out)
    return out


def write_calibration(src: Path | str, out: Path | str, calibration: dict[str, Any]) -> Path:
    """Copy checkpoint ``src`` to ``out`` with ``meta["calibration"] = calibration`` (weights byte for byte as
    stored); ``out`` is written atomically and may be ``src``."""
    block = _plain(calibration)
    checkpoint_temperature({"calibration": block}, out)
    return rewrite_checkpoint(src, out, {"calibration": block})


def load_checkpoint(path: Path | str, device: Any = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint; :class:`ModelError` names the path and the reason on failure."""
    path = Path(path)
    payload = _read_payload(path)
    meta = payload["meta"]
    checkpoint_temperature(meta, path)  # a corrupt calibration block fails here, naming the file
    try:
        model = M.build_model(meta["model"], len(meta["classes"]), pretrained=False, config=meta.get("model_config"))
        state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
        model.load_state_dict(state)
    except ModelError as e:  # from the model's own checks (an unknown model name): the file named here
        raise ModelError(f"classifier checkpoint {path}: {e}") from e
    except Exception as e:
        raise ModelError(f"classifier checkpoint {path} does not fit model {_short(meta.get('model'))} "
                         f"({_one_line(e)}); {ALLOWED}, its weights as saved") from e
    return model.to(device).eval(), meta


def ensemble_checkpoint(paths: list[Path | str], out: Path | str) -> Path:
    """Combine checkpoints of the same classes, features and window into one ``ensemble`` checkpoint that
    averages their probabilities. The first checkpoint's metadata is kept; each member's is under ``members``."""
    loaded = [load_checkpoint(p) for p in paths]
    first = loaded[0][1]
    for (_, meta), p in zip(loaded[1:], paths[1:]):
        for key in ("classes", "features", "window_seconds"):
            if meta[key] != first[key]:
                raise ModelError(f"cannot combine {p} with {paths[0]}: their {key} differ "
                                 f"({meta[key]!r} vs {first[key]!r})")
    specs = [{"model": m["model"], "model_config": m.get("model_config", {})} for _, m in loaded]
    model = M.Ensemble([mod for mod, _ in loaded], specs)
    meta = dict(first)
    # The first member's temperature was fitted to its own logits, not to the ensemble's averaged probabilities;
    # the ensemble starts uncalibrated (``performer calibrate`` fits its own). The members' blocks stay below.
    meta.pop("calibration", None)
    meta["model"] = "ensemble"
    meta["model_config"] = model.config
    meta["members"] = [{"checkpoint": str(p), "model": m["model"], "training": m.get("training"),
                        "metrics": m.get("metrics"), "history": m.get("history"),
                        "calibration": m.get("calibration")} for p, (_, m) in zip(paths, loaded)]
    meta["metrics"] = {"members": [m.get("metrics") for _, m in loaded],
                       "train_seconds": sum(float(m.get("metrics", {}).get("train_seconds", 0)) for _, m in loaded)}
    return save_checkpoint(out, model, meta)
