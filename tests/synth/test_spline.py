"""Tests of jaxaxon/synth/spline.py against scipy's not-a-knot cubic spline (MATLAB csapi)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.interpolate import CubicSpline

from jaxaxon.synth.spline import _interior_moments, resample_spline, solve_tridiagonal

N_SAMPLES = 57

# one compilation per input shape for the tests that do not compare transformations
_resample = jax.jit(resample_spline, static_argnums=2)


def _reference(control: np.ndarray, n: int, n_samples: int) -> np.ndarray:
    """scipy's not-a-knot spline through control[:n], knot i at t = i / (n - 1)."""
    t = np.arange(n) / (n - 1)
    spline = CubicSpline(t, control[:n].astype(np.float64), bc_type="not-a-knot", axis=0)
    return spline(np.linspace(0.0, 1.0, n_samples))


def _pad(control: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Pads with garbage rows that must be ignored."""
    garbage = rng.uniform(-500, 500, (size - len(control), control.shape[1]))
    return np.concatenate([control, garbage]).astype(np.float32)


def _check(run, controls, ns, n_samples=N_SAMPLES):
    out = run(lambda c, n: resample_spline(c, n, n_samples), jnp.asarray(controls), jnp.asarray(ns, jnp.int32))
    assert out.shape == (len(controls), n_samples, controls.shape[-1])
    assert out.dtype == np.float32
    for c, n, o in zip(controls, ns, out):
        ref = _reference(c, int(n), n_samples)
        np.testing.assert_allclose(o, ref, rtol=1e-4, atol=2e-3 * max(1.0, np.abs(c[:n]).max() / 100))
    return out


def test_small_n_line_parabola_and_cubics(run):
    """n = 2 (the line), 3 (the parabola), 4 and 5, padded with garbage to one static size."""
    rng = np.random.default_rng(0)
    ns = [2, 2, 3, 3, 4, 4, 5, 5]
    controls = np.stack([_pad(rng.uniform(0, 256, (n, 2)), 8, rng) for n in ns])
    out = _check(run, controls, ns)
    t = np.linspace(0, 1, N_SAMPLES)
    for c, n, o in zip(controls, ns, out):
        if n == 2:  # the line through the two points
            np.testing.assert_allclose(o, c[0] + t[:, None] * (c[1] - c[0]), rtol=1e-5, atol=1e-3)
        if n == 3:  # the interpolating parabola in t = 0, 1/2, 1
            coef = np.polyfit([0.0, 0.5, 1.0], c[:3].astype(np.float64), 2)
            ref = np.stack([np.polyval(coef[:, d], t) for d in range(2)], -1)
            np.testing.assert_allclose(o, ref, rtol=1e-4, atol=2e-3)


def test_cubic_is_reproduced_exactly():
    """A cubic polynomial is its own not-a-knot interpolant."""
    t = np.arange(6) / 5
    y = np.stack([1 + 2 * t - 3 * t**2 + 4 * t**3, 5 - t**3], -1).astype(np.float32)
    out = np.asarray(_resample(jnp.asarray(y), jnp.int32(6), 41))
    s = np.linspace(0, 1, 41)
    np.testing.assert_allclose(out, np.stack([1 + 2 * s - 3 * s**2 + 4 * s**3, 5 - s**3], -1), atol=1e-4)


def test_random_larger_n_with_padding(run):
    rng = np.random.default_rng(2)
    size = 48
    ns = [2, 3, 4, 5, 6, 7, 11, 23, 47, 48]
    controls = []
    for n in ns:  # walk-like control points (what the generator feeds in)
        pts = np.cumsum(rng.normal(0, 2, (n, 2)), axis=0) + 128
        controls.append(_pad(pts, size, rng))
    _check(run, np.stack(controls), ns)


def test_generator_sized_walks_match_scipy():
    """The generator's static size (385 control points) with walks ending anywhere in it:
    the closed-form solve's truncated kernel and edge fit hold at every length."""
    rng = np.random.default_rng(6)
    size = 385
    ns = [4, 5, 17, 18, 33, 34, 120, 383, 384, 385]
    controls = []
    for n in ns:
        pts = np.cumsum(rng.normal(0, 2, (n, 2)), axis=0) + 128
        controls.append(_pad(pts, size, rng))
    out = jax.vmap(lambda c, n: resample_spline(c, n, 200))(jnp.asarray(np.stack(controls)), jnp.asarray(ns, jnp.int32))
    for c, n, o in zip(controls, ns, out):
        np.testing.assert_allclose(o, _reference(c, n, 200), rtol=0, atol=2e-3)


def test_padded_length_does_not_matter():
    rng = np.random.default_rng(3)
    for n in (2, 3, 4, 9, 30):
        pts = np.cumsum(rng.normal(0, 2, (n, 2)), axis=0) + 50
        outs = [np.asarray(_resample(jnp.asarray(_pad(pts, size, rng)), jnp.int32(n), N_SAMPLES)) for size in (30, 33, 64)]
        if n <= 3:
            outs.append(np.asarray(_resample(jnp.asarray(pts, jnp.float32), jnp.int32(n), N_SAMPLES)))  # unpadded
        for o in outs[1:]:
            np.testing.assert_allclose(o, outs[0], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(outs[0], _reference(pts, n, N_SAMPLES), rtol=1e-4, atol=2e-3)


def test_samples_hit_the_control_points_at_their_parameters():
    """With n_samples - 1 a multiple of n - 1, knot i is sample i * (n_samples - 1) / (n - 1)."""
    rng = np.random.default_rng(4)
    n = 8
    pts = rng.uniform(0, 100, (n, 2)).astype(np.float32)
    n_samples = 7 * 10 + 1
    out = np.asarray(_resample(jnp.asarray(_pad(pts, 20, rng)), jnp.int32(n), n_samples))
    np.testing.assert_allclose(out[::10], pts, atol=2e-3)
    np.testing.assert_allclose(out[0], pts[0], atol=1e-4)
    np.testing.assert_allclose(out[-1], pts[-1], atol=2e-3)


def test_one_dimensional_values():
    rng = np.random.default_rng(5)
    y = rng.uniform(0, 1, (12, 1)).astype(np.float32)
    out = np.asarray(_resample(jnp.asarray(y), jnp.int32(9), 30))
    np.testing.assert_allclose(out, _reference(y, 9, 30), rtol=1e-4, atol=1e-4)


def _dominant_system(rng, k):
    lower, upper = rng.uniform(-1, 1, k), rng.uniform(-1, 1, k)
    lower[0], upper[-1] = 0.0, 0.0
    diag = np.abs(lower) + np.abs(upper) + rng.uniform(0.5, 3.0, k)
    rhs = rng.normal(size=(k, 2))
    dense = np.diag(diag) + np.diag(lower[1:], -1) + np.diag(upper[:-1], 1)
    return [x.astype(np.float32) for x in (lower, diag, upper, rhs)], np.linalg.solve(dense, rhs)


def test_tridiagonal_solver_matches_a_dense_solve_plain_jit_and_vmap():
    rng = np.random.default_rng(3)
    for k in (1, 2, 7, 383):
        args, expected = _dominant_system(rng, k)
        np.testing.assert_allclose(solve_tridiagonal(*args), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(jax.jit(solve_tridiagonal)(*args), expected, rtol=1e-5, atol=1e-5)
    systems = [_dominant_system(rng, 9) for _ in range(4)]
    stacked = [np.stack([s[0][i] for s in systems]) for i in range(4)]
    got = jax.vmap(solve_tridiagonal)(*stacked)
    for i, (_, expected) in enumerate(systems):
        np.testing.assert_allclose(got[i], expected, rtol=1e-5, atol=1e-5)


def test_closed_form_moments_equal_the_thomas_solve_of_the_same_system():
    """The closed-form interior solve against `solve_tridiagonal` on the not-a-knot system
    it replaces (edge rows 6 M = r, interior rows 1 4 1, identity rows past n - 2)."""
    rng = np.random.default_rng(7)
    size_k = 383
    knot = np.arange(1, size_k + 1)
    solve = jax.jit(_interior_moments)
    for n in (3, 4, 5, 6, 19, 200, 384, 385):
        rhs = rng.normal(0, 5, (size_k, 2)).astype(np.float32)
        interior, edge, active = (knot >= 2) & (knot <= n - 3), (knot == 1) | (knot == n - 2), knot <= n - 2
        diag = np.where(interior, 4.0, np.where(edge & active, 6.0, 1.0)).astype(np.float32)
        off = np.where(interior, 1.0, 0.0).astype(np.float32)
        expected = solve_tridiagonal(off, diag, off, np.where(active[:, None], rhs, 0.0))
        np.testing.assert_allclose(solve(jnp.asarray(rhs), jnp.int32(n)), expected, rtol=0, atol=1e-5)
