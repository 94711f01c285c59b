"""How fast the analyser names a new sound, offline: no renderer, no real time, every hop analysed.

Plays the same kind of sequence as `performer bench engine` (real UrbanSound8K fold-3 clips of changing
classes) through `performer.analysis.Analyzer` alone and prints, per boundary, the novelty of the first hops
and the reaction time (audio time from the onset to the change to the right class), then the median, the
95th percentile, the misses and the number of class changes (more changes than boundaries is flicker).

Usage: python benchmarks/reaction_offline.py [--fast-model CKPT] [--segments N] [-q] [param=value ...]
e.g.   python benchmarks/reaction_offline.py classifier.fast=False classifier.smoothing=0.15
"""

import argparse
import os

import numpy as np

from performer.analysis import Analyzer
from performer.latest import Latest
from performer.audio import AudioRing
from performer.classifier import Classifier, default_checkpoint, fast_classifier_for
from performer.bench.engine import _segments
from performer.params import ParamStore

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--model", default=str(default_checkpoint()))
ap.add_argument("--fast-model", default=None, help="default: as performer serve chooses")
ap.add_argument("--segments", type=int, default=40)
ap.add_argument("-q", "--quiet", action="store_true")
ap.add_argument("params", nargs="*")
opts = ap.parse_args()
clf = Classifier.from_checkpoint(opts.model, device="cpu")
fast = fast_classifier_for(clf, opts.fast_model, device="cpu")
args = argparse.Namespace(data=os.path.join(REPO, "..", "shared", "data", "urbansound8k"), fold=3,
                          segments=opts.segments, segment_seconds=3.0, window=1.0)
audio, rate, onsets = _segments(args, clf)
store = ParamStore()
for k, v in (a.split("=") for a in opts.params):
    store.set(k, v == "True" if v in ("True", "False") else float(v))
ring = AudioRing(rate, seconds=len(audio) / rate + 1)
ring.write(audio)
an = Analyzer(ring, clf, store, Latest(), fast_classifier=fast)
hop = int(store.get("classifier.hop") * rate)
res, nov = [], []
pos = hop
while pos <= len(audio):  # the analyser's own cadence: a hop, or half of one while a new sound is named
    p = store.snapshot()
    res.append(an.analyse(pos, p))
    nov.append(an.last_novelty)
    pos += an.step(hop, pos / rate, p)
lat, misses = [], 0
ends = [o for o, _ in onsets[2:]] + [len(audio)]
for (on, cls), end in zip(onsets[1:], ends):
    idx = [i for i, r in enumerate(res) if on <= r.position < end]
    hit = [res[i] for i in idx if res[i].changed and res[i].top_name == cls]
    t = (hit[0].position - on) / rate if hit else None
    if t is None:
        misses += 1
    else:
        lat.append(t)
    if not opts.quiet:
        print(f"{cls:<18} novelty {[round(nov[i], 1) for i in idx[:3]]} reaction {t}")
lat = np.array(lat)
print(f"median {np.median(lat):.2f} s, p95 {np.percentile(lat, 95):.2f} s, misses {misses} of {len(onsets) - 1}, "
      f"fast model {fast.path if fast else '(the classifier)'}, events {an.stats.events}, fast switches {an.stats.fast_switches}, class changes {an.stats.class_changes}")
