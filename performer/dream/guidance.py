"""The guidance a live dream follows: a weight per sound class that glides towards what the classifier hears.

Each frame the engine offers a *mix*: for the classes it is sure enough of, their ImageNet targets and smoothed
probabilities. :class:`GuideMix` moves its weights towards that mix at a rate of one full change per
``dream.crossfade`` seconds, so a class change morphs the picture instead of cutting it, and a hesitant classifier
gives a drifting picture rather than jumps. An empty mix (silence, none of the classes, an unsure classifier)
leaves the weights, and so the picture, where they are. The class ``none`` ("none of these",
:mod:`performer.sound.labels`) never takes a share: it is left out and the rest renormalised; when it wins, the
engine offers an empty mix, so the picture holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from performer.sound.labels import is_none

Mix = Sequence[tuple[str, tuple[int, ...], float]]
"""(class name, ImageNet target indices, probability) for each class the guidance should follow."""


class GuideMix:
    """Weights per class, moving linearly towards the offered mix; see the module docstring."""

    def __init__(self) -> None:
        self.weights: dict[str, float] = {}
        self.targets: dict[str, tuple[int, ...]] = {}

    @staticmethod
    def _goal(mix: Mix) -> dict[str, float]:
        real = [(k, max(0.0, float(w))) for k, _, w in mix if not is_none(k)]
        total = sum(w for _, w in real)
        if total <= 0:
            return {}
        return {k: w / total for k, w in real}

    def jump(self, mix: Mix) -> None:
        """Take the mix at once (a new dream starts on its class)."""
        goal = self._goal(mix)
        if goal:
            self.targets.update({k: tuple(t) for k, t, _ in mix if k in goal})
            self.weights = goal

    def update(self, mix: Mix, dt: float, crossfade: float) -> None:
        """Move towards ``mix`` by ``dt / crossfade`` of a full change; an empty mix keeps the weights."""
        goal = self._goal(mix)
        if not goal:
            return
        self.targets.update({k: tuple(t) for k, t, _ in mix if k in goal})
        if not self.weights or crossfade <= 0:
            self.weights = goal
            return
        step = max(0.0, dt) / crossfade
        moved = {}
        for k in set(self.weights) | set(goal):
            w, g = self.weights.get(k, 0.0), goal.get(k, 0.0)
            moved[k] = w + max(-step, min(step, g - w))
        total = sum(moved.values())
        self.weights = {k: w / total for k, w in moved.items() if w > 1e-3} if total > 0 else goal

    def groups(self) -> tuple[tuple[tuple[int, ...], float], ...]:
        """(targets, weight) pairs for :class:`~performer.dream.core.Objective`'s ``mix``."""
        return tuple((self.targets[k], w) for k, w in sorted(self.weights.items()) if self.targets.get(k))

    def top(self) -> str | None:
        return max(self.weights, key=lambda k: self.weights[k]) if self.weights else None
