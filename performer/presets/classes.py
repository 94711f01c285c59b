"""The sound classes a preset may name: ``[classes.<class>]`` and ``prob.<class>`` sources.

They are the classes of the shipped classifier, read from its checkpoint's metadata without torch:
the checkpoint is a zip holding a pickle, and :class:`_MetadataOnly` unpickles it with every global
(tensor and storage constructors included) replaced by an inert placeholder, so no code from the file runs
and no weights are built. A preset for another classifier is checked with ``classes=`` (see
:func:`checkpoint_classes`).

A classifier with the class ``none`` ("none of these", :mod:`performer.classifier.labels`) lists it here, so
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


def checkpoint_classes(path: str | Path) -> tuple[str, ...]:
    """The class names in a classifier checkpoint's metadata; ValueError naming the file if it has none."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            pickles = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pickles:
                raise ValueError("no data.pkl inside")
            with z.open(pickles[0]) as f:
                payload = _MetadataOnly(f).load()
        classes = payload["meta"]["classes"]
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError, KeyError, TypeError, EOFError,
            AttributeError, IndexError) as e:
        raise ValueError(f"classifier checkpoint {path} has no readable class list ({e})") from None
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"classifier checkpoint {path} has no readable class list (classes = {classes!r})")
    return tuple(classes)


@lru_cache(maxsize=1)
def shipped_classes() -> tuple[str, ...]:
    """The shipped classifier's classes; UrbanSound8K's ten (what it is trained on) if its file cannot be read."""
    from performer.resources import models_dir

    try:
        # performer.classifier.default_checkpoint()'s file, named here because importing it imports torch
        return checkpoint_classes(models_dir() / SHIPPED_CHECKPOINT)
    except (ValueError, FileNotFoundError) as e:
        from performer.classifier.datasets import US8K_CLASSES

        log.warning("%s; checking preset class names against UrbanSound8K's classes", e)
        return tuple(US8K_CLASSES)
