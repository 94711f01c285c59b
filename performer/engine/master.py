"""The master section: what every output frame goes through last, after the dream.

Brightness, contrast, saturation and hue make one 3x3 colour matrix and an offset, applied to the dream-sized frame
in one numpy product (nothing at all at their defaults); ``master.fade`` scales the result towards black;
``master.blackout`` (a trigger) toggles instant black; ``master.freeze`` holds the frame shown when it went on.

Freeze holds the *output*: the dream goes on underneath (the renderer, the analysis and the feedback keep
running), and turning freeze off cuts to where the dream has got to. Stopping the dream instead would tie the
output stage to the render loop (a frame in progress cannot be paused) and would resume a picture the music has
moved on from; the held frame still goes through the colour, the fade and the blackout, so a frozen picture can
be faded out. The colour matrices are the W3C Filter Effects ``saturate`` and ``hueRotate`` (luminance-weighted,
so greys stay grey).
"""

from __future__ import annotations

import math

import numpy as np

from performer.params import Snapshot

MASTER_PARAMS = ("master.brightness", "master.contrast", "master.saturation", "master.hue", "master.fade",
                 "master.freeze", "master.blackout")
SWITCHES = ("master.freeze", "master.blackout")
"""The master's switches: booleans and triggers, which no modulation route can move, so the output clock may read
them from the store at once instead of from the last dreamed frame's values."""

_LUMA = np.array([0.213, 0.715, 0.072])


def saturation_matrix(s: float) -> np.ndarray:
    """W3C ``saturate(s)``: 0 grey (by luminance), 1 unchanged, above 1 more colourful."""
    return np.outer(np.ones(3), _LUMA) * (1.0 - s) + np.eye(3) * s


def hue_matrix(degrees: float) -> np.ndarray:
    """W3C ``hueRotate(degrees)``: colours turn about the grey axis, greys stay."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return (np.outer(np.ones(3), _LUMA)
            + c * np.array([[0.787, -0.715, -0.072], [-0.213, 0.285, -0.072], [-0.213, -0.715, 0.928]])
            + s * np.array([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]]))


def colour_transform(p: Snapshot) -> tuple[np.ndarray, np.ndarray] | None:
    """(3x3 matrix, offset) that maps a 0..255 RGB pixel through hue, saturation, contrast, brightness and fade
    (in that order); None when they leave the frame as it is."""
    m = p.master
    brightness, contrast, saturation, hue, fade = m.brightness, m.contrast, m.saturation, m.hue, m.fade
    if brightness == 0.0 and contrast == 1.0 and saturation == 1.0 and hue == 0.0 and fade == 0.0:
        return None
    matrix = contrast * (saturation_matrix(saturation) @ hue_matrix(hue))
    b = np.full(3, 127.5 * (1.0 - contrast) + 255.0 * brightness)  # contrast about mid grey, then brightness
    keep = 1.0 - min(1.0, max(0.0, fade))
    return keep * matrix, keep * b


def blacked_out(p: Snapshot) -> bool:
    """Whether ``master.blackout`` has fired an odd number of times (each fire toggles)."""
    return p.master.blackout % 2 == 1


class Master:
    """The master section of one output clock; holds the frozen frame. Used from the clock's thread only."""

    def __init__(self) -> None:
        self._held: np.ndarray | None = None

    def held(self, p: Snapshot) -> np.ndarray | None:
        """The frozen frame while ``master.freeze`` is on and one is held; releases it when freeze goes off."""
        if not p.master.freeze:
            self._held = None
        return self._held

    def hold(self, p: Snapshot, frame: np.ndarray) -> None:
        """Keep ``frame`` (the composed, pre-master frame) if freeze is on and nothing is held yet."""
        if p.master.freeze and self._held is None:
            self._held = frame

    def finish(self, frame: np.ndarray, p: Snapshot) -> np.ndarray:
        """``frame`` (HxWx3 uint8, or float 0..255) through the colour and the fade, as HxWx3 uint8 (a uint8
        frame the master leaves alone is returned as it is)."""
        if blacked_out(p) or p.master.fade >= 1.0:
            return np.zeros(frame.shape, dtype=np.uint8)
        t = colour_transform(p)
        if frame.dtype == np.uint8:
            if t is None:
                return frame
            import cv2

            m, b = t  # saturating, rounded: as the float path's clip and +0.5
            return cv2.transform(frame, np.hstack([m, np.reshape(b, (3, 1))]).astype(np.float32))
        if t is not None:
            m, b = t
            if np.allclose(m, m[0, 0] * np.eye(3), rtol=0.0, atol=1e-9):  # no colour turn: a scale and an offset
                frame = frame * np.float32(m[0, 0]) + np.float32(b[0])
            else:
                frame = frame @ m.T.astype(np.float32) + b.astype(np.float32)
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8)
