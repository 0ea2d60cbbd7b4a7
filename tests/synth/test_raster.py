"""Tests of jaxaxon/synth/raster.py against brute-force NumPy loops (docs/original.md, step 3)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.synth.raster import (
    footprint_mask,
    rasterize_distance,
    rasterize_nearest,
    rasterize_nearest_groups,
    rect_any,
    summed_area_table,
)

from .helpers import point_distances_np

H, W = 20, 27

# one compilation per shape for the single-call tests (eager calls compile every primitive)
_rasterize = jax.jit(rasterize_nearest, static_argnums=(4, 5, 6))
_rect_any = jax.jit(lambda mask, p, t: rect_any(summed_area_table(mask), p, t))


def _ref_nearest(points, values, valid, thickness, height, width):
    """Minimum distance and the value of the nearest point (the first one on exact ties)."""
    per_point = point_distances_np(points, valid, thickness, height, width)
    dist = per_point.min(axis=0)
    nearest = np.argmin(per_point, axis=0)  # first index on ties
    value = np.where(np.isfinite(dist), values[nearest], np.inf)
    return dist, value, per_point


def _random_case(rng, n_points, per_point_thickness):
    # walk-like points, some outside the image, some invalid; plus exact duplicates and integer points
    start = rng.uniform([-2, -2], [H + 1, W + 1])
    pts = start + np.cumsum(rng.normal(0, 2.0, (n_points, 2)), axis=0)
    pts[3] = pts[2]  # exact duplicate with a different value: the first one wins
    pts[5] = np.round(pts[5])
    pts[6] = [-0.3, 4.0]  # just outside the image: not rasterised although its window overlaps
    pts[7] = [H - 1, W - 1]  # exactly on the corner: inside
    values = rng.uniform(0, 1, n_points)
    valid = rng.uniform(0, 1, n_points) > 0.15
    valid[[2, 3, 5, 6, 7]] = True
    if per_point_thickness:
        thickness = rng.uniform(0.2, 3.0, n_points)
        thickness[5] = 2.0
    else:
        thickness = np.full(n_points, rng.choice([0.5, 1.0, 1.5, 2.37, 3.0]))
    return pts.astype(np.float32), values.astype(np.float32), valid, thickness.astype(np.float32)


@pytest.mark.parametrize("per_point_thickness", [False, True])
def test_rasterize_nearest_matches_brute_force(run, per_point_thickness):
    rng = np.random.default_rng(int(per_point_thickness))
    cases = [_random_case(rng, 24, per_point_thickness) for _ in range(4)]
    pts, vals, valid, thick = (np.stack(x) for x in zip(*cases))
    halfwidth = math.ceil(thick.max()) + 1
    if per_point_thickness:
        fn = lambda p, v, ok, t: rasterize_nearest(p, v, ok, t, H, W, halfwidth)  # noqa: E731
        thick_in = thick
    else:  # scalar thickness
        fn = lambda p, v, ok, t: rasterize_nearest(p, v, ok, t[0], H, W, halfwidth)  # noqa: E731
        thick_in = thick
    dist, value = run(fn, jnp.asarray(pts), jnp.asarray(vals), jnp.asarray(valid), jnp.asarray(thick_in))
    assert dist.shape == (4, H, W) and value.shape == (4, H, W)
    for i in range(4):
        ref_d, ref_v, per_point = _ref_nearest(pts[i], vals[i], valid[i], thick[i], H, W)
        np.testing.assert_array_equal(np.isfinite(dist[i]), np.isfinite(ref_d))
        finite = np.isfinite(ref_d)
        np.testing.assert_allclose(dist[i][finite], ref_d[finite], atol=1e-4)
        assert np.all(np.isinf(value[i][~finite]))
        same = value[i] == ref_v
        # a different value is acceptable only for a float32 near-tie between two points
        for q, s in zip(*np.nonzero(~same & finite)):
            ties = np.flatnonzero(per_point[:, q, s] <= ref_d[q, s] + 1e-4)
            assert value[i][q, s] in vals[i][ties], (i, q, s)
        assert same[finite].mean() > 0.99
        # the exact duplicate: the first point's value, never the second's
        r, c = np.round(pts[i][2]).astype(int)
        if 0 <= r < H and 0 <= c < W and 0 <= pts[i][2][0] <= H - 1 and 0 <= pts[i][2][1] <= W - 1:
            if ref_d[r, c] == per_point[2, r, c]:
                assert value[i][r, c] == vals[i][2]


def test_rasterize_distance_and_footprint_agree_with_nearest(run):
    rng = np.random.default_rng(5)
    cases = [_random_case(rng, 30, True) for _ in range(3)]
    pts, vals, valid, thick = (jnp.asarray(np.stack(x)) for x in zip(*cases))
    hw = 4

    def fn(p, v, ok, t):
        d, _ = rasterize_nearest(p, v, ok, t, H, W, hw)
        return d, rasterize_distance(p, ok, t, H, W, hw), footprint_mask(p, ok, t, H, W, hw)

    d, d2, fp = run(fn, pts, vals, valid, thick)
    # rasterize_nearest rounds distances down to its packed-key resolution (< 1e-6 px here)
    np.testing.assert_array_equal(np.isfinite(d), np.isfinite(d2))
    finite = np.isfinite(d)
    np.testing.assert_allclose(d[finite], d2[finite], rtol=0, atol=1e-6)
    assert np.all(d[finite] <= d2[finite])
    np.testing.assert_array_equal(fp, np.isfinite(d))
    assert fp.dtype == bool and fp.any() and not fp.all()


def test_window_is_a_square_not_a_disc():
    """A single point at a pixel centre with thickness 2 covers the 5x5 square."""
    d, v = _rasterize(jnp.array([[10.0, 12.0]]), jnp.array([0.3]), jnp.array([True]), 2.0, H, W, 3)
    d, v = np.asarray(d), np.asarray(v)
    covered = np.isfinite(d)
    expected = np.zeros((H, W), bool)
    expected[8:13, 10:15] = True
    np.testing.assert_array_equal(covered, expected)
    np.testing.assert_allclose(d[8, 10], math.hypot(2, 2), rtol=1e-6)
    np.testing.assert_array_equal(v[covered], np.float32(0.3))


def test_no_valid_points_give_an_empty_map():
    pts = jnp.array([[5.0, 5.0], [-3.0, 4.0], [4.0, W + 0.5]])
    d, v = _rasterize(pts, jnp.ones(3), jnp.array([False, True, True]), 2.0, H, W, 3)
    assert np.all(np.isinf(np.asarray(d))) and np.all(np.isinf(np.asarray(v)))


# --- summed-area table and window test --------------------------------------------------------------


def test_summed_area_table(run):
    rng = np.random.default_rng(3)
    masks = rng.uniform(0, 1, (3, H, W)) > 0.8
    tables = run(summed_area_table, jnp.asarray(masks))
    assert tables.shape == (3, H + 1, W + 1)
    for m, t in zip(masks, tables):
        ref = np.zeros((H + 1, W + 1), np.int64)
        for r in range(H + 1):
            for c in range(W + 1):
                ref[r, c] = m[:r, :c].sum()
        np.testing.assert_array_equal(t, ref)


def _ref_rect_any(mask, points, thickness):
    out = []
    height, width = mask.shape
    for (r, c), t in zip(points.astype(np.float64), np.broadcast_to(thickness, len(points)).astype(np.float64)):
        r0, r1 = max(math.floor(r - t), 0), min(math.ceil(r + t), height - 1)
        c0, c1 = max(math.floor(c - t), 0), min(math.ceil(c + t), width - 1)
        out.append(r0 <= r1 and c0 <= c1 and bool(mask[r0 : r1 + 1, c0 : c1 + 1].any()))
    return np.array(out)


def test_rect_any_matches_brute_force(run):
    rng = np.random.default_rng(4)
    masks = np.zeros((4, H, W), bool)
    for m in masks:  # a few small blobs, so that both answers occur
        for _ in range(3):
            r, c = rng.integers(0, H), rng.integers(0, W)
            m[r : r + 2, c : c + 3] = True
    points = rng.uniform([-6, -6], [H + 6, W + 6], (4, 200, 2)).astype(np.float32)
    points[:, :10] = np.round(points[:, :10])  # integer points: window edges exactly on pixels
    thickness = rng.uniform(0.3, 3.0, (4, 200)).astype(np.float32)
    thickness[:, :5] = 1.0
    hits = run(lambda m, p, t: rect_any(summed_area_table(m), p, t), jnp.asarray(masks), jnp.asarray(points), jnp.asarray(thickness))
    for m, p, t, h in zip(masks, points, thickness, hits):
        ref = _ref_rect_any(m, p, t)
        np.testing.assert_array_equal(h, ref)
        assert ref.any() and not ref.all()


def test_rect_any_scalar_thickness_and_outside_windows():
    mask = np.zeros((H, W), bool)
    mask[0, 0] = mask[H - 1, W - 1] = True
    pts = np.array([[-3.5, -3.5], [-2.9, -2.9], [H + 3.0, W + 3.0], [H + 1.5, W + 1.5], [10.0, 10.0]], np.float32)
    got = np.asarray(_rect_any(jnp.asarray(mask), jnp.asarray(pts), 2.0))
    np.testing.assert_array_equal(got, _ref_rect_any(mask, pts, 2.0))
    np.testing.assert_array_equal(got, [False, True, False, True, False])


_rasterize_groups = jax.jit(rasterize_nearest_groups, static_argnums=(4, 5, 6))


@pytest.mark.parametrize("per_point_thickness", [False, True])
def test_grouped_rasterisation_is_the_minimum_of_the_groups(per_point_thickness):
    """`rasterize_nearest_groups` (one scatter for all groups) equals the elementwise
    minimum of each group's `rasterize_nearest` maps, distances and values separately, also
    under vmap (up to float32 rounding: on the 256x256 generator the images came out
    bit-identical to the former one-pass-per-branch rasteriser)."""
    rng = np.random.default_rng(7)
    cases = [_random_case(rng, 24, per_point_thickness) for _ in range(6)]  # 2 images x 3 groups
    pts, vals, valid, thick = (np.stack(x).reshape(2, 3, *np.shape(x[0])) for x in zip(*cases))
    valid[0, 1, :5] = False
    halfwidth = math.ceil(thick.max()) + 1
    thick_in = thick if per_point_thickness else thick[..., 0]  # [G, P] or one per group [G]
    args = [jnp.asarray(x) for x in (pts, vals, valid, thick_in)]
    batched = jax.jit(jax.vmap(lambda *a: rasterize_nearest_groups(*a, H, W, halfwidth)))(*args)
    for i in range(2):
        grouped = _rasterize_groups(*(a[i] for a in args), H, W, halfwidth)
        per_group = [_rasterize(*(a[i, g] for a in args), H, W, halfwidth) for g in range(3)]
        want_d = np.minimum.reduce([np.asarray(d) for d, _ in per_group])
        want_v = np.minimum.reduce([np.asarray(v) for _, v in per_group])
        assert np.isfinite(want_d).any()
        finite = np.isfinite(want_d)
        for got_d, got_v in (grouped, (batched[0][i], batched[1][i])):
            got_d, got_v = np.asarray(got_d), np.asarray(got_v)
            # equal up to float32 rounding of the distances (each compiled program rounds its own way)
            np.testing.assert_array_equal(np.isfinite(got_d), finite)
            np.testing.assert_allclose(got_d[finite], want_d[finite], rtol=0, atol=1e-6)
            assert np.all(np.isinf(got_v[~finite]))
            assert np.mean(got_v[finite] == want_v[finite]) > 0.99  # a near-tie may pick another point


def test_groups_of_very_many_points_use_the_two_pass_rasteriser():
    """Past 2**16 points per group the keys cannot be packed: each group goes through the
    two-pass rasteriser and the groups are merged by `scan_minimum`; the maps equal those
    of the packed path on the same (valid) points."""
    rng = np.random.default_rng(3)
    n_points, halfwidth = 2**16 + 1, 4
    cases = [_random_case(rng, 24, False) for _ in range(2)]
    pts = np.zeros((2, n_points, 2), np.float32)
    vals = np.zeros((2, n_points), np.float32)
    valid = np.zeros((2, n_points), bool)
    for g, (p, v, ok, _) in enumerate(cases):  # the real points at the end, the rest invalid
        pts[g, -24:], vals[g, -24:], valid[g, -24:] = p, v, ok
    thick = np.array([1.5, 2.37], np.float32)
    got_d, got_v = (np.asarray(x) for x in _rasterize_groups(*map(jnp.asarray, (pts, vals, valid, thick)), H, W, halfwidth))
    small = [a[:, -24:] for a in (pts, vals, valid)]
    want_d, want_v = (np.asarray(x) for x in _rasterize_groups(*map(jnp.asarray, (*small, thick)), H, W, halfwidth))
    finite = np.isfinite(want_d)
    assert finite.any()
    np.testing.assert_array_equal(np.isfinite(got_d), finite)
    np.testing.assert_allclose(got_d[finite], want_d[finite], rtol=0, atol=1e-5)
    assert np.mean(got_v[finite] == want_v[finite]) > 0.99
