"""The live engine: the threads that carry sound to frames, and their status."""

from __future__ import annotations

from performer.engine.engine import Engine, Renderer, RenderStats

__all__ = ["Engine", "RenderStats", "Renderer"]
