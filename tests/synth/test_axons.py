"""Tests of jaxaxon/synth/axons.py: axon image and axon mask from a scene (docs/original.md, step 3)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.synth.axons import gaussian_profile, render_axons
from jaxaxon.synth.scene import AxonScene

from .helpers import gaussian_np, point_distances_np, scenes

N = 3  # scenes compared against the brute-force reference


def _ref_maps(sc: AxonScene, i: int, cfg):
    """Distance map (min over all points of all branches) and variation map (per-branch
    nearest-point value, merged over branches by minimum), by brute force."""
    height, width = cfg.shape
    dist = np.full((height, width), np.inf)
    var = np.full((height, width), np.inf)
    for s in range(cfg.max_branches):
        valid = np.full(cfg.NSplinePoints, bool(sc.branch_valid[i, s]))
        thick = np.full(cfg.NSplinePoints, sc.thickness[i, s])
        per_point = point_distances_np(sc.points[i, s], valid, thick, height, width)
        d = per_point.min(axis=0)
        v = np.where(np.isfinite(d), sc.variation[i, s][np.argmin(per_point, axis=0)], np.inf)
        dist = np.minimum(dist, d)
        var = np.minimum(var, v)
    return dist, var


def test_gaussian_profile():
    d = jnp.array([0.0, 0.5, 1.0, 2.7, 10.0, jnp.inf])
    for sigma in (0.75, 1.0, 2.0):
        out = np.asarray(gaussian_profile(d, sigma))
        dd = np.asarray(d[:-1], np.float64)
        np.testing.assert_allclose(out[:-1], np.exp(-(dd**2) / (2 * sigma**2)) / math.sqrt(2 * math.pi * sigma**2), rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(out, gaussian_np(np.asarray(d, np.float64), sigma), rtol=1e-6, atol=1e-30)
        assert out[-1] == 0.0


def test_render_axons_matches_reference(run_heavy, small_cfg):
    cfg = small_cfg
    sc = scenes(cfg, 1, 16)
    sub = jax.tree.map(lambda a: jnp.asarray(a[:N]), sc)
    noise = jax.random.normal(jax.random.key(9), (N, *cfg.shape))
    layer = run_heavy(lambda z, s: render_axons(z, s, cfg), noise, sub)
    noise = np.asarray(noise, np.float64)
    for i in range(N):
        dist, var = _ref_maps(sc, i, cfg)
        finite = np.isfinite(dist)
        np.testing.assert_array_equal(np.isfinite(layer.distance[i]), finite)
        np.testing.assert_allclose(layer.distance[i][finite], dist[finite], atol=1e-4)
        var0 = np.where(np.isfinite(var), var, 0.0)
        # values may differ only at float32 near-ties between points; compare where they agree
        agree = np.isclose(layer.variation[i], var0, atol=1e-6)
        assert agree.mean() > 0.995
        gauss = gaussian_np(dist, cfg.sigma_spread)
        image = gauss * (var0 + cfg.sigma_noise_axon * noise[i])
        np.testing.assert_allclose(layer.image[i][agree], image[agree], atol=1e-5)
        np.testing.assert_allclose(layer.clean[i][agree], (gauss * var0)[agree], atol=1e-5)
        assert np.all(layer.image[i][~finite] == 0) and np.all(layer.clean[i][~finite] == 0)
        np.testing.assert_array_equal(layer.mask[i], dist < cfg.SegmentationThreshold)
        assert layer.mask[i].dtype == bool and layer.mask[i].any()


def test_axon_mask_is_continuous_through_gaps(small_cfg):
    cfg = small_cfg
    sc = scenes(cfg, 1, 16)
    layer = jax.jit(jax.vmap(lambda z, s: render_axons(z, s, cfg)))(jnp.zeros((16, *cfg.shape)), jax.tree.map(jnp.asarray, sc))
    mask, clean = np.asarray(layer.mask), np.asarray(layer.clean)
    height, width = cfg.shape
    dark_but_masked = 0
    for i in range(16):
        pts = sc.points[i][sc.branch_valid[i]]
        gaps = sc.gap[i][sc.branch_valid[i]]
        inside = (pts[..., 0] >= 0) & (pts[..., 0] <= height - 1) & (pts[..., 1] >= 0) & (pts[..., 1] <= width - 1)
        pix = np.round(pts[inside]).astype(int)
        # every centreline pixel is in the mask, gap points included
        assert mask[i][pix[:, 0], pix[:, 1]].all()
        gpix = np.round(pts[inside & gaps]).astype(int)
        dark_but_masked += int(np.sum(clean[i][gpix[:, 0], gpix[:, 1]] < 0.02))
        # the mask is exactly the thresholded distance, so its pixels are near the centreline
        rr, cc = np.nonzero(mask[i])
        d = np.min(np.hypot(rr[:, None] - pts[inside][None, :, 0], cc[:, None] - pts[inside][None, :, 1]), axis=1)
        assert d.max() < cfg.SegmentationThreshold + 1e-4
    assert dark_but_masked > 0  # gaps are dark in the image and still in the mask
