"""Analysis: the sliding window over the input, measured and classified every hop in its own thread.

``features`` turns sound into log-mel spectrograms, ``novelty`` finds where a new sound began, ``analyzer``
runs the window and publishes an :class:`Analysis` per hop.
"""

from __future__ import annotations

from performer.analysis.analyzer import Analysis, Analyzer, AnalyzerStats, ClassifierLike
from performer.analysis.novelty import novelty

__all__ = ["Analysis", "Analyzer", "AnalyzerStats", "ClassifierLike", "novelty"]
