"""What the controllers, the outputs and the tempo need of the live engine, as a Protocol.

:class:`performer.engine.Engine` fits :class:`EngineLike`; the packages below the engine (control, outputs, tempo,
the status line) take an ``EngineLike`` rather than importing the engine package, and mypy checks both sides.
It lives below every stage and names only what lies below the controllers: the parameter store, the audio ring,
the analysis slot (types imported for the checker only, so importing this module costs nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from performer.analysis import Analysis
    from performer.audio.ring import AudioRing
    from performer.latest import Latest
    from performer.params import ParamStore


class EngineLike(Protocol):
    """The live engine as its controllers, outputs and tempo see it."""

    store: ParamStore
    """The one parameter store every controller writes into."""
    extra_sources: dict[str, float]
    """Modulation sources from controllers (the glove's, the tempo's), by source name."""
    ring: AudioRing
    """The input's audio (the tempo's beat tracker reads it)."""
    analysis: Latest[Analysis]
    """The newest analysis of the input."""
    frame_listeners: list[Callable[[np.ndarray, Any], None]]
    """Called with each output frame and its :class:`~performer.outputs.FrameInfo`."""
    error_listeners: list[Callable[[str, Any, str], None]]
    """Called with (parameter, value, why) when a live change could not take effect and was set back."""

    @property
    def outputs(self) -> Sequence[Any]:
        """The frame outputs (:class:`~performer.outputs.FrameOutput`), in order."""
        ...

    def status(self) -> dict[str, Any]:
        """The engine's status document (what ``--stats`` writes and the status line shows)."""
        ...

    def load_preset(self, path: str | Path, morph: float | None = None) -> bool:
        """Recall a preset file; False (the current state kept) when it could not be."""
        ...
