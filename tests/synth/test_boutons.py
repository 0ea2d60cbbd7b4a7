"""Tests of jaxaxon/synth/boutons.py: placement and rendering of boutons (docs/original.md, step 4, bug B3)."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.synth.boutons import (
    EN_PASSANT, TERMINAL, TERMINAL_POINTS, bouton_contrast, bouton_sigma, place_boutons, render_boutons,
)  # fmt: skip

from .helpers import gaussian_np, generated_many, point_distances_np, scene_from_batch, scenes

N = 8


@functools.lru_cache(maxsize=None)
def _placer(cfg):
    return jax.jit(jax.vmap(lambda k, s: place_boutons(k, s, cfg)))


@functools.lru_cache(maxsize=None)
def _renderer(cfg):
    """One image's `render_boutons`, jitted (visible and brightness always given: one trace)."""
    return jax.jit(lambda k, b, s, z, vis, br: render_boutons(k, b, s, z, cfg, visible=vis, brightness=br))


def _place(cfg, scene, seed):
    """`place_boutons` on every scene of a batch (NumPy result)."""
    n = scene.points.shape[0]
    keys = jax.random.split(jax.random.key(seed), n)
    return jax.tree.map(np.asarray, _placer(cfg)(keys, jax.tree.map(jnp.asarray, scene)))


@pytest.fixture(scope="module")
def bcfg(small_cfg):
    """SMALL with a range of bouton counts and no bouton distance noise (exact rendering)."""
    return small_cfg.replace(MinNbBouton=2, MaxNbBouton=6, sigma_noise_bouton=0.0)


def test_bouton_profile_reaches_five_percent_at_the_radius():
    radius = jnp.array([1, 2, 3, 4, 2, 3])
    bright = jnp.array([0.31, 0.35, 0.39, 0.5, 0.9, 0.06])
    v = np.asarray(bouton_sigma(radius, bright), np.float64)
    r, b = np.asarray(radius, np.float64), np.asarray(bright, np.float64)
    np.testing.assert_allclose(b * np.exp(-(r**2) / (2 * v**2)), 0.05, rtol=1e-5)
    np.testing.assert_allclose(v, np.sqrt(-(r**2) / (2 * np.log(0.05 / b))), rtol=1e-6)


def check_placement(bo, sc, cfg, i):
    """The rules of docs/original.md, step 4 for image ``i`` (NumPy arrays)."""
    height, width = cfg.shape
    nsp = cfg.NSplinePoints
    valid = bo.valid[i]
    count = int(valid.sum()) + int(bo.failed[i])
    assert cfg.MinNbBouton <= count <= cfg.MaxNbBouton
    if valid.any():
        assert np.flatnonzero(valid).max() < count  # slots past the drawn count stay empty
    centres = bo.centre[i][valid]
    d = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    assert np.all(d[~np.eye(len(centres), dtype=bool)] > cfg.minDistBetweenBoutons)
    for j in np.flatnonzero(valid):
        slot, point, kind = int(bo.slot[i, j]), int(bo.point[i, j]), int(bo.kind[i, j])
        assert sc.branch_valid[i, slot]
        if cfg.fixed:
            assert not sc.gap[i, slot, point], "bouton on a gap point"
        anchor = sc.points[i, slot, point].astype(np.float64)
        assert 0 <= anchor[0] <= height - 1 and 0 <= anchor[1] <= width - 1
        r = math.floor(float(sc.thickness[i, slot])) + 1
        assert int(bo.radius[i, j]) == r
        pct = float(bo.brightness[i, j]) * 100
        assert abs(pct - round(pct)) < 1e-3 and cfg.MinBrightnessBouton + 1 <= round(pct) <= cfg.MaxBrightnessBouton - 1
        c = bo.centre[i, j].astype(np.float64)
        np.testing.assert_array_equal(c, np.round(c))
        if kind == EN_PASSANT:
            np.testing.assert_array_equal(c, np.round(anchor))
            assert not bo.branch_points[i, j].any()
        else:
            assert kind == TERMINAL
            assert 0 < point < nsp - 1
            assert 0 <= c[0] <= height - 1 and 0 <= c[1] <= width - 1
            offset = c - anchor
            rho = np.hypot(*offset)
            assert 2.1 * r - 0.75 <= rho <= 3.1 * r + 0.75  # rho = r (2.1 + U(0, 1)), then rounded
            toward = sc.points[i, slot, point + 1].astype(np.float64) - anchor
            toward /= np.hypot(*toward)
            # theta in (asin(2r/rho), pi - asin(2r/rho)): at least 2r off the local tangent
            assert abs(toward[0] * offset[1] - toward[1] * offset[0]) >= 2 * r - 0.75
            bp = bo.branch_points[i, j]
            assert bp.shape == (TERMINAL_POINTS, 2)
            np.testing.assert_allclose(bp[0], anchor, atol=1e-3)
            np.testing.assert_allclose(bp[-1], c, atol=1e-3)


