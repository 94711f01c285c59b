"""The A/B crossfader: one fader (``crossfader.position``) between two presets (``crossfader.a``, ``crossfader.b``).

They are parameters, so OSC (``/crossfader/position 0.5``, ``/crossfader/a club``), MIDI (learn a fader onto
``crossfader.position``), OSCQuery and the control page all drive them. Naming a preset at either end reads it
(off the writer's thread: file I/O never runs on the OSC or MIDI thread); moving the fader sets every parameter
the two presets recall (:func:`~performer.presets.apply_preset`'s set: the ones either names, and every other but
the rig's, at its default) to the mix at the fader's position:

- floats and ints in proportion: ``a + (b - a) * position`` (ints rounded);
- enums, booleans, strings, and the dream's frame size (``dream.width``, ``dream.height``, as in a morph) take
  A's value below 0.5 and B's from 0.5 on;
- the rig's parameters (group ``control``: tempo, OSC-out rate) move only when both presets name them.

Only a move of the fader applies: naming a preset, or a recall, leaves the picture as it is until the fader
moves (no jump when B is swapped while the fader sits at A), and a hand on any other control keeps its value until
then. The fader mixes parameters only: the mapping routes, class images and outputs stay those of the last
recalled preset. A name that finds no preset, or a preset with problems, is refused in one line (with the
reason over OSC): the end keeps the preset it had and the parameter is set back to its name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from performer.errors import PerformerError
from performer.params import Change, ParamStore
from performer.presets.morph import SWITCH_AT_START
from performer.presets.preset import LIVE_ONLY, RIG_GROUP, Preset

log = logging.getLogger(__name__)

A, B, POSITION = LIVE_ONLY
"""The crossfader's own parameters: never recalled from a preset, never saved in one."""
PARAMS = LIVE_ONLY
SOURCE = "crossfader"
"""The change source of the crossfader's writes."""


def mix_presets(a: Preset, b: Preset, x: float, store: ParamStore) -> dict[str, Any]:
    """The parameter values at position ``x`` (0: ``a``, 1: ``b``) between two presets."""
    registry = store.registry
    va, vb = a.values(registry), b.values(registry)
    out: dict[str, Any] = {}
    for name, left in va.items():
        p = registry.get(name)
        if name in PARAMS:
            continue
        if p.group == RIG_GROUP and not (name in a.params and name in b.params):
            continue
        right = vb[name]
        if p.numeric and name not in SWITCH_AT_START:
            v = float(left) + (float(right) - float(left)) * x
            out[name] = int(round(v)) if p.type == "int" else v
        else:
            out[name] = left if x < 0.5 else right
    return out


class Crossfader:
    """Watches the crossfader's parameters in ``store``; ``find(name)`` gives a preset's path and ``load(path)``
    the checked preset (raising PerformerError or OSError). ``on_error(param, value, why)`` hears a refused name."""

    def __init__(self, store: ParamStore, find: Callable[[str], Path], load: Callable[[Path], Preset],
                 on_error: Callable[[str, Any, str], None] | None = None) -> None:
        self.store = store
        self.find, self.load, self.on_error = find, load, on_error
        self._lock = threading.Lock()
        self.ends: dict[str, Preset | None] = {A: None, B: None}
        """The preset at each end (None: none named, or none read yet)."""
        self._names: dict[str, str] = {A: "", B: ""}
        """The name each end's preset was read under (what a refused name is set back to)."""
        self.moves = 0
        """Moves of the fader that set the mix."""
        self.refused = 0
        self._told = False
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crossfader")
        self._unsubscribe = store.subscribe(self._changed)
        for end in (A, B):
            if store.get(end):
                self._read(end, str(store.get(end)))

    def stop(self) -> None:
        self._unsubscribe()
        self._jobs.shutdown(wait=True, cancel_futures=True)

    def _changed(self, change: Change) -> None:  # on the writer's thread: quick, never raises
        if change.source == SOURCE or change.name not in PARAMS:
            return
        if change.name == POSITION:
            self.move(float(change.value))
            return
        try:
            self._jobs.submit(self._read, change.name, str(change.value))
        except RuntimeError:  # closed
            pass

    def _read(self, end: str, name: str) -> None:
        """Read the preset called ``name`` into ``end``; refused: the end keeps its preset, the name is set back."""
        if not name:
            with self._lock:
                self.ends[end], self._names[end] = None, ""
            log.info("%s: no preset", end)
            return
        try:
            preset = self.load(self.find(name))
        except (PerformerError, OSError, ValueError) as e:
            with self._lock:
                self.refused += 1
                kept = self._names[end]
            why = " ".join(str(e).split())[:300]
            log.error("%s %r refused, keeping %s: %s", end, name[:100], repr(kept) if kept else "no preset", why)
            if self.on_error is not None:
                self.on_error(end, name, why)
            if self.store.target(end) == name:  # not renamed meanwhile
                self.store.set(end, kept, source=SOURCE)
            return
        with self._lock:
            self.ends[end], self._names[end] = preset, name
            self._told = False
        log.info("%s is preset %r; it applies when crossfader.position moves", end, preset.name)

    def move(self, x: float) -> Mapping[str, Any]:
        """Set the mix at position ``x``; what was set (nothing while an end has no preset)."""
        with self._lock:
            a, b = self.ends[A], self.ends[B]
        if a is None or b is None:
            missing = [end for end, p in ((A, a), (B, b)) if p is None]
            if not self._told:  # once until an end is named: a fader moved all night logs one line
                self._told = True
                log.warning("crossfader.position %.3f does nothing yet: %s %s no preset (send /crossfader/a NAME and "
                            "/crossfader/b NAME)", x, " and ".join(missing), "names" if len(missing) == 1 else "name")
            return {}
        values = mix_presets(a, b, min(1.0, max(0.0, x)), self.store)
        try:
            self.store.update(values, source=SOURCE, glide=False)
        except PerformerError as e:  # a preset checked against another registry: keep the last good state
            log.error("crossfader.position %.3f not applied: %s", x, e)
            return {}
        self.moves += 1
        return values
