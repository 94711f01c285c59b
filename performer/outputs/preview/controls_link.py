"""The control page's link to the controllers: :class:`ControlsLink` gives a preview server the presets, MIDI learn
and the tempo of a ``Controls`` (``performer/control/controls.py``), which it reads by duck typing, so that the
outputs package does not import the control package. ``performer serve`` calls :func:`attach_control_pages`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from performer.engine_like import EngineLike
from performer.errors import ControlError

log = logging.getLogger(__name__)


class ControlsLink:
    """A :class:`~performer.outputs.preview.hub.PageControl` around a ``Controls``."""

    def __init__(self, controls: Any) -> None:
        self.controls = controls

    def presets(self) -> Sequence[str]:
        return list(self.controls.folders.names())

    def recall(self, name: str) -> None:
        self.controls._recall(name)  # queued on the preset worker, like a MIDI program change; failures are logged

    def learn(self, param: str) -> None:
        midi = getattr(self.controls, "midi", None)
        if midi is None:
            raise ControlError("MIDI learn needs a MIDI input: start with --midi NAME or set midi.input in the preset")
        midi.arm(param)

    def analysis(self) -> Mapping[str, Any]:
        engine = self.controls.engine
        out: dict[str, Any] = {"preset": getattr(engine.preset, "name", None)}
        tempo = getattr(engine, "tempo", None) or getattr(self.controls, "tempo", None)
        if tempo is not None and hasattr(tempo, "values"):
            values = tempo.values()
            out.update({k: round(float(values[k]), 3) for k in ("bpm", "beat_phase", "bar_phase") if k in values})
        return out


def attach_control_pages(engine: EngineLike, controls: Any) -> int:
    """Attach every preview output of ``engine`` to its store and ``controls``; how many were attached."""
    from performer.outputs.preview.server import PreviewOutput

    link = ControlsLink(controls)
    n = 0
    for out in engine.outputs:
        if isinstance(out, PreviewOutput):
            out.attach(engine.store, link)
            log.info("control page at %scontrol", out.url)
            n += 1
    return n
