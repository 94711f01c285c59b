"""The Deep Dream step and the image operations around it, on torch tensors.

Images are ``1x3xHxW`` float tensors, RGB in [0, 1], kept channels-last (faster
convolutions on the CPU). One *step* is one forward and one backward pass of the
network, truncated at the deepest layer the objective needs, followed by one
normalised gradient-ascent update of the image.

The objective is ``sum_l w_l * log(mean(a_l^2))`` over the chosen layers ``l``
plus ``guide_weight * log P(targets)`` when class guidance is on. Logs make each
term scale-free, so layer weights and the guide weight mean the same thing on
every network and layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from performer.dream.backbones import Backbone

CL = torch.channels_last


@dataclass(frozen=True)
class Objective:
    """What a step climbs: layer indices with weights, and optional ImageNet targets."""

    layers: tuple[tuple[int, float], ...]
    guide: tuple[int, ...] = ()
    guide_weight: float = 0.0
    mix: tuple[tuple[tuple[int, ...], float], ...] = ()
    """Weighted target groups (ImageNet indices, weight); when set it replaces ``guide``: the guide term is the
    weighted sum of each group's log-probability, so guidance can move smoothly from one class to another."""

    @property
    def groups(self) -> tuple[tuple[tuple[int, ...], float], ...]:
        if self.mix:
            return tuple((g, w) for g, w in self.mix if g and w > 0)
        return ((self.guide, 1.0),) if self.guide else ()

    @property
    def guided(self) -> bool:
        return bool(self.groups) and self.guide_weight > 0

    def depth(self, backbone: Backbone) -> int:
        """Index of the last stage that must run."""
        if self.guided:
            return len(backbone.stages) - 1
        return max(i for i, _ in self.layers) if self.layers else len(backbone.stages) - 1


