"""``performer patches``: check or regenerate the patches in ``patches/``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from performer.patches import GENERATED_BY, GENERATORS, default_dir, stale_files, write_all


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("patches", help="write or check the Pd, Max, Open Stage Control and TouchDesigner patches",
                       description="The patches in patches/ are generated from the parameter registry; "
                       "--check exits 1 when one is stale, --write regenerates them.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 if a generated patch is missing or stale")
    mode.add_argument("--write", action="store_true", help="regenerate the patches")
    p.add_argument("--dir", type=Path, default=None, help="patches folder (default: the repository's patches/)")
    p.set_defaults(func=cmd_patches)


def cmd_patches(args: argparse.Namespace) -> int:
    folder = args.dir or default_dir()
    if args.write:
        written = write_all(folder)
        print(f"{len(written)} patch file(s) written in {folder}" if written else f"patches in {folder} are current")
        return 0
    stale = stale_files(folder)
    if stale:
        print(f"stale patches in {folder}: {', '.join(stale)}; run `{GENERATED_BY}`", file=sys.stderr)
        return 1
    print(f"patches in {folder} are current ({len(GENERATORS)} files)")
    return 0
