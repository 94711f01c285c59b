"""Distillation: a large trained model (the teacher) teaches the real-time one (the student).

Knowledge distillation as in Hinton, Vinyals and Dean (2015): the student is trained on

    (1 - alpha) * cross-entropy(labels) + alpha * T^2 * cross-entropy(softmax(teacher / T), log_softmax(student / T))

with the teacher's probabilities softened by the temperature ``T``. The teacher sees exactly the window the
student sees in each step — the same crop, room augmentation, SpecAugment and mixup ("function matching", Beyer et
al. 2022) — so every augmented window gets its own soft target, including the background clips, whose `none`
label says less than the teacher's view of what they sound like. The teacher runs in evaluation mode without
gradients; its classes are matched to the student's by name.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F

from performer.classifier.checkpoint import load_checkpoint
from performer.errors import ModelError
from performer.sound.features import FeatureSettings

log = logging.getLogger(__name__)

DEFAULT_ALPHA = 0.7
DEFAULT_TEMPERATURE = 2.0


class Distiller:
    """Soft targets of ``teacher`` for a student with ``classes``; :meth:`loss` mixes them with the labels'."""

    def __init__(self, teacher: torch.nn.Module, teacher_classes: list[str], classes: list[str],
                 alpha: float = DEFAULT_ALPHA, temperature: float = DEFAULT_TEMPERATURE, name: str = "teacher") -> None:
        missing = [c for c in classes if c not in teacher_classes]
        if missing:
            raise ModelError(f"--teacher {name} does not know the class(es) {', '.join(missing)} of this run; "
                             f"it has {', '.join(teacher_classes)}")
        if not 0.0 <= alpha <= 1.0:
            raise ModelError(f"--distil-alpha must be between 0 and 1, got {alpha}")
        if not temperature > 0:
            raise ModelError(f"--distil-temperature must be above 0, got {temperature}")
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.index = torch.tensor([teacher_classes.index(c) for c in classes])
        self.alpha, self.temperature = float(alpha), float(temperature)

    @classmethod
    def from_checkpoint(cls, path: Path | str, classes: list[str], device: torch.device,
                        alpha: float = DEFAULT_ALPHA, temperature: float = DEFAULT_TEMPERATURE,
                        settings: FeatureSettings | None = None) -> Distiller:
        """The teacher in ``path``; with ``settings`` (the student's log-mel), refused unless it heard the same."""
        model, meta = load_checkpoint(path, device)
        heard = FeatureSettings.from_dict(meta.get("features", {}))
        if settings is not None and heard != settings:
            raise ModelError(f"--teacher {path} was trained on log-mels {heard.to_dict()}, this run computes "
                             f"{settings.to_dict()}; a teacher must hear the student's input (same --fmax)")
        log.info("distilling from %s (%s, %s classes), alpha %.2f, temperature %.2f", path, meta["model"],
                 len(meta["classes"]), alpha, temperature)
        return cls(model, list(meta["classes"]), classes, alpha, temperature, name=str(path))

    def soft_targets(self, xb: torch.Tensor) -> torch.Tensor:
        """The teacher's softened probabilities of a batch of log-mels, over the student's classes."""
        with torch.no_grad():
            logits = self.teacher(xb)[:, self.index.to(xb.device)]
            return F.softmax(logits / self.temperature, dim=1)

    def loss(self, student_logits: torch.Tensor, hard_loss: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        """The mixed loss of one batch; ``hard_loss`` is the labels' cross-entropy already computed."""
        t = self.temperature
        soft = torch.sum(-self.soft_targets(xb) * F.log_softmax(student_logits / t, dim=1), dim=1).mean() * t * t
        return (1.0 - self.alpha) * hard_loss + self.alpha * soft
