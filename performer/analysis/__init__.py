"""Analysis: the sliding window over the input, measured and classified every hop in its own thread.

``novelty`` finds where a new sound began, ``bands`` measures the spectrum's bands, ``analyzer`` runs the window
and publishes an :class:`Analysis` per hop. The log-mel features it measures with are :mod:`performer.sound.features`.
"""

from __future__ import annotations

from performer.analysis.analyzer import Analysis, Analyzer, AnalyzerStats, ClassifierLike
from performer.analysis.novelty import novelty

__all__ = ["Analysis", "Analyzer", "AnalyzerStats", "ClassifierLike", "novelty"]
