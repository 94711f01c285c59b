"""The full-size picture's machinery: tiles that cover it, a drift that never resamples, a warp that never
sharpens, feathered writes."""

import random

import cv2
import numpy as np
import pytest
import torch

from performer.dream import canvas
from performer.dream.canvas import Region, Sweep, Window


def lap_var(x: torch.Tensor) -> float:
    g = (x[0].permute(1, 2, 0).numpy() * 255).astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    return float(cv2.Laplacian(g, cv2.CV_32F).var())


def picture(h: int = 90, w: int = 160, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g).contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("length,tile,offset", [(720, 320, 0.0), (720, 320, 157.3), (1280, 640, 600.0), (180, 320, 5)])
def test_grid_cuts_the_length_into_pieces_near_the_tile_size(length, tile, offset):
    pieces = canvas.grid(length, tile, offset)
    assert pieces[0][0] == 0 and pieces[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    assert all(b - a <= tile * 4 / 3 + 1 for a, b in pieces) or len(pieces) == 1


def test_a_sweep_covers_every_pixel_of_every_detail_octave_once():
    sweep = Sweep(random.Random(1))
    picture_size, sizes = (720, 1280), [(180, 320), (360, 640), (720, 1280)]
    regions = [sweep.next(picture_size, sizes, [1, 2], 320)]
    regions += [sweep.next(picture_size, sizes, [1, 2], 320) for _ in range(sweep.left)]
    assert sweep.left == 0 and 10 <= len(regions) <= 40
    for octave in (1, 2):
        cover = np.zeros(picture_size, np.int32)
        for r in regions:
            if r.octave == octave:
                t, b, left, right = r.box
                cover[t:b, left:right] += 1
        assert (cover == 1).all(), f"octave {octave} covered {cover.min()}..{cover.max()} times"
        tiles = [r for r in regions if r.octave == octave]
        side = 320 / (sizes[octave][0] / 720)
        assert all(max(r.box[1] - r.box[0], r.box[3] - r.box[2]) <= side * 4 / 3 + 1 for r in tiles)


def test_a_drift_moves_the_visible_picture_by_whole_pixels_and_a_recentre_changes_nothing_visible():
    x = picture(120, 200)
    w = Window(16)
    before = w.crop(x, (88, 168)).clone()
    x = w.move(x, 3.0, 0.0)  # content 3 px to the right
    after = w.crop(x, (88, 168))
    assert torch.equal(after[..., :, 3:], before[..., :, :-3])
    for _ in range(10):  # far past the margin: the picture is moved back, the view goes on exactly
        view = w.crop(x, (88, 168)).clone()
        x = w.move(x, 2.0, -1.0)
        moved = w.crop(x, (88, 168))
        assert torch.equal(moved[..., :-1, 2:], view[..., 1:, :-2])
    assert abs(w.x - 16) <= 8 and abs(w.y - 16) <= 8


def test_a_fraction_of_a_pixel_is_carried_not_resampled():
    x = picture(60, 100)
    w = Window(8)
    view = w.crop(x, (44, 84)).clone()
    x = w.move(x, 0.3, 0.0)
    assert torch.equal(w.crop(x, (44, 84)), view)  # under half a pixel: the output clock shows it
    assert w.fraction == pytest.approx((0.3, 0.0))
    for _ in range(2):
        x = w.move(x, 0.3, 0.0)
    assert torch.equal(w.crop(x, (44, 84))[..., 1:], view[..., :-1])  # 0.9 px: the crop moved one whole pixel
    assert w.fraction == pytest.approx((-0.1, 0.0))


def test_repeated_small_warps_only_ever_soften():
    """Bicubic's overshoot, applied every frame, grew a maze of grain over the picture; bilinear never adds."""
    x = picture(90, 160)
    start = lap_var(x)
    prev = start
    for _ in range(40):
        x = canvas.warp(x, 1.0007, 0.01)
        v = lap_var(x)
        assert v <= prev * 1.001
        prev = v
    assert prev < start


def test_shift_is_exact_and_mirrors_the_uncovered_edge():
    x = picture(20, 30)
    y = canvas.shift(x, 2, -3)
    assert torch.equal(y[..., :17, 2:], x[..., 3:, :28])
    assert torch.equal(y[..., :17, 0], x[..., 3:, 2])  # mirror of column 2 about column 0 at x = 0


def test_feather_is_one_over_the_tile_and_falls_to_the_patch_edge():
    m = canvas.feather((40, 60), (10, 30, 0, 50), torch.device("cpu"))[0, 0]
    assert torch.all(m[10:30, 0:50] == 1)
    assert m[0, 25] < 0.1 and m[39, 25] < 0.1  # margins above and below fall off
    assert m[20, 59] < 0.15  # the right margin too
    assert m[20, 0] == 1  # the left edge is the picture's own: no fall


def test_a_whole_region_and_tiles_change_only_their_part_of_the_picture():
    from performer.dream.core import Objective, StepSettings
    from performer.dream.octaves import Octaves

    class Bright:  # a stand-in network: the objective is the picture's mean, so each step brightens it
        stages = [torch.nn.Identity()]

        def normalize(self, x):
            return x

        def run(self, x, depth, keep):
            return x, {0: x}

        stage_names = ["id"]

    import threading

    o = Octaves(0, threading.Event())
    x = torch.full((1, 3, 96, 160), 0.5).contiguous(memory_format=torch.channels_last)
    obj = Objective(((0, 1.0),))
    s = StepSettings(lr=0.05, jitter=0, grad_norm="mean_abs", grad_smooth=0.0)
    y, _ = o.region(Bright(), x.clone(), Region(1, (0, 32, 0, 40)), (48, 80), 1, obj, s, None)
    changed = (y - x).abs().sum(1)[0] > 1e-6
    assert changed[:32, :40].all()
    assert not changed[60:, :].any() and not changed[:, 100:].any()  # beyond the tile's margin: untouched


def test_a_morph_switches_the_picture_region_by_region_instead_of_averaging_it():
    old = torch.zeros(1, 3, 90, 160).contiguous(memory_format=torch.channels_last)
    new = torch.ones(1, 3, 90, 160).contiguous(memory_format=torch.channels_last)
    d = canvas.Dissolve(new, torch.Generator().manual_seed(0))
    x = old
    for progress in (0.1, 0.25, 0.5):
        x = d.apply(x, progress)
        switched = float((x == 1).float().mean())
        between = float(((x > 0) & (x < 1)).float().mean())
        assert abs(switched - progress) < 0.1 and between < 0.15  # the area due, a narrow edge, no grey mean
    x = x + 0.3 * (x == 0)  # the dream moves the part not yet switched; switched regions are left to the dream
    x2 = d.apply(x.clamp(0, 1), 0.5)
    assert torch.equal(x2, x.clamp(0, 1))
    assert bool((d.apply(x2, 1.0) == 1).all())