def evaluate(backbone: Backbone, x: torch.Tensor, obj: Objective) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Forward ``x`` (RGB [0, 1]) as deep as ``obj`` needs; return the objective and its parts.

    The parts (each layer's mean squared activation, the guide's log-probability) are detached 0-d tensors,
    left on the device so that a GPU need not synchronise every step.
    """
    keep = [i for i, _ in obj.layers]
    out, acts = backbone.run(backbone.normalize(x), obj.depth(backbone), keep)
    total = x.new_zeros(())
    parts: dict[str, torch.Tensor] = {}
    for i, w in obj.layers:
        energy = acts[i].float().square().mean()
        parts[backbone.stage_names[i]] = energy.detach()
        total = total + w * torch.log(energy + 1e-8)
    if obj.guided:
        logits = backbone.head(out).float()
        norm = torch.logsumexp(logits, dim=1)
        groups = obj.groups
        weights = sum(w for _, w in groups)
        logp = logits.new_zeros(())
        for targets, w in groups:
            idx = torch.as_tensor(targets, device=logits.device)
            logp = logp + (w / weights) * (torch.logsumexp(logits[:, idx], dim=1) - norm).mean()
        parts["guide_logp"] = logp.detach()
        total = total + obj.guide_weight * logp
    return total, parts


_kernels: dict[tuple[float, str, torch.dtype], torch.Tensor] = {}


def gaussian_blur(g: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a 1x3xHxW tensor (no-op below sigma 0.2)."""
    if sigma < 0.2:
        return g
    key = (round(sigma, 2), str(g.device), g.dtype)
    k = _kernels.get(key)
    if k is None:
        r = max(1, math.ceil(2.5 * sigma))
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = (k / k.sum()).to(device=g.device, dtype=g.dtype)
        _kernels[key] = k
    r = (k.numel() - 1) // 2
    c = g.shape[1]
    if min(g.shape[-2:]) <= r:
        return g
    g = F.pad(g, (r, r, r, r), mode="reflect")
    g = F.conv2d(g, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    g = F.conv2d(g, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return g


def normalize_grad(g: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "mean_abs":
        return g / (g.abs().mean() + 1e-8)
    if mode == "std":
        return g / (g.std() + 1e-8)
    return g


# ImageNet's colour correlation (the square root of its covariance, as feature-visualisation work uses it):
# a gradient step taken in this decorrelated colour space moves colours the way natural images vary.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()
_COLOR_PRECOND = _COLOR_SQRT @ _COLOR_SQRT.T


def decorrelate_colour(g: torch.Tensor) -> torch.Tensor:
    """The gradient as a step in the decorrelated colour space would move the image (``C C^T g`` per pixel)."""
    m = _COLOR_PRECOND.to(device=g.device, dtype=g.dtype)
    return torch.einsum("ij,bjhw->bihw", m, g)


_spectra: dict[tuple[int, int, float, str, torch.dtype], torch.Tensor] = {}


def frequency_scale(g: torch.Tensor, decay: float) -> torch.Tensor:
    """The gradient filtered by ``1 / f**decay``: the step a frequency-scaled image parameterisation takes.

    High spatial frequencies, where class gradients put speckle, are damped; large shapes get the steps."""
    if decay <= 0:
        return g
    h, w = g.shape[-2:]
    key = (h, w, round(decay, 3), str(g.device), g.dtype)
    scale = _spectra.get(key)
    if scale is None:
        fy = torch.fft.fftfreq(h, device=g.device).abs().view(-1, 1)
        fx = torch.fft.rfftfreq(w, device=g.device).view(1, -1)
        f = torch.sqrt(fy ** 2 + fx ** 2).clamp_min(1.0 / max(h, w))
        scale = f.pow(-decay)
        scale = (scale / scale.mean()).to(g.dtype)
        if len(_spectra) > 16:
            _spectra.clear()
        _spectra[key] = scale
    spec = torch.fft.rfft2(g.float(), norm="ortho") * scale
    return torch.fft.irfft2(spec, s=(h, w), norm="ortho").to(g.dtype)


@dataclass
class StepSettings:
    lr: float = 0.02
    jitter: int = 8
    grad_norm: str = "mean_abs"
    grad_smooth: float = 0.5
    robustness: float = 0.0
    """Random scale (up to 8 %) and rotation (up to 8 degrees) times this, applied before each step, so only
    patterns that survive small transforms grow."""
    freq_decay: float = 0.0
    """Exponent of the 1/f gradient filter (0 off); see :func:`frequency_scale`."""
    decorrelate: bool = False
    """Take steps in ImageNet's decorrelated colour space."""


def _random_view(x: torch.Tensor, s: StepSettings, j: int, gen: torch.Generator | None) -> torch.Tensor:
    """``x`` randomly shifted (``j`` px), scaled and rotated (``s.robustness``), differentiably."""
    r = torch.rand(4, generator=gen).tolist()
    scale = 1.0 + 0.08 * s.robustness * (2 * r[0] - 1)
    angle = math.radians(8.0 * s.robustness * (2 * r[1] - 1))
    _, _, h, w = x.shape
    tx, ty = (2 * r[2] - 1) * 2 * j / w, (2 * r[3] - 1) * 2 * j / h
    c, si = math.cos(angle) / scale, math.sin(angle) / scale
    theta = torch.tensor([[c, -si * h / w, tx], [si * w / h, c, ty]], dtype=x.dtype, device=x.device).unsqueeze(0)
    grid = F.affine_grid(theta, [1, 3, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def step(backbone: Backbone, x: torch.Tensor, obj: Objective, s: StepSettings,
         gen: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One gradient-ascent step on ``x``; returns the new image (clamped to [0, 1]) and the objective parts."""
    j = min(int(s.jitter), max(0, min(x.shape[-2:]) // 4))
    if s.robustness > 0:
        # The transform is part of the graph: the gradient arrives in the image's own coordinates.
        xg = x.detach().contiguous(memory_format=CL).requires_grad_(True)
        total, parts = evaluate(backbone, _random_view(xg, s, j, gen).contiguous(memory_format=CL), obj)
        (g,) = torch.autograd.grad(total, xg)
        dy = dx = 0
    else:
        if j > 0:
            dy, dx = (int(v) for v in torch.randint(-j, j + 1, (2,), generator=gen))
        else:
            dy = dx = 0
        xs = torch.roll(x, (dy, dx), (2, 3)) if (dx or dy) else x
        xs = xs.detach().contiguous(memory_format=CL).requires_grad_(True)
        total, parts = evaluate(backbone, xs, obj)
        (g,) = torch.autograd.grad(total, xs)
    parts["objective"] = total.detach()
    with torch.no_grad():
        g = gaussian_blur(g, s.grad_smooth)
        if s.freq_decay > 0:
            g = frequency_scale(g, s.freq_decay)
        if s.decorrelate:
            g = decorrelate_colour(g)
        g = normalize_grad(g, s.grad_norm)
        if dx or dy:
            g = torch.roll(g, (-dy, -dx), (2, 3))
        x = (x + s.lr * g).clamp_(0.0, 1.0).contiguous(memory_format=CL)
    return x, parts


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize to (height, width), channels-last."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False).contiguous(
        memory_format=CL)


def octave_sizes(h: int, w: int, octaves: int, scale: float, min_side: int = 32) -> list[tuple[int, int]]:
    """Image sizes from the smallest octave to full size; octaves too small for the net are dropped."""
    sizes = []
    for k in range(max(1, octaves) - 1, -1, -1):
        f = scale ** -k
        sh, sw = max(1, round(h * f)), max(1, round(w * f))
        if k and min(sh, sw) < min_side:
            continue
        sizes.append((sh, sw))
    return sizes


def dream_octaves(backbone: Backbone, base: torch.Tensor, obj: Objective, s: StepSettings, iterations: int,
                  octaves: int, octave_scale: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """A classic full Deep Dream pass: for each octave, small to large, ``iterations`` steps.

    The detail dreamed at a small scale is carried up to the next one; the result has ``base``'s size.
    """
    h, w = base.shape[-2:]
    detail = None
    img = base
    for size in octave_sizes(h, w, octaves, octave_scale):
        b = resize(base, size)
        img = b if detail is None else (b + resize(detail, size)).clamp_(0, 1)
        for _ in range(iterations):
            img, _ = step(backbone, img, obj, s, gen)
        detail = img - b
    return img


_grid_cache: dict[tuple, torch.Tensor] = {}


def feedback(x: torch.Tensor, zoom: float, rotate_deg: float, tx: float, ty: float) -> torch.Tensor:
    """Zoom (>1 magnifies the centre), rotate (degrees) and translate (pixels) the image once; bilinear, as
    :func:`performer.dream.canvas.warp` explains."""
    if abs(zoom - 1.0) < 1e-4 and abs(rotate_deg) < 1e-3 and abs(tx) < 1e-3 and abs(ty) < 1e-3:
        return x
    _, _, h, w = x.shape
    a = math.radians(rotate_deg)
    c, s = math.cos(a) / zoom, math.sin(a) / zoom
    # grid_sample samples the source at theta @ (x_out, y_out, 1) in normalised [-1, 1] coordinates.
    key = (round(zoom, 5), round(rotate_deg, 4), round(tx, 3), round(ty, 3), h, w, str(x.device), x.dtype)
    grid = _grid_cache.get(key)
    if grid is None:
        theta = torch.tensor([[c, -s * h / w, -2.0 * tx / w], [s * w / h, c, -2.0 * ty / h]],
                             dtype=x.dtype, device=x.device).unsqueeze(0)
        grid = F.affine_grid(theta, [1, 3, h, w], align_corners=False)
        if len(_grid_cache) > 64:
            _grid_cache.clear()
        _grid_cache[key] = grid
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False).clamp_(0, 1).contiguous(memory_format=CL)


def to_tensor(img, size: tuple[int, int] | None, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 (or float [0, 1]) array to a 1x3xHxW channels-last tensor, resized to (height, width)."""
    a = np.asarray(img)
    t = torch.from_numpy(a if a.flags.writeable else a.copy())
    if t.ndim == 2:
        t = t.unsqueeze(-1).expand(-1, -1, 3)
    if t.shape[-1] == 4:
        t = t[..., :3]
    if t.shape[-1] != 3:
        raise ValueError(f"an image must be HxW, HxWx3 or HxWx4, got shape {tuple(t.shape)}")
    t = t.to(device=device)
    t = t.float() / 255.0 if t.dtype == torch.uint8 else t.float().clamp(0, 1)
    t = t.permute(2, 0, 1).unsqueeze(0).contiguous(memory_format=CL)
    if size is not None and tuple(t.shape[-2:]) != tuple(size):
        t = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True).contiguous(
            memory_format=CL)
    return t


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """1x3xHxW [0, 1] tensor to an HxWx3 uint8 numpy array."""
    return (x[0].permute(1, 2, 0) * 255.0 + 0.5).clamp_(0, 255).to(torch.uint8).cpu().numpy()
