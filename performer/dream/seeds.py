"""Where a new dream starts: a class's image, the live spectrogram, or noise."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from performer.dream.core import CL, to_tensor


def noise_seed(size: tuple[int, int], device: torch.device, gen: torch.Generator | None = None) -> torch.Tensor:
    """Soft coloured noise around mid grey: coarse blobs plus a little fine grain."""
    h, w = size
    coarse = torch.rand(1, 3, max(2, h // 16), max(2, w // 16), generator=gen)
    fine = torch.rand(1, 3, h, w, generator=gen)
    x = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    x = 0.5 + 0.35 * (x - 0.5) + 0.1 * (fine - 0.5)
    return x.clamp_(0, 1).to(device).contiguous(memory_format=CL)


_MAGMA_LUT: np.ndarray | None = None


def _lut() -> np.ndarray:
    global _MAGMA_LUT
    if _MAGMA_LUT is None:
        try:
            from matplotlib import colormaps

            _MAGMA_LUT = (colormaps["magma"](np.linspace(0, 1, 256))[:, :3]).astype(np.float32)
        except Exception:
            t = np.linspace(0, 1, 256, dtype=np.float32)[:, None]
            _MAGMA_LUT = np.concatenate([t, t**2 * 0.7, 0.3 * t * (1 - t)], axis=1).astype(np.float32)
    return _MAGMA_LUT


def spectrogram_seed(spec: np.ndarray, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """A mel spectrogram (mels x frames, any scale) as a colour image, low frequencies at the bottom."""
    a = np.asarray(spec, dtype=np.float32)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"a spectrogram must be a non-empty 2-D array, got shape {a.shape}")
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = np.percentile(a, (2, 98))
    a = np.clip((a - lo) / (hi - lo + 1e-9), 0, 1)[::-1]
    rgb = _lut()[(a * 255).astype(np.uint8)]
    return to_tensor(rgb, size, device)


def image_seed(img: np.ndarray, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """An HxWx3 image scaled to cover ``size`` (height, width) and centre-cropped: no stretching."""
    a = np.asarray(img)
    if a.ndim < 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"a seed image must be HxW or HxWxC, got shape {a.shape}")
    h, w = a.shape[:2]
    th, tw = size
    if h * tw > w * th:  # taller than the target: keep the full width, crop rows
        ch = max(1, round(w * th / tw))
        a = a[(h - ch) // 2:(h - ch) // 2 + ch]
    else:
        cw = max(1, round(h * tw / th))
        a = a[:, (w - cw) // 2:(w - cw) // 2 + cw]
    return to_tensor(np.ascontiguousarray(a), size, device)
