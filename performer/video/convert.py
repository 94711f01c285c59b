"""Video frames to HxWx3 uint8 RGB: the pixel formats NDI and OpenCV deliver.

``RGBA``/``RGBX`` and ``BGRA``/``BGRX`` (four bytes a pixel, the fourth ignored), ``BGR`` (OpenCV's order) and
``UYVY`` (4:2:2, one U and one V byte shared by two pixels; NDI's own format), the last read as BT.709 with video
levels (16-235), as NDI sends it. Each returns a new array: the source may reuse or free its buffer afterwards.
:func:`shrink` box-averages a frame much larger than the dream down on the source's thread, so converting it costs
the renderer little.
"""

from __future__ import annotations

import numpy as np

FORMATS = ("RGBA", "RGBX", "BGRA", "BGRX", "BGR", "RGB", "UYVY")

# BT.709, video levels: R = Y' + 1.5748 V', G = Y' - 0.1873 U' - 0.4681 V', B = Y' + 1.8556 U'
_Y = 255.0 / 219.0
_C = 255.0 / 224.0
_RV, _GU, _GV, _BU = 1.5748 * _C, 0.1873 * _C, 0.4681 * _C, 1.8556 * _C


def to_rgb(data: np.ndarray, fmt: str) -> np.ndarray:
    """``data`` in pixel format ``fmt`` (one of :data:`FORMATS`) as a new HxWx3 uint8 RGB array.

    Raises ValueError naming the format and the shape when they do not fit together."""
    a = np.asarray(data)
    if a.dtype != np.uint8:
        raise ValueError(f"a {fmt} frame must be uint8, got {a.dtype}")
    if fmt == "UYVY":
        return uyvy_to_rgb(a)
    channels = {"RGBA": 4, "RGBX": 4, "BGRA": 4, "BGRX": 4, "BGR": 3, "RGB": 3}.get(fmt)
    if channels is None:
        raise ValueError(f"pixel format {fmt!r} is not one of {', '.join(FORMATS)}")
    if a.ndim != 3 or a.shape[2] != channels or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"a {fmt} frame must be HxWx{channels}, got shape {a.shape}")
    if fmt.startswith("RGB"):
        return np.ascontiguousarray(a[..., :3])
    return np.ascontiguousarray(a[..., 2::-1])


def uyvy_to_rgb(data: np.ndarray) -> np.ndarray:
    """A UYVY frame, as HxWx2 (byte pairs: U Y, V Y, ...) or Hx2W bytes, to HxWx3 RGB (W even)."""
    a = np.asarray(data)
    if a.ndim == 2 and a.shape[1] % 4 == 0:
        a = a.reshape(a.shape[0], a.shape[1] // 2, 2)
    if a.ndim != 3 or a.shape[2] != 2 or a.shape[1] % 2 or a.shape[0] < 1 or a.shape[1] < 2:
        raise ValueError(f"a UYVY frame must be HxWx2 with an even width W, got shape {a.shape}")
    y = (a[..., 1].astype(np.float32) - 16.0) * _Y
    u = np.repeat(a[:, 0::2, 0].astype(np.float32) - 128.0, 2, axis=1)
    v = np.repeat(a[:, 1::2, 0].astype(np.float32) - 128.0, 2, axis=1)
    rgb = np.empty(a.shape[:2] + (3,), np.float32)
    rgb[..., 0] = y + _RV * v
    rgb[..., 1] = y - _GU * u - _GV * v
    rgb[..., 2] = y + _BU * u
    np.clip(rgb, 0.0, 255.0, out=rgb)
    return (rgb + 0.5).astype(np.uint8)


MAX_SHRINK = 16


def shrink(frame: np.ndarray, fit: tuple[int, int]) -> np.ndarray:
    """``frame`` (HxWx3 uint8) reduced by the largest whole factor (up to 16) that keeps it covering ``fit``
    (height, width), each pixel the mean of a k x k block; the frame itself when it is not twice as large."""
    h, w = frame.shape[:2]
    k = min(h // max(1, int(fit[0])), w // max(1, int(fit[1])), MAX_SHRINK)
    if k < 2:
        return frame
    rows, cols = h // k, w // k
    acc = np.zeros((rows, cols, frame.shape[2]), np.uint16)  # 16 x 16 x 255 fits
    for dy in range(k):
        for dx in range(k):
            acc += frame[dy:rows * k:k, dx:cols * k:k]
    acc += (k * k) // 2
    acc //= k * k
    return acc.astype(np.uint8)
