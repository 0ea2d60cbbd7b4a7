"""Depth modes (jaxaxon.synth.depth): the axial law, the projections, labels, bouton sizes and
the validation of the depth keys."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.config import ConfigError, GeneratorConfig
from jaxaxon.synth.boutons import place_boutons
from jaxaxon.synth.depth import (
    DefocusedAxons,
    bin_depths,
    depth_range,
    focal_planes,
    bin_factors,
    project,
    render_defocused,
    render_lines,
    width_factor,
)
from jaxaxon.synth.series import generate_series

from .helpers import generated, scenes

DEPTH = dict(defocused_axons=(4.0, 6.0), slab_depth=20.0, axial_sigma=2.0, stack_depth=4.0)


@pytest.fixture(scope="module")
def depth_cfgs(small_cfg) -> dict[str, GeneratorConfig]:
    """SMALL as a slab in each depth mode ('mean' labels every axon and has large boutons)."""
    return {
        "section": small_cfg.replace(depth_mode="section", **DEPTH),
        "max": small_cfg.replace(depth_mode="max", **DEPTH),
        "mean": small_cfg.replace(depth_mode="mean", depth_labels="all", bouton_size=(1.5, 2.5), **DEPTH),
    }


def _signal(cfg: GeneratorConfig):
    """``key -> [H, W]`` projected signal of an empty in-focus layer (one function per config,
    so the transformation modes share its compilations)."""
    return _SIGNALS.setdefault(cfg, lambda key: project(jnp.zeros(cfg.shape), render_defocused(key, cfg), cfg))


_SIGNALS: dict = {}


@pytest.mark.parametrize("mode", ["section", "max", "mean"])
def test_modes_plain_jit_vmap(run, depth_cfgs, mode):
    cfg = depth_cfgs[mode]
    keys = jax.random.split(jax.random.key(3), 2)
    out = run(_signal(cfg), keys)
    assert out.shape == (2, *cfg.shape)
    assert np.all(np.isfinite(out)) and np.all(out >= 0)
    assert np.all(out.max(axis=(1, 2)) > 0)  # at least 4 defocused axons show
    reference = jax.jit(jax.vmap(_signal(cfg)))(keys)
    np.testing.assert_allclose(out, np.asarray(reference), rtol=1e-4, atol=1e-6)


def test_planes_and_depths(depth_cfgs):
    assert focal_planes(depth_cfgs["section"]).tolist() == [0.0]
    planes = focal_planes(depth_cfgs["max"])
    assert len(planes) % 2 == 1 and planes[len(planes) // 2] == 0
    assert planes[0] == -2 and planes[-1] == 2 and np.all(np.diff(planes) <= 2)
    assert depth_range(depth_cfgs["section"]) == (2.0, 10.0)
    assert depth_range(depth_cfgs["mean"]) == (4.0, 10.0)  # beyond the stack by one axial_sigma
    factors = bin_factors(depth_cfgs["section"])  # w^2 from 2 to 26 (sigma_spread 1)
    assert factors[0] == 1 and factors[-1] == 4 and list(factors) == sorted(factors)


ROW = 31.25  # a line between pixel rows: its splat spreads about as much as the average one


def _line(depth: float, cols: int = 64) -> DefocusedAxons:
    """A horizontal line through row `ROW`, intensity 1, at ``|z| = depth``."""
    c = jnp.arange(-10.0, cols + 10.0, 1.0)
    points = jnp.stack([jnp.full_like(c, ROW), c], -1)[None]
    valid = jnp.ones(points.shape[:2], bool)
    one = jnp.ones((1,))
    return DefocusedAxons(points=points, valid=valid, intensity=one, depth=one * depth, drawn=one > 0)


@pytest.mark.parametrize("sigma_spread", [1.0, 3.0])  # full-resolution and coarse grids
def test_axial_law_on_clean_signal(small_cfg, sigma_spread):
    """A line at defocus d: Gaussian cross-section of sigma ``sigma_spread * w(d)`` and peak
    ``1 / (sqrt(2 pi) sigma_spread w^3)``: dimmer and wider than in focus (section mode)."""
    cfg = small_cfg.replace(depth_mode="section", sigma_spread=sigma_spread, **DEPTH)
    render = jax.jit(lambda depth: render_lines(_line(depth), cfg).planes[0])
    for depth in bin_depths(cfg)[[0, 3, 7]]:
        w = float(width_factor(depth, cfg.axial_sigma))
        profile = np.asarray(render(depth))[:, 32]
        rows = np.arange(profile.size)
        width = np.sqrt(np.sum(profile * (rows - ROW) ** 2) / np.sum(profile))
        peak_in_focus = 1 / (np.sqrt(2 * np.pi) * sigma_spread)
        law = peak_in_focus / w**3 * np.exp(-((rows - ROW) ** 2) / (2 * (sigma_spread * w) ** 2))
        assert profile.argmax() == 31
        np.testing.assert_allclose(profile.max(), law.max(), rtol=0.05)  # grid: +-5 % by position
        np.testing.assert_allclose(width, np.sqrt(np.sum(law * (rows - ROW) ** 2) / np.sum(law)), rtol=0.05)
        assert profile.max() < peak_in_focus and width > sigma_spread


def test_projections_of_one_line(depth_cfgs):
    """'max' keeps the brightest plane; 'mean' is dimmer; all see the same line."""
    out = {}
    depth = float(bin_depths(depth_cfgs["max"])[2])  # a bin's depth: depths are quantised to the bins
    for mode, cfg in depth_cfgs.items():
        cfg = cfg.replace(depth_labels="in_focus")
        render = jax.jit(lambda d, cfg=cfg: project(jnp.zeros(cfg.shape), render_lines(_line(d), cfg), cfg))
        out[mode] = np.asarray(render(depth))
    planes = focal_planes(depth_cfgs["max"])
    w_nearest = float(width_factor(depth - planes.max(), 2.0))
    rows = np.arange(cfg.height)
    law = np.exp(-((rows - ROW) ** 2) / (2 * w_nearest**2)) / (np.sqrt(2 * np.pi) * w_nearest**3)
    np.testing.assert_allclose(out["max"].max(), law.max(), rtol=0.05)
    assert out["mean"].max() < out["max"].max()
    assert out["section"].max() < out["max"].max()  # the focal plane is farther than the stack's edge


def test_generate_depth(depth_cfgs):
    """Generated depth images ('mean', labels 'all'): the defocused axons are in the labels
    and in the clean signal, dimmer than the in-focus axons."""
    cfg = depth_cfgs["mean"]
    batch = generated(cfg, 0)
    assert batch.image.shape == (8, *cfg.shape)
    rr, cc = np.mgrid[: cfg.height, : cfg.width]
    for i in range(batch.image.shape[0]):
        pts = batch.centerlines[i][batch.centerline_valid[i]]
        pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < cfg.height) & (pts[:, 1] >= 0) & (pts[:, 1] < cfg.width)]
        dist = np.min(np.hypot(rr[..., None] - pts[:, 0], cc[..., None] - pts[:, 1]), axis=-1)
        defocused = batch.axon_mask[i] & (dist > cfg.SegmentationThreshold + 2) & ~batch.bouton_mask[i]
        assert defocused.sum() > 20  # labelled defocused axons away from the in-focus ones
        on_axons = batch.clean[i][np.round(pts[:, 0]).astype(int), np.round(pts[:, 1]).astype(int)]
        assert batch.clean[i][defocused].max() < on_axons.max()
        assert batch.clean[i][defocused].mean() < on_axons.mean()
    outside = ~batch.axon_mask & ~batch.bouton_mask & ~batch.cell_mask
    assert np.mean(batch.clean[outside] > 0) > 0.2  # defocused light beyond every mask


def test_labels_all_cover_defocused_axons(depth_cfgs):
    cfg = depth_cfgs["mean"]
    layer = jax.jit(lambda k: render_defocused(k, cfg))(jax.random.key(5))
    pts = np.asarray(layer.axons.points)[np.asarray(layer.axons.valid)]
    rr, cc = np.mgrid[: cfg.height, : cfg.width]
    dist = np.min(np.hypot(rr[..., None] - pts[:, 0], cc[..., None] - pts[:, 1]), axis=-1)
    mask = np.asarray(layer.mask)
    t = cfg.SegmentationThreshold
    assert mask[dist < t - 0.6].all()
    assert not mask[dist > t + 0.8].any()
    none = jax.jit(lambda k: render_defocused(k, cfg.replace(depth_labels="in_focus")))(jax.random.key(5))
    assert not np.asarray(none.mask).any()


def test_bouton_size_radii(small_cfg):
    cfg = small_cfg.replace(bouton_size=(1.5, 2.5))
    sc = scenes(small_cfg, 7, 4)
    keys = jax.random.split(jax.random.key(1), 4)
    boutons = jax.jit(jax.vmap(lambda k, s: place_boutons(k, s, cfg)))(keys, sc)
    valid = np.asarray(boutons.valid)
    assert valid.sum() > 4
    thickness = np.take_along_axis(np.asarray(sc.thickness), np.asarray(boutons.slot), axis=1)
    radius = np.asarray(boutons.radius)
    lo, hi = np.maximum(np.round(1.5 * thickness), 1), np.round(2.5 * thickness)
    assert np.all((radius >= lo) & (radius <= hi) | ~valid)
    assert len(np.unique(radius[valid])) > 1


def test_bouton_size_in_generated_masks(depth_cfgs):
    batch = generated(depth_cfgs["mean"], 0)
    for i in range(batch.image.shape[0]):
        for slot in np.flatnonzero(batch.bouton_valid[i]):
            area = np.sum(batch.bouton_label[i] == slot + 1)
            assert area <= np.pi * batch.bouton_radius[i, slot] ** 2 + 1


def test_validation(small_cfg):
    small_cfg.replace(slab_depth=2.0, defocused_axons=(3.0, 5.0))  # depth keys with depth_mode 'off' are fine
    with pytest.raises(ConfigError, match="defocused_axons: expected whole numbers"):
        small_cfg.replace(depth_mode="section", defocused_axons=(2.5, 4.0))
    with pytest.raises(ConfigError, match="slab_depth: a slab of 10.0 px has no room"):
        small_cfg.replace(depth_mode="max", slab_depth=10.0, axial_sigma=4.0, stack_depth=4.0, defocused_axons=(1, 2))
    small_cfg.replace(depth_mode="max", slab_depth=10.0, axial_sigma=4.0, stack_depth=4.0)  # no defocused axons
    with pytest.raises(ConfigError, match="depth_mode"):
        small_cfg.replace(depth_mode="deep")
    with pytest.raises(ConfigError, match="depth_labels"):
        small_cfg.replace(depth_labels="some")
    with pytest.raises(ConfigError, match="bouton_size: boutons of radius up to"):
        small_cfg.replace(bouton_size=(1.0, 8.0))
    with pytest.raises(ConfigError, match="bouton_size"):
        small_cfg.replace(bouton_size=(-1.0, 2.0))


def test_series_in_depth(depth_cfgs):
    """A series in a depth mode: every frame shows the defocused axons, labelled ('all')."""
    cfg = depth_cfgs["mean"]
    series = jax.tree.map(np.asarray, generate_series(jax.random.key(0), cfg, 1))
    assert series.image.shape == (1, cfg.NbImages, *cfg.shape)
    for t in range(cfg.NbImages):
        outside = ~series.axon_mask[0, t] & ~series.bouton_mask[0, t] & ~series.cell_mask[0, t]
        assert np.mean(series.clean[0, t][outside] > 0) > 0.2  # defocused light beyond every mask
        assert series.axon_mask[0, t].mean() > 0.15  # in-focus and defocused axons labelled


def test_no_defocused_axons(small_cfg):
    cfg = small_cfg.replace(depth_mode="section", **dict(DEPTH, defocused_axons=(0.0, 0.0)))
    layer = jax.jit(lambda k: render_defocused(k, cfg))(jax.random.key(0))
    assert not np.asarray(layer.axons.drawn).any() and float(jnp.max(layer.planes)) == 0.0
    assert dataclasses.is_dataclass(layer)
