"""The browser preview: an HTTP server with the frame, the class probabilities, the spectrogram and status."""

from __future__ import annotations

from performer.outputs.preview.server import PreviewOutput

__all__ = ["PreviewOutput"]
