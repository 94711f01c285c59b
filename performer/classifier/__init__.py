"""The sound classifier as the live server uses it: log-mel CNNs, their checkpoints and inference.

Public API used by the live engine::

    from performer.classifier import Classifier, default_checkpoint
    clf = Classifier.from_checkpoint(default_checkpoint(), device="auto")
    probs = clf.predict(window)  # (n_classes,), sums to 1

Sub-modules: ``models`` (architectures), ``checkpoint`` (saving and loading), ``inference``. Training, data sets,
calibration and evaluation are offline, in :mod:`performer.training`.
The names above are imported lazily, so that importing ``performer.cli.classifier`` (for ``performer --help``)
does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from performer.classifier.inference import Classifier, default_checkpoint, fast_classifier_for

__all__ = ["Classifier", "default_checkpoint", "fast_classifier_for"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from performer.classifier import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'performer.classifier' has no attribute {name!r}")
