"""Tests of jaxaxon/synth/profile.py: intensity profiles along a branch and gaps (docs/original.md, step 3, B4, B5)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.synth.profile import GAP_DRAWS, PROFILE_DRAWS, apply_gap, branch_profile, gap_from_uniform, profile_from_uniform, start_intensity

N_POINTS = 60
MIN_PCT, MAX_PCT = 10.0, 40.0
VMIN, VMAX = MIN_PCT / 100, MAX_PCT / 100
PERIODS = (0.1, 2.0)


def _profiles(run, profile, fixed, n=48, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    starts = np.asarray(start_intensity(jax.random.uniform(jax.random.key(seed + 1), (n,)), MIN_PCT, MAX_PCT))
    fn = functools.partial(
        branch_profile, profile=profile, n_points=N_POINTS, min_pct=MIN_PCT, max_pct=MAX_PCT,
        min_period=PERIODS[0], max_period=PERIODS[1], fixed=fixed,
    )  # fmt: skip
    return starts, run(fn, keys, jnp.asarray(starts))


def test_start_intensity_range():
    u = jax.random.uniform(jax.random.key(0), (20000,))
    s = np.asarray(start_intensity(u, MIN_PCT, MAX_PCT))
    assert s.min() >= VMIN + 0.01 - 1e-7 and s.max() <= VMAX - 0.01 + 1e-7
    assert s.min() < VMIN + 0.012 and s.max() > VMAX - 0.012
    assert abs(s.mean() - (VMIN + VMAX) / 2) < 0.005


@pytest.mark.parametrize("fixed", [True, False])
def test_constant(run, fixed):
    starts, values = _profiles(run, "constant", fixed, n=8)
    assert values.shape == (8, N_POINTS) and values.dtype == np.float32
    np.testing.assert_array_equal(values, np.repeat(starts[:, None], N_POINTS, 1).astype(np.float32))


@pytest.mark.parametrize("fixed", [True, False])
def test_linear(run, fixed):
    starts, values = _profiles(run, "linear", fixed)
    np.testing.assert_allclose(values[:, 0], starts, atol=1e-6)
    assert np.all(values >= VMIN - 1e-6) and np.all(values <= VMAX + 1e-6)
    # a straight line from the start value
    s = np.linspace(0, 1, N_POINTS)
    np.testing.assert_allclose(values, values[:, :1] + (values[:, -1:] - values[:, :1]) * s, atol=1e-5)
    up = values[:, -1] > values[:, 0]
    down = values[:, -1] < values[:, 0]
    if fixed:  # B4 corrected: up or down
        assert up.sum() >= 10 and down.sum() >= 10
    else:  # B4 reproduced: always up
        assert not down.any() and up.sum() >= 40


@pytest.mark.parametrize("fixed", [True, False])
def test_cosine(run, fixed):
    starts, values = _profiles(run, "cosine", fixed)
    assert np.all(values >= VMIN - 1e-6) and np.all(values <= VMAX + 1e-6)
    if fixed:  # B5 corrected: starts at the start value, rising or falling
        np.testing.assert_allclose(values[:, 0], starts, atol=1e-5)
        slope = values[:, 1] - values[:, 0]
        assert (slope > 0).sum() >= 10 and (slope < 0).sum() >= 10
    else:  # B5 reproduced: phase pi, every branch starts at its minimum lo <= start
        assert np.all(values[:, 0] <= starts + 1e-6)
        assert np.all(values >= values[:, :1] - 1e-5)
        assert np.all(values[:, 1] >= values[:, 0])
        assert np.mean(np.abs(values[:, 0] - starts) > 1e-3) > 0.8


# --- the spec formula from given uniforms (layout: up, down, direction, periods, 2 redraws, phase sign)


def _ref_profile(u, start, profile, fixed):
    s = np.linspace(0, 1, N_POINTS)
    up = start + (VMAX - min(start, VMAX - 0.01)) * u[0]
    down = start - (max(start, VMIN + 0.01) - VMIN) * u[1]
    if profile == "linear":
        end = up if (not fixed or u[2] < 0.5) else down
        return start + (end - start) * s
    periods = PERIODS[0] + u[3] * (PERIODS[1] - PERIODS[0])
    hi, lo = up, down
    if lo >= hi:
        r = VMIN + 0.01 + u[4:6] * (VMAX - VMIN - 0.02)
        hi, lo = r.max(), r.min()
    a, b = (hi + lo) / 2, (hi - lo) / 2
    if fixed:
        phi = np.arccos(np.clip((start - a) / b, -1, 1)) * (1 if u[6] < 0.5 else -1)
    else:
        phi = np.pi
    return a + b * np.cos(2 * np.pi * periods * s - phi)


@pytest.mark.parametrize("profile", ["linear", "cosine"])
@pytest.mark.parametrize("fixed", [True, False])
def test_profile_matches_the_spec_formula(run, profile, fixed):
    rng = np.random.default_rng(7)
    u = rng.uniform(0, 1, (12, PROFILE_DRAWS)).astype(np.float32)
    u[0, :2] = 0.0  # lo == hi == start: the cosine's redraw branch
    u[1, 2], u[2, 2], u[3, 6], u[4, 6] = 0.2, 0.8, 0.1, 0.9
    starts = rng.uniform(VMIN + 0.01, VMAX - 0.01, 12).astype(np.float32)
    fn = functools.partial(
        profile_from_uniform, profile=profile, n_points=N_POINTS, min_pct=MIN_PCT, max_pct=MAX_PCT,
        min_period=PERIODS[0], max_period=PERIODS[1], fixed=fixed,
    )  # fmt: skip
    out = run(fn, jnp.asarray(u), jnp.asarray(starts))
    for i in range(12):
        np.testing.assert_allclose(out[i], _ref_profile(u[i].astype(np.float64), float(starts[i]), profile, fixed), atol=2e-5)


# --- gaps ---------------------------------------------------------------------------------------


def _gap_size_and_centre(flags: np.ndarray, values: np.ndarray):
    centre = int(np.argmin(values))
    size = int(np.max(np.abs(np.flatnonzero(flags) - centre))) + 1
    return size, centre


@pytest.mark.parametrize("min_gap, max_gap", [(1, 4), (3, 6), (0, 2)])
def test_gap_ramps(run, min_gap, max_gap):
    n = 64
    rng = np.random.default_rng(min_gap)
    base = rng.uniform(0.1, 0.4, (n, N_POINTS)).astype(np.float32)
    keys = jax.random.split(jax.random.key(max_gap), n)
    values, flags = run(lambda k, v: apply_gap(k, v, min_gap, max_gap), keys, jnp.asarray(base))
    assert values.dtype == np.float32 and flags.dtype == bool
    j = np.arange(N_POINTS)
    sizes, centres = [], []
    for v, f, b in zip(values, flags, base):
        if not f.any():  # only possible for a gap of size 0
            assert min_gap == 0
            np.testing.assert_array_equal(v, b)
            sizes.append(0)
            continue
        size, centre = _gap_size_and_centre(f, v)
        assert min_gap <= size <= max_gap
        assert v[centre] == 0.0
        # gap points: exactly those strictly inside the ramps
        np.testing.assert_array_equal(f, np.abs(j - centre) < size)
        # linear ramps down to 0 and back, the rest untouched
        np.testing.assert_allclose(v, b * np.minimum(np.abs(j - centre) / size, 1.0), rtol=1e-6, atol=1e-7)
        sizes.append(size)
        centres.append(centre)
    assert set(sizes) == set(range(min_gap, max_gap + 1))  # every size is drawn
    assert min(centres) < 10 and max(centres) > N_POINTS - 10  # centres across the whole branch


def test_gap_at_the_branch_ends_is_one_sided():
    base = jnp.ones(N_POINTS)
    for centre_u, centre in ((0.0, 0), (0.9999, N_POINTS - 1)):
        u = jnp.array([0.99, centre_u])  # size MaxGapSize = 3
        values, flags = gap_from_uniform(u, base, 1, 3)
        values, flags = np.asarray(values), np.asarray(flags)
        j = np.arange(N_POINTS)
        assert values[centre] == 0
        np.testing.assert_allclose(values, np.minimum(np.abs(j - centre) / 3, 1.0), atol=1e-7)
        assert flags.sum() == 3  # centre and 2 points on the one side


def test_no_gap_when_max_gap_is_zero(run):
    keys = jax.random.split(jax.random.key(0), 4)
    base = jnp.asarray(np.random.default_rng(0).uniform(0.1, 0.4, (4, N_POINTS)), jnp.float32)
    values, flags = run(lambda k, v: apply_gap(k, v, 0, 0), keys, base)
    np.testing.assert_array_equal(values, np.asarray(base))
    assert not flags.any()


def test_gap_draw_layout():
    """``g ~ U{min..max}`` from the first uniform, centre ``U{0..P-1}`` from the second."""
    base = jnp.ones(N_POINTS)
    for u0, u1, g, c in ((0.0, 0.5, 2, 30), (0.999, 0.5, 5, 30), (0.5, 0.0, 4, 0), (0.3, 0.25, 3, 15)):
        values, flags = gap_from_uniform(jnp.array([u0, u1]), base, 2, 5)
        assert int(np.argmin(np.asarray(values))) == c
        assert int(np.sum(np.asarray(flags))) == min(2 * g - 1, g + c)
    assert GAP_DRAWS == 2
