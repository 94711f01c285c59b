"""``performer bench look``'s measures on frames made here: a blurred picture scores less sharp, noise more static."""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from performer.bench.look import measure


def _frames(img: np.ndarray, n: int = 9) -> list[tuple[float, str, np.ndarray]]:
    return [(i / 30, "dog_bark", img) for i in range(n)]


def test_sharpness_falls_when_the_picture_is_blurred_and_static_rises_with_noise():
    args = argparse.Namespace(width=320, height=180, frames=None, sheet=None)
    y, x = np.mgrid[0:90, 0:160]
    shapes = ((np.sin(x / 6.0) * np.cos(y / 9.0) > 0) * 200 + 30).astype(np.uint8)
    picture = np.stack([shapes, np.roll(shapes, 7, axis=1), 255 - shapes], axis=-1)
    blurred = cv2.GaussianBlur(picture, (0, 0), 2.0)
    noise = np.random.default_rng(0).integers(0, 256, picture.shape, dtype=np.uint8)
    sharp = measure(_frames(picture), args, [])
    soft = measure(_frames(blurred), args, [])
    static = measure(_frames(noise), args, [])
    assert soft["sharpness"]["median"] < 0.5 * sharp["sharpness"]["median"], (soft, sharp)
    assert static["static_score"]["median"] > 0.5 > sharp["static_score"]["median"]
    assert sharp["smoothness"]["mean_abs_change"] == 0.0  # the same frame nine times
