"""Render docs/dreams/<class>.jpg: the live renderer (60 frames) seeded by a real clip's mel spectrogram, guided to the class.

Run from the repository root: python docs/dreams/make_gallery.py [CLASS ...]; needs the UrbanSound8K clips under
/work/shared/data/urbansound8k (the first clip of each class with salience 1 and at least 3.5 s).
"""
import csv
import sys
from pathlib import Path

import torch
from PIL import Image

from performer.dream import DEFAULT_CLASS_GUIDES, DreamRenderer, Scene
from performer.sound.features import load_audio, log_mel
from performer.params import ParamStore

torch.set_num_threads(1)
root = Path("/work/shared/data/urbansound8k")
clips = {}
with open(root / "metadata/UrbanSound8K.csv") as f:
    rows = list(csv.DictReader(f))
for row in rows:
    if row["salience"] == "1" and row["class"] not in clips and float(row["end"]) - float(row["start"]) >= 3.5:
        clips[row["class"]] = root / "audio" / f"fold{row['fold']}" / row["slice_file_name"]
only = sys.argv[1:] or sorted(DEFAULT_CLASS_GUIDES)
store = ParamStore()
store.update({"dream.width": 320, "dream.height": 240, "dream.seed": "spectrogram", "dream.zoom": 1.005,
              "dream.grad_smooth": 1.0, "dream.crossfade": 0.0}, glide=False)
r = DreamRenderer("cpu", seed=1)
r.prepare(store.snapshot())
for name in only:
    spec = log_mel(load_audio(clips[name]))
    scene = Scene(key=name, guide=DEFAULT_CLASS_GUIDES[name], spectrogram=spec)
    for i in range(60):
        f = r.frame(store.snapshot(), scene)
    Image.fromarray(f).save(f"docs/dreams/{name}.jpg", quality=85)
    print(name, clips[name].name, spec.shape)