def test_place_boutons_rules(run_heavy, bcfg, small_cfg):
    sc = scenes(small_cfg, 1, 16)
    sub = jax.tree.map(lambda a: jnp.asarray(a[:N]), sc)
    keys = jax.random.split(jax.random.key(11), N)
    bo = run_heavy(lambda k, s: place_boutons(k, s, bcfg), keys, sub)
    counts = []
    for i in range(N):
        check_placement(bo, sc, bcfg, i)
        counts.append(int(bo.valid[i].sum()))
    assert len(set(counts)) >= 2  # U{2..6}
    kinds = bo.kind[bo.valid]
    assert (kinds == EN_PASSANT).any() and (kinds == TERMINAL).any()


def test_placement_statistics_and_b3(original_cfg, small_cfg, bcfg):
    """Many images: counts cover their range, kinds are 1/2 each; gap points are never used in
    'fixed' mode, while 'original' (B3) avoids only branch-0 positions of any gap index."""
    orig_cfg = original_cfg.replace(MinNbBouton=bcfg.MinNbBouton, MaxNbBouton=bcfg.MaxNbBouton)
    fixed_sc = scene_from_batch(generated_many(small_cfg, 3, 32))  # the scenes of test_scene's B1/B3 tests
    orig_sc = scene_from_batch(generated_many(original_cfg, 3, 32))
    bo_f, bo_o = _place(bcfg, fixed_sc, 1), _place(orig_cfg, orig_sc, 2)
    n = fixed_sc.points.shape[0]
    for i in range(0, n, 4):
        check_placement(bo_f, fixed_sc, bcfg, i)
        check_placement(bo_o, orig_sc, orig_cfg, i)
    totals = bo_f.valid.sum(1) + bo_f.failed
    assert set(totals.tolist()) == set(range(bcfg.MinNbBouton, bcfg.MaxNbBouton + 1))
    assert abs(np.mean(bo_f.kind[bo_f.valid] == TERMINAL) - 0.5) < 0.08
    assert bo_f.failed.sum() < 0.01 * bo_f.valid.sum()
    # fixed: never on a gap point
    gap_f = fixed_sc.gap[np.arange(n)[:, None], bo_f.slot, bo_f.point]
    assert not np.any(gap_f & bo_f.valid)
    # original (B3): slot-0 points at any gap index of the image are avoided, other branches' gaps are not
    any_gap = np.any(orig_sc.gap & orig_sc.branch_valid[:, :, None], axis=1)  # [N, NSP]
    on_slot0 = bo_o.valid & (bo_o.slot == 0)
    assert not np.any(any_gap[np.arange(n)[:, None], bo_o.point] & on_slot0)
    gap_o = orig_sc.gap[np.arange(n)[:, None], bo_o.slot, bo_o.point] & bo_o.valid
    assert gap_o.sum() >= 5


def _ref_render(bo, sc, cfg, i):
    """Brute-force bouton mask and clean image of image ``i`` (terminal branches included)."""
    height, width = cfg.shape
    rows, cols = np.mgrid[:height, :width]
    mask = np.zeros((height, width), bool)
    clean = np.zeros((height, width))
    covers = np.zeros((cfg.MaxNbBouton, height, width), bool)
    for j in np.flatnonzero(bo.valid[i]):
        r, b = float(bo.radius[i, j]), float(bo.brightness[i, j])
        d = np.hypot(rows - bo.centre[i, j, 0], cols - bo.centre[i, j, 1])
        covers[j] = d < r
        mask |= covers[j]
        v2 = -(r**2) / (2 * math.log(0.05 / b))
        clean = np.maximum(clean, np.where(covers[j], b * np.exp(-(d**2) / (2 * v2)), 0.0))
        if bo.kind[i, j] == TERMINAL:
            value = float(sc.variation[i, bo.slot[i, j], bo.point[i, j]])
            per_point = point_distances_np(bo.branch_points[i, j], np.ones(TERMINAL_POINTS, bool), np.full(TERMINAL_POINTS, r / 2), height, width)
            prof = gaussian_np(per_point.min(axis=0), 0.75 * cfg.sigma_spread)
            clean = np.maximum(clean, prof * value)
    return mask, clean, covers


