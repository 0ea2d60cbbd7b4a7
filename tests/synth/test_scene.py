"""Tests of jaxaxon/synth/scene.py: the axon scene (docs/original.md, steps 1-3, bugs B1-B3).

The crossing rules are checked against footprints computed here by brute force (the union
of the square windows ``[floor(p - t), ceil(p + t)]`` of the centreline points inside the
image), never with the code under test.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from jaxaxon.synth import scene as scene_module
from jaxaxon.synth.scene import draw_scene

from .helpers import draw_scenes, footprint_np, generated_many, scene_from_batch, scenes

N_SCENES = 16
N_BATCHES = 32  # generated batches for the B1/B3 statistics (shared with test_boutons)


def on_border(p: np.ndarray, height: int, width: int) -> bool:
    return bool(p[0] == 0 or p[0] == height - 1 or p[1] == 0 or p[1] == width - 1)


def check_structure(sc, cfg) -> None:
    """Counts, slot layout, parents, border ends, thickness, invalid slots empty."""
    height, width = cfg.shape
    nb, nsp = cfg.max_branches, cfg.NSplinePoints
    n = sc.points.shape[0]
    assert sc.points.shape == (n, nb, nsp, 2) and sc.branch_valid.shape == (n, nb)
    for i in range(n):
        valid = sc.branch_valid[i]
        grid = valid.reshape(cfg.MaxAxons, cfg.MaxBran)
        assert int(sc.failed_branches[i]) >= 0
        if sc.failed_branches[i] == 0:
            # axons form a prefix, the branches of each axon form a prefix, counts in range
            n_axons = int(grid.any(axis=1).sum())
            assert cfg.MinAxons <= n_axons <= cfg.MaxAxons
            assert grid[:n_axons].any(axis=1).all() and not grid[n_axons:].any()
            for a in range(n_axons):
                k = int(grid[a].sum())
                assert cfg.MinBran <= k <= cfg.MaxBran
                assert grid[a, :k].all()
        else:
            assert int(sc.attempts[i]) == cfg.n_scene_attempts  # every attempt was used first
        assert 1 <= int(sc.attempts[i]) <= cfg.n_scene_attempts
        for s in range(nb):
            pts = sc.points[i, s]
            if not valid[s]:  # left out: nothing in the slot
                assert not pts.any() and not sc.variation[i, s].any() and not sc.gap[i, s].any()
                assert sc.parent_slot[i, s] == -1 and sc.parent_index[i, s] == -1
                continue
            t = float(sc.thickness[i, s])
            assert cfg.MinThickness - 1e-6 <= t <= cfg.MaxThickness + 1e-6
            assert abs(t * 100 - round(t * 100)) < 1e-3
            assert np.all(np.isfinite(pts))
            # a complete walk: it ends on the border (never truncated inside the image)
            assert on_border(pts[-1], height, width), (i, s, pts[-1])
            if s % cfg.MaxBran == 0:  # mother: starts on the border, middle half of an edge
                assert sc.parent_slot[i, s] == -1 and sc.parent_index[i, s] == -1
                assert on_border(pts[0], height, width)
                along = pts[0, 1] / (width - 1) if pts[0, 0] in (0, height - 1) else pts[0, 0] / (height - 1)
                assert 0.2 <= along <= 0.8
            else:  # daughter: starts on a point of an earlier branch of the same axon
                ps, pi = int(sc.parent_slot[i, s]), int(sc.parent_index[i, s])
                assert 0 <= ps < s and ps // cfg.MaxBran == s // cfg.MaxBran and valid[ps]
                assert 0 <= pi < nsp
                start = sc.points[i, ps, pi]
                assert 0 <= start[0] <= height - 1 and 0 <= start[1] <= width - 1
                np.testing.assert_allclose(pts[0], start, atol=1e-3)
                if cfg.fixed:
                    assert not sc.gap[i, ps, pi], "daughter starts on a gap point"
                    # continuous intensity: it starts at its mother's value there (B5 corrected)
                    assert abs(sc.variation[i, s, 0] - sc.variation[i, ps, pi]) < 1e-5 or sc.gap[i, s, 0]


def crossing_violations(sc, cfg, i: int, swap: bool = False) -> list[tuple[int, str]]:
    """Branches of image ``i`` that break the crossing rule of docs/original.md, step 2 (brute force).

    A mother may share no footprint pixel with earlier branches and may not start on one; a
    daughter may share pixels only within ``straightBranching * thickness`` of its start point
    (of the start point with row and column swapped when ``swap``: bug B1).
    """
    height, width = cfg.shape
    so_far = np.zeros((height, width), bool)
    bad = []
    rows, cols = np.mgrid[:height, :width]
    for s in range(cfg.max_branches):
        if not sc.branch_valid[i, s]:
            continue
        t = float(sc.thickness[i, s])
        own = footprint_np(sc.points[i, s], t, height, width)
        shared = own & so_far
        if s % cfg.MaxBran == 0:
            r0, c0 = np.round(sc.points[i, s, 0]).astype(int)
            if shared.any() or so_far[r0, c0]:
                bad.append((s, "mother"))
        else:
            start = sc.points[i, int(sc.parent_slot[i, s]), int(sc.parent_index[i, s])].astype(np.float64)
            centre = start[::-1] if swap else start
            dist = np.hypot(rows - centre[0], cols - centre[1])
            if np.any(shared & (dist > cfg.straightBranching * t + 1e-3)):
                bad.append((s, "daughter"))
        so_far |= own
    return bad


# --- draw_scene itself: SMALL and the default config ------------------------------------------------


def test_draw_scene_jit_and_vmap_agree_and_are_deterministic(small_cfg):
    keys = jax.random.split(jax.random.key(0), N_SCENES)
    batched = scenes(small_cfg, 0, N_SCENES)
    again = jax.tree.map(np.asarray, draw_scenes(keys, small_cfg))
    jax.tree.map(np.testing.assert_array_equal, batched, again)  # same keys: identical
    jitted = jax.jit(draw_scene, static_argnums=1)
    for i in (0, 1):
        one = jax.tree.map(np.asarray, jitted(keys[i], small_cfg))
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[i], atol=1e-4), one, batched)
    # different keys: different scenes
    assert not np.array_equal(batched.points[0], batched.points[1])


def test_batched_redraws_equal_per_scene_redraws(small_cfg):
    """`draw_scenes` redraws only the unfinished scenes, in small rounds, yet every scene
    equals `draw_scene` with its key: same attempts used, same branches, same points.

    Four candidates per branch and 3 attempts make redraws and exhausted scenes common; 24
    scenes with rounds of 4 (`retry_batch_size`) need several rounds per attempt."""
    cfg = small_cfg.replace(branch_candidates=4, scene_attempts=3)
    keys = jax.random.split(jax.random.key(14), 24)
    assert scene_module.retry_batch_size(24) == 4
    batched = jax.tree.map(np.asarray, jax.jit(scene_module.draw_scenes, static_argnums=1)(keys, cfg))
    single = jax.tree.map(np.asarray, draw_scenes(keys, cfg))
    assert np.sum(single.attempts == 2) >= 5  # second attempts succeeded, in more than one round
    assert np.any((single.attempts == 3) & (single.failed_branches > 0))  # and some scenes ran out
    np.testing.assert_array_equal(batched.attempts, single.attempts)
    np.testing.assert_array_equal(batched.failed_branches, single.failed_branches)
    np.testing.assert_array_equal(batched.branch_valid, single.branch_valid)
    np.testing.assert_array_equal(batched.parent_slot, single.parent_slot)
    np.testing.assert_array_equal(batched.gap, single.gap)
    np.testing.assert_allclose(batched.points, single.points, atol=1e-4)
    np.testing.assert_allclose(batched.variation, single.variation, atol=1e-6)


def test_chunked_candidates_equal_all_candidates_at_once(small_cfg):
    """A slot tests its candidates a chunk at a time, the first chunk for the whole batch and
    later chunks only for the scenes still without an acceptable one (in retry rounds); the
    scenes are those of testing all candidates at once and keeping the first acceptable
    (one chunk of all 16), for the default chunk and for chunks of 3 (a partial last chunk)."""
    keys = jax.random.split(jax.random.key(21), 24)
    assert scene_module.slot_retry_size(24) < 24  # a first pass, then retry rounds
    chunked = jax.jit(scene_module.draw_scenes, static_argnums=(1, 3))
    reference = jax.tree.map(np.asarray, chunked(keys, small_cfg, None, small_cfg.branch_candidates))
    for got in (draw_scenes(keys, small_cfg), chunked(keys, small_cfg, None, 3)):
        got = jax.tree.map(np.asarray, got)
        for name in ("attempts", "failed_branches", "branch_valid", "parent_slot", "parent_index", "gap"):
            np.testing.assert_array_equal(getattr(got, name), getattr(reference, name), err_msg=name)
        np.testing.assert_allclose(got.points, reference.points, atol=1e-4)
        np.testing.assert_allclose(got.variation, reference.variation, atol=1e-6)


@pytest.mark.slow  # an eager draw_scene compiles each primitive of its loops on its own
def test_draw_scene_plain_agrees(small_cfg):
    keys = jax.random.split(jax.random.key(0), N_SCENES)
    plain = jax.tree.map(np.asarray, draw_scene(keys[0], small_cfg))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[0], atol=1e-4), plain, scenes(small_cfg, 0, N_SCENES))


@pytest.mark.parametrize("which", ["small", "default"])
def test_scene_structure_and_crossing_rule(which, small_cfg, default_cfg):
    cfg = small_cfg if which == "small" else default_cfg
    sc = scenes(cfg, 1, N_SCENES)
    check_structure(sc, cfg)
    assert sc.branch_valid.sum() >= 0.9 * sc.branch_valid.size  # nearly every branch is drawn
    for i in range(N_SCENES):
        assert crossing_violations(sc, cfg, i) == [], i
    # daughters do touch their parents near the start (the allowance is used, not avoided)
    touching = 0
    for i in range(N_SCENES):
        for s in np.flatnonzero(sc.branch_valid[i] & (np.arange(cfg.max_branches) % cfg.MaxBran > 0)):
            t = float(sc.thickness[i, s])
            ps = int(sc.parent_slot[i, s])
            touching += (footprint_np(sc.points[i, s], t, *cfg.shape) & footprint_np(sc.points[i, ps], float(sc.thickness[i, ps]), *cfg.shape)).any()
    assert touching >= N_SCENES // 2


# --- generated batches: variable counts, crossings allowed, compat='original' -------------------------


def test_counts_and_layout_with_crossings_allowed(variant_cfg):
    sc = scene_from_batch(generated_many(variant_cfg, 2, 4))
    check_structure(sc, variant_cfg)
    n_axons = sc.branch_valid.reshape(len(sc.points), variant_cfg.MaxAxons, -1).any(-1).sum(-1)
    assert set(n_axons.tolist()) == {1, 2, 3}  # U{1..3}
    per_axon = sc.branch_valid.reshape(len(sc.points), variant_cfg.MaxAxons, -1).sum(-1)
    assert {1, 2, 3} <= set(per_axon[per_axon > 0].tolist())
    assert not sc.failed_branches.any()
    # crossings do occur when they are allowed
    crossing = sum(bool(crossing_violations(sc, variant_cfg, i)) for i in range(len(sc.points)))
    assert crossing >= 3


def test_compat_original_reproduces_b1_diagonal_branch_points(original_cfg, small_cfg):
    orig = scene_from_batch(generated_many(original_cfg, 3, N_BATCHES))
    fixed = scene_from_batch(generated_many(small_cfg, 3, N_BATCHES))
    check_structure(orig, original_cfg)

    def daughter_starts(sc, cfg):
        out = []
        for i in range(len(sc.points)):
            for s in np.flatnonzero(sc.branch_valid[i] & (np.arange(cfg.max_branches) % cfg.MaxBran > 0)):
                start = sc.points[i, int(sc.parent_slot[i, s]), int(sc.parent_index[i, s])]
                out.append((abs(float(start[0] - start[1])), float(sc.thickness[i, s])))
        return np.array(out)

    d_orig, d_fixed = daughter_starts(orig, original_cfg), daughter_starts(fixed, small_cfg)
    assert len(d_orig) >= 50 and len(d_fixed) >= 100
    # B1: the pixel round(start) is shared with the parent, so it must lie within the allowance
    # of the swapped start point: |row - col| <= (straightBranching * t + 1) / sqrt(2)
    bound_orig = (original_cfg.straightBranching * d_orig[:, 1] + 1) / math.sqrt(2)
    assert np.all(d_orig[:, 0] <= bound_orig + 1e-3)
    bound_fixed = (small_cfg.straightBranching * d_fixed[:, 1] + 1) / math.sqrt(2)
    assert np.mean(d_fixed[:, 0] > bound_fixed) > 0.2  # corrected: branch points anywhere
    # the exact B1 rule (distance to the swapped start) and the corrected rule
    for i in range(len(orig.points)):
        assert crossing_violations(orig, original_cfg, i, swap=True) == [], i
    for i in range(len(fixed.points)):
        assert crossing_violations(fixed, small_cfg, i) == [], i


def test_compat_original_reproduces_b3_gap_points(original_cfg, small_cfg):
    orig = scene_from_batch(generated_many(original_cfg, 3, N_BATCHES))
    fixed = scene_from_batch(generated_many(small_cfg, 3, N_BATCHES))
    nb, mb = small_cfg.max_branches, small_cfg.MaxBran
    on_own_gap = 0
    for i in range(len(orig.points)):
        for s in np.flatnonzero(orig.branch_valid[i] & (np.arange(nb) % mb > 0)):
            ps, pi = int(orig.parent_slot[i, s]), int(orig.parent_index[i, s])
            # B3: the gap indices of the branches drawn so far, taken as positions on branch 0
            earlier_gap_index = orig.gap[i, :s][orig.branch_valid[i, :s]].any(axis=0)
            if ps == 0:
                assert not earlier_gap_index[pi]
            on_own_gap += bool(orig.gap[i, ps, pi])
    assert on_own_gap >= 1  # gap points of later branches are not avoided
    for i in range(len(fixed.points)):  # corrected: never on a gap point
        for s in np.flatnonzero(fixed.branch_valid[i] & (np.arange(nb) % mb > 0)):
            assert not fixed.gap[i, int(fixed.parent_slot[i, s]), int(fixed.parent_index[i, s])]


# --- failures are reported, never silently truncated ----------------------------------------------------


def test_failed_branches_are_reported_and_left_out(small_cfg):
    cfg = small_cfg.replace(MinAxons=8, MaxAxons=8, branch_candidates=2, scene_attempts=2)
    sc = scenes(cfg, 5, 8)
    assert np.all(sc.failed_branches > 0)
    # every slot is active (fixed counts), so the failures are exactly the empty slots
    np.testing.assert_array_equal(sc.failed_branches, (~sc.branch_valid).sum(axis=1))
    assert np.all(sc.attempts == 2)
    check_structure(sc, cfg)  # the drawn branches are complete; the failed slots are empty
    for i in range(8):
        assert crossing_violations(sc, cfg, i) == [], i
    # a daughter whose mother failed has no start point: it fails too
    grid = sc.branch_valid.reshape(8, cfg.MaxAxons, cfg.MaxBran)
    assert not np.any(~grid[:, :, 0] & grid[:, :, 1])
