"""The sound classes a preset may name: ``[classes.<class>]`` and ``prob.<class>`` sources.

They are the classes of the shipped classifier, read from its checkpoint's metadata without torch:
the checkpoint is a zip holding a pickle, and :class:`_MetadataOnly` unpickles it with every global
(tensor and storage constructors included) replaced by an inert placeholder, so no code from the file runs
and no weights are built. A preset for another classifier is checked with ``classes=`` (see
:func:`checkpoint_classes`, which refuses anything that is not such a checkpoint in one line).

A classifier with the class ``none`` ("none of these", :mod:`performer.sound.labels`) lists it here, so
``prob.none`` is a source a route may name; a ``[classes.none]`` table is refused when a preset is parsed
(:mod:`performer.presets.schema`), and by the engine for presets built in code (:mod:`performer.engine.classes`):
``none`` keeps the dream's picture and has no guide or image.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from performer.errors import ModelError

log = logging.getLogger(__name__)

SHIPPED_CHECKPOINT = "urbansound8k_realtime.pt"


class _Inert:
    """Stands in for every global a checkpoint's pickle names; accepts anything, does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class _MetadataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        return _Inert

    def persistent_load(self, pid: Any) -> None:  # tensor storages: not read
        return None


CHECKPOINT_ALLOWED = ("allowed: a classifier checkpoint written by `performer train` (a .pt file whose metadata "
                      "lists at least 2 class names)")
"""What a classifier checkpoint must be, said at the end of every refusal of one."""


def checkpoint_classes(path: str | Path) -> tuple[str, ...]:
    """The class names in a classifier checkpoint's metadata.

    :class:`ModelError` in one line naming the file, what is wrong with it and what is allowed, for anything that
    is not a checkpoint with a list of at least two distinct class names (a file of any other kind, damaged or
    planted, a folder, a missing file).
    """
    path = Path(path)
    classes = _read_classes(path)
    wrong = None
    if not isinstance(classes, list) or not all(isinstance(c, str) and c.strip() for c in classes):
        wrong = f"has a class list that is not a list of names (classes = {_short(classes)})"
    elif len(classes) < 2:
        wrong = f"has {len(classes)} class(es) ({_short(classes)}); a classifier needs at least 2"
    elif len(set(classes)) < len(classes):
        twice = sorted({c for c in classes if classes.count(c) > 1})
        wrong = f"names a class twice ({_short(twice)})"
    if wrong is not None:
        raise _refused(path, wrong)
    return tuple(classes)


def _read_classes(path: Path) -> Any:
    """``meta["classes"]`` of the checkpoint's pickle, read with every global made inert."""
    if path.is_dir():
        raise _refused(path, "is a folder, not a checkpoint file")
    if not path.is_file():
        raise _refused(path, "does not exist" if not path.exists() else "is not a regular file")
    try:
        with zipfile.ZipFile(path) as z:
            pickles = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pickles:
                raise _refused(path, "is a zip archive but not a PyTorch checkpoint (no data.pkl inside)")
            with z.open(pickles[0]) as f:
                payload = _MetadataOnly(f).load()
    except ModelError:
        raise
    except zipfile.BadZipFile:
        raise _refused(path, "is not a PyTorch checkpoint (not a zip archive: another kind of file, or "
                             "damaged)") from None
    except OSError as e:
        raise _refused(path, f"could not be read ({e.strerror or e})") from None
    except Exception as e:  # whatever a damaged or planted pickle provokes: refused, never a traceback
        raise _refused(path, f"is damaged: its pickle could not be read ({type(e).__name__}: {e})") from None
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or "classes" not in meta:
        raise _refused(path, "has no class list (meta['classes']): it is not a Performer classifier checkpoint")
    return meta["classes"]


def _refused(path: Path, wrong: str) -> ModelError:
    return ModelError(f"classifier checkpoint {path} {_cut(wrong, 300)}; {CHECKPOINT_ALLOWED}")


def _short(value: Any) -> str:
    return _cut(repr(value), 80)


def _cut(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@lru_cache(maxsize=1)
def shipped_classes() -> tuple[str, ...]:
    """The shipped classifier's classes; UrbanSound8K's ten (what it is trained on) if its file cannot be read."""
    from performer.resources import models_dir

    try:
        # performer.classifier.default_checkpoint()'s file, named here because importing it imports torch
        return checkpoint_classes(models_dir() / SHIPPED_CHECKPOINT)
    except ModelError as e:
        from performer.sound.labels import US8K_CLASSES

        log.warning("%s; checking preset class names against UrbanSound8K's classes", e)
        return tuple(US8K_CLASSES)
