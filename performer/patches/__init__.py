"""Patches for TouchDesigner, Max, Pure Data and Open Stage Control, generated from the parameter registry.

``performer patches --write`` writes, under ``patches/``:

* ``pd/performer.pd``: Pure Data, a slider, toggle, radio, bang or symbol box per parameter sending OSC
  (``oscformat`` + ``netsend -u -b``) and a receiver showing the analysis (``netreceive -u -b`` + ``oscparse``)
  (:mod:`performer.patches.pd`);
* ``max/performer.maxpat``: Max, the same controls through ``udpsend`` / ``udpreceive``
  (:mod:`performer.patches.max_msp`);
* ``open-stage-control/performer.json``: an Open Stage Control session, a widget per parameter and command
  (:mod:`performer.patches.open_stage_control`);
* ``touchdesigner/performer_td.py``: a script that, run inside TouchDesigner, builds a Base COMP with a
  custom parameter per Performer parameter, OSC In/Out and an NDI In TOP (:mod:`performer.patches.touchdesigner`).

``performer patches --check`` regenerates them in memory and exits 1 if a committed file is stale, so the
patches never drift from :data:`performer.params.REGISTRY` and the OSC command list
(:data:`performer.control.COMMANDS`). Each generated file says it is generated and by what command. What they
share (server address, ports, the analysis messages) is in :mod:`performer.patches.common`; the set of files
and the check and write are in :mod:`performer.patches.files`.
"""

from __future__ import annotations

from performer.patches.common import ANALYSIS, GENERATED_BY, default_dir, performance_params
from performer.patches.files import GENERATORS, generate_all, stale_files, write_all
from performer.patches.max_msp import generate_max
from performer.patches.open_stage_control import generate_open_stage_control
from performer.patches.pd import generate_pd
from performer.patches.touchdesigner import generate_touchdesigner

__all__ = [
    "ANALYSIS",
    "GENERATED_BY",
    "GENERATORS",
    "default_dir",
    "generate_all",
    "generate_max",
    "generate_open_stage_control",
    "generate_pd",
    "generate_touchdesigner",
    "performance_params",
    "stale_files",
    "write_all",
]