def test_render_boutons_matches_reference(run_heavy, bcfg, small_cfg):
    sc = scenes(small_cfg, 1, 16)
    sub = jax.tree.map(lambda a: jnp.asarray(a[:N]), sc)
    bo = _place(bcfg, sub, 12)
    keys = jax.random.split(jax.random.key(13), N)
    zero_noise = jnp.zeros((N, *bcfg.shape))
    image, clean, mask, label = run_heavy(
        lambda k, b, s, z: render_boutons(k, b, s, z, bcfg), keys, jax.tree.map(jnp.asarray, bo), sub, zero_noise
    )
    assert mask.dtype == bool and label.dtype == np.int32
    n_terminal = 0
    for i in range(N):
        ref_mask, ref_clean, covers = _ref_render(bo, sc, bcfg, i)
        np.testing.assert_array_equal(mask[i], ref_mask)
        np.testing.assert_array_equal(label[i] > 0, ref_mask)
        for q, s in zip(*np.nonzero(label[i])):
            assert covers[label[i][q, s] - 1, q, s]
        np.testing.assert_allclose(clean[i], ref_clean, atol=1e-5)
        np.testing.assert_allclose(image[i], clean[i], atol=1e-6)  # no noise in this config
        # terminal branches are rendered: visible along their middle points
        for j in np.flatnonzero(bo.valid[i] & (bo.kind[i] == TERMINAL)):
            mid = np.round(bo.branch_points[i, j, TERMINAL_POINTS // 2]).astype(int)
            if sc.variation[i, bo.slot[i, j], bo.point[i, j]] > 0:
                assert clean[i][mid[0], mid[1]] > 0
                n_terminal += 1
    assert n_terminal >= 2


def test_render_boutons_visible_brightness_and_noise(small_cfg, bcfg):
    first = jax.tree.map(lambda a: a[:1], scenes(small_cfg, 1, 16))  # NumPy, a batch of one
    bo_b = _place(bcfg, first, 14)
    assert bo_b.valid[0].sum() >= 2
    one = jax.tree.map(lambda a: jnp.asarray(a[0]), first)
    bo = jax.tree.map(lambda a: jnp.asarray(a[0]), bo_b)
    zero = jnp.zeros(bcfg.shape)
    all_visible = jnp.ones(bcfg.MaxNbBouton, bool)
    j = int(np.flatnonzero(bo_b.valid[0])[0])
    visible = np.zeros(bcfg.MaxNbBouton, bool)
    visible[j] = True
    render = _renderer(bcfg)
    _, clean, mask, label = render(jax.random.key(0), bo, one, zero, jnp.asarray(visible), bo.brightness)
    ref_mask, ref_clean, _ = _ref_render(dataclasses.replace(bo_b, valid=bo_b.valid & visible[None]), first, bcfg, 0)
    np.testing.assert_array_equal(np.asarray(mask), ref_mask)
    np.testing.assert_allclose(np.asarray(clean), ref_clean, atol=1e-5)
    assert set(np.unique(np.asarray(label)).tolist()) == {0, j + 1}
    # a brightness override sets the bouton's peak (at its centre, d = 0)
    bright = bo_b.brightness[0].copy()
    bright[j] = 0.9
    _, clean2, _, _ = render(jax.random.key(0), bo, one, zero, jnp.asarray(visible), jnp.asarray(bright))
    c = bo_b.centre[0, j].astype(int)
    assert abs(float(clean2[c[0], c[1]]) - 0.9) < 1e-5
    # with the shipped bouton distance noise the image differs from the clean one, within (0, B]
    noisy_cfg = small_cfg.replace(MinNbBouton=2, MaxNbBouton=6)
    image_n, clean_n, mask_n, _ = map(np.asarray, _renderer(noisy_cfg)(jax.random.key(1), bo, one, zero, all_visible, bo.brightness))
    _, clean_0, mask_0, _ = render(jax.random.key(1), bo, one, zero, all_visible, bo.brightness)
    np.testing.assert_allclose(clean_n, np.asarray(clean_0), atol=1e-6)
    np.testing.assert_array_equal(mask_n, np.asarray(mask_0))
    assert np.abs(image_n - clean_n)[mask_n].max() > 1e-3
    assert np.all(image_n[mask_n] <= bo_b.brightness[0][bo_b.valid[0]].max() + 1e-6)
    assert np.all(image_n[mask_n] > 0)


def test_faint_boutons_are_drawn_but_left_out_of_the_labels(small_cfg, bcfg):
    first = jax.tree.map(lambda a: a[:1], scenes(small_cfg, 1, 16))
    bo_b = _place(bcfg, first, 14)
    one = jax.tree.map(lambda a: jnp.asarray(a[0]), first)
    bo = jax.tree.map(lambda a: jnp.asarray(a[0]), bo_b)
    valid = bo_b.valid[0]
    assert valid.sum() >= 2
    contrast = np.asarray(bouton_contrast(bo, one, bcfg))
    peak = one.variation[bo.slot, bo.point] / (math.sqrt(2 * math.pi) * bcfg.sigma_spread)
    np.testing.assert_allclose(contrast, np.asarray(bo.brightness / peak), rtol=1e-5)
    threshold = float(np.median(contrast[valid]))
    labelled = jnp.asarray(contrast >= threshold)
    render = jax.jit(lambda lab: render_boutons(jax.random.key(0), bo, one, jnp.zeros(bcfg.shape), bcfg, labelled=lab))
    img_all, clean_all, mask_all, label_all = map(np.asarray, render(jnp.ones_like(labelled)))
    img, clean, mask, label = map(np.asarray, render(labelled))
    np.testing.assert_array_equal(img, img_all)  # every bouton is still drawn
    np.testing.assert_array_equal(clean, clean_all)
    kept = {int(i) + 1 for i in np.flatnonzero(valid & (contrast >= threshold))}
    assert set(np.unique(label).tolist()) - {0} == kept
    assert np.all(mask <= mask_all) and mask.sum() < mask_all.sum()
    np.testing.assert_array_equal(mask, label > 0)


def test_generate_with_a_label_contrast_keeps_the_image_and_thins_the_labels(small_cfg):
    import jaxaxon

    base = jaxaxon.generate(jax.random.key(3), small_cfg, 4)
    none = jaxaxon.generate(jax.random.key(3), small_cfg.replace(bouton_label_contrast=1000.0), 4)
    np.testing.assert_array_equal(np.asarray(none.image), np.asarray(base.image))
    np.testing.assert_array_equal(np.asarray(none.axon_mask), np.asarray(base.axon_mask))
    assert np.asarray(base.bouton_mask).any() and not np.asarray(none.bouton_mask).any()


def test_bouton_radius_is_drawn_whatever_the_thickness(small_cfg):
    cfg = small_cfg.replace(bouton_radius=(2.6, 5.4))
    sc = scenes(small_cfg, 7, 4)
    boutons = _place(cfg, sc, 2)
    valid = boutons.valid
    assert valid.sum() > 4
    radius = boutons.radius[valid]
    assert radius.min() >= 3 and radius.max() <= 5 and len(np.unique(radius)) > 1
    thickness = np.take_along_axis(sc.thickness, boutons.slot, axis=1)[valid]
    assert np.any(radius > np.floor(thickness) + 1)  # not the thickness rule


def test_bouton_radius_config_rules(small_cfg):
    from jaxaxon.config import ConfigError

    with pytest.raises(ConfigError, match="give one of them"):
        small_cfg.replace(bouton_radius=(2, 3), bouton_size=(1, 2))
    with pytest.raises(ConfigError, match="bouton_radius: boutons of radius up to 20"):
        small_cfg.replace(bouton_radius=(2, 20))
    assert small_cfg.replace(bouton_radius=(2, 4), pixel_size=0.2).rescaled(2.0).bouton_radius == (4, 8)
