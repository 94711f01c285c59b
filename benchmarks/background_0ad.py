"""Build a folder of background sound (none of the ten UrbanSound8K classes) from the game 0 A.D.'s recordings.

The shared background is 184 ESC-50 clips of 23 categories: clean, isolated 16-kHz recordings, so a ``none`` row
trained on them alone learns "a clean sound on a quiet floor" and takes unfamiliar recordings of the classes with it
(models/urbansound8k_realtime.md). Debian's ``0ad-data`` package (Wildfire Games, CC BY-SA 3.0) holds full-band
field and foley recordings: animals, footsteps, rain, wind, rivers, waves, birds, market and harbour ambience,
sawing, hoeing, chopping, mining. This script takes those (no music, speech, weapons, impacts or interface
alarms: those are, or sound like, the ten classes) as 5-s mono 22,050-Hz FLAC pieces, up to four pieces a file,
in ``OUT/g_<category>/``, and links the shared ESC-50 categories beside them, so that ``OUT`` is one
``--background`` folder. Pieces of one file share a recording number in their names (``0-<n>-A-<k>``), which
keeps them on one side of a validation split.

    apt-get download 0ad-data            # about 1.4 GB
    python benchmarks/background_0ad.py --deb 0ad-data_*.deb --shared ../shared/data/extra/background --out BG
"""

from __future__ import annotations

import argparse
import collections
import io
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

from performer.sound.features import prepare_audio

CATEGORIES = {
    "g_animals": ["audio/actor/fauna/"],
    "g_footsteps": ["audio/actor/singlesteps/", "audio/actor/human/movement/", "audio/actor/mounted/movement/"],
    "g_town_ambience": ["audio/ambient/building/"],
    "g_countryside": ["audio/ambient/dayscape/"],
    "g_water": ["audio/ambient/water/"],
    "g_weather": ["audio/ambient/weather/"],
    "g_construction": ["audio/resource/construction/"],
    "g_farming": ["audio/resource/farming/", "audio/resource/foraging/"],
    "g_gathering": ["audio/resource/gathering/"],
    "g_lumbering": ["audio/resource/lumbering/"],
    "g_mining": ["audio/resource/mining/"],
}
ZIP = "usr/share/games/0ad/mods/public/public.zip"
SR, PIECE, MAX_PIECES, FIRST_RECORDING = 22050, 5.0, 4, 9_000_000


def extract_zip(deb: Path, work: Path) -> Path:
    """The game's data archive from the package (3.2 GB unpacked)."""
    target = work / ZIP
    if not target.is_file():
        work.mkdir(parents=True, exist_ok=True)
        deb_out = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        untar = subprocess.run(["tar", "-x", "-C", str(work), f"./{ZIP}"], stdin=deb_out.stdout).returncode
        if deb_out.wait() or untar:
            raise SystemExit(f"cannot unpack {ZIP} from {deb}: dpkg-deb exit status {deb_out.returncode}, "
                             f"tar {untar}")
    return target


def pieces(audio: np.ndarray) -> list[np.ndarray]:
    """Up to MAX_PIECES evenly spaced 5-s pieces (the whole of a clip up to 6 s), near-silent ones left out."""
    n = int(PIECE * SR)
    if len(audio) <= 1.2 * n:
        starts = [0]
    else:
        starts = np.linspace(0, len(audio) - n, min(MAX_PIECES, len(audio) // n)).astype(int).tolist()
    return [audio[s:s + n] for s in starts if np.abs(audio[s:s + n]).max() >= 10 ** (-50 / 20)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--deb", type=Path, required=True, help="the 0ad-data .deb (apt-get download 0ad-data)")
    p.add_argument("--out", type=Path, required=True, help="the background folder to write")
    p.add_argument("--shared", type=Path, default=None, help="ESC-50 background folder whose categories to link in")
    p.add_argument("--work", type=Path, default=None, help="where to unpack the package (default: beside --out)")
    args = p.parse_args()
    archive = zipfile.ZipFile(extract_zip(args.deb, args.work or args.out.parent / "0ad-unpacked"))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.shared is not None:
        for d in sorted(x for x in args.shared.iterdir() if x.is_dir()):
            if not (args.out / d.name).exists():
                (args.out / d.name).symlink_to(d.resolve())
    names = sorted(n for n in archive.namelist() if n.endswith(".ogg"))
    counts: collections.Counter[str] = collections.Counter()
    recording = FIRST_RECORDING
    for category, prefixes in CATEGORIES.items():
        (args.out / category).mkdir(exist_ok=True)
        for name in (n for n in names if any(n.startswith(pre) for pre in prefixes)):
            recording += 1
            audio, sr = sf.read(io.BytesIO(archive.read(name)), dtype="float32", always_2d=True)
            audio = prepare_audio(audio.mean(axis=1), sr, SR)
            for k, piece in enumerate(pieces(audio)):
                sf.write(args.out / category / f"0-{recording}-A-{k}.flac", piece, SR)
                counts[category] += 1
    (args.out / "SOURCES.txt").write_text(
        "g_* categories: 0 A.D. by Wildfire Games, Debian package 0ad-data (public.zip, audio/), CC BY-SA 3.0; "
        "mono, 22,050 Hz, up to four 5-s pieces a file (benchmarks/background_0ad.py).\n")
    print(", ".join(f"{c} {n}" for c, n in counts.items()), f"({sum(counts.values())} pieces)")


if __name__ == "__main__":
    main()
