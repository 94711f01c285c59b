"""The live video in the dream: its newest frame mixed into the picture by ``video.weight``.

:class:`VideoMix` is what the renderer holds: :meth:`VideoMix.apply` moves an image ``video.weight`` of the way
towards the video's frame when ``video.mode`` is the mode asked for (``blend`` every dreamed frame, ``restart``
the seed of each new dream), scaled to cover the image and centre-cropped like every seed. A video frame is
converted once, however many dreamed frames use it (the dream is usually slower than the video, or faster).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from performer.params.views import VideoParams

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


class VideoMix:
    """Mixes the live video's newest frame into the dream (see the module's description)."""

    def __init__(self) -> None:
        self._frame: np.ndarray | None = None
        self._target: torch.Tensor | None = None
        self._error = ""

    def target(self, frame: np.ndarray, like: torch.Tensor) -> torch.Tensor | None:
        """``frame`` as a tensor of ``like``'s size and device (converted once per frame); None if unusable."""
        from performer.dream.seeds import image_seed

        t = self._target
        if self._frame is frame and t is not None and t.shape == like.shape and t.device == like.device:
            return t
        try:
            t = image_seed(frame, (int(like.shape[-2]), int(like.shape[-1])), like.device)
        except (ValueError, TypeError) as e:
            if str(e) != self._error:  # once per kind of bad frame, not once a dreamed frame
                log.error("video frame unusable (%s); left out", e)
            self._error, self._frame, self._target = str(e), None, None
            return None
        self._frame, self._target = frame, t
        return t

    def apply(self, image: torch.Tensor, params: VideoParams, frame: np.ndarray | None,
              mode: str) -> torch.Tensor:
        """``image`` moved ``video.weight`` of the way to ``frame`` when ``video.mode`` is ``mode``, else as it is."""
        import torch

        if frame is None:
            return image
        weight = min(1.0, params.weight)
        if weight <= 0 or params.mode != mode:
            return image
        target = self.target(frame, image)
        return image if target is None else torch.lerp(image, target, weight)
