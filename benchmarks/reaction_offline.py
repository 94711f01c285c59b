"""How fast the analyser names a new sound, offline: no renderer, no real time, every hop analysed.

Plays the same kind of sequence as `performer bench engine` (real UrbanSound8K fold-3 clips of changing
classes) through `performer.analysis.Analyzer` alone and prints, per boundary, the onset strengths of the
first hops and the reaction time, then the median and the number of class changes.

Usage: python benchmarks/reaction_offline.py [param=value ...]   e.g. classifier.fast=False classifier.smoothing=0.15
"""

import argparse
import os
import sys

import numpy as np

from performer.analysis import Analyzer, Latest
from performer.audio_input import AudioRing
from performer.classifier import Classifier, default_checkpoint
from performer.engine_bench import _segments
from performer.params import ParamStore

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
clf = Classifier.from_checkpoint(default_checkpoint(), device="cpu")
args = argparse.Namespace(data=os.path.join(REPO, "..", "shared", "data", "urbansound8k"), fold=3, segments=12,
                          segment_seconds=3.0, window=1.0)
audio, rate, onsets = _segments(args, clf)
store = ParamStore()
for k, v in (a.split("=") for a in sys.argv[1:]):
    store.set(k, v == "True" if v in ("True", "False") else float(v))
ring = AudioRing(rate, seconds=len(audio) / rate + 1)
ring.write(audio)
an = Analyzer(ring, clf, store, Latest())
hop = int(store.get("classifier.hop") * rate)
res = [an.analyse(pos, store.snapshot()) for pos in range(hop, len(audio) + 1, hop)]
lat = []
for on, cls in onsets[1:]:
    seg = [r for r in res if on <= r.position < on + 3 * rate]
    hit = [r for r in seg if r.changed and r.top_name == cls]
    t = (hit[0].position - on) / rate if hit else None
    lat.append(t if t is not None else 9.0)
    print(f"{cls:<18} onsets {[round(r.onset, 2) for r in seg[:4]]} reaction {t}")
print(f"median {np.median(lat)} s, fast switches {an.stats.fast_switches}, class changes {an.stats.class_changes}")
