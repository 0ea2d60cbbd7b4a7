"""Tests of jaxaxon/synth/walk.py: edge starts, the conformity random walk, the exit rule."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.walk import edge_starts, first_exit, random_walk

HEIGHT, WIDTH = 40, 64  # not square, so rows and columns cannot be confused


# --- edge starts --------------------------------------------------------------------------------


def test_edge_starts_on_the_border_in_the_middle_half_pointing_inwards(run):
    keys = jax.random.split(jax.random.key(0), 3)
    start, direction = run(lambda k: edge_starts(k, HEIGHT, WIDTH, (1000,)), keys)
    start, direction = start.reshape(-1, 2), direction.reshape(-1, 2)
    row, col = start[:, 0], start[:, 1]
    top, bottom = row == 0, row == HEIGHT - 1
    left, right = col == 0, col == WIDTH - 1
    # exactly one edge per start (a corner is impossible in the middle half)
    assert np.all(top.astype(int) + bottom + left + right == 1)
    # integer positions
    np.testing.assert_array_equal(start, np.round(start))
    # inward unit normals
    expected = np.select(
        [top[:, None], bottom[:, None], left[:, None]], [np.array([1.0, 0.0]), np.array([-1.0, 0.0]), np.array([0.0, 1.0])], np.array([0.0, -1.0])
    )
    np.testing.assert_array_equal(direction, expected)
    # position along the edge within the middle half (1/4 .. 3/4 of its length)
    along = np.where(top | bottom, col, row)
    length = np.where(top | bottom, WIDTH, HEIGHT)
    rel = along / (length - 1)
    assert np.all(rel >= 0.25 - 1.0 / length) and np.all(rel <= 0.75 + 1.0 / length)
    # ... covering the whole middle half (first and last quarter positions are drawn)
    for mask, n in ((top | bottom, WIDTH), (left | right, HEIGHT)):
        assert along[mask].min() <= math.ceil((n - 1) / 4)
        assert along[mask].max() >= math.floor(3 * (n - 1) / 4)
    # the 4 edges are equally likely (3000 draws: each fraction within 0.25 +- 0.04)
    for mask in (top, bottom, left, right):
        assert abs(mask.mean() - 0.25) < 0.04


def test_edge_starts_scalar_shape():
    start, direction = edge_starts(jax.random.key(3), HEIGHT, WIDTH)
    assert start.shape == (2,) and direction.shape == (2,)
    assert start.dtype == jnp.float32


# --- the random walk -----------------------------------------------------------------------------


def _turns(start_dir: np.ndarray, walk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step vectors and signed turning angles (first: against the initial direction)."""
    steps = np.diff(walk.astype(np.float64), axis=-2)
    prev = np.concatenate([start_dir[..., None, :].astype(np.float64), steps[..., :-1, :]], axis=-2)
    cross = prev[..., 0] * steps[..., 1] - prev[..., 1] * steps[..., 0]
    dot = np.sum(prev * steps, axis=-1)
    return steps, np.arctan2(cross, dot)


@pytest.mark.parametrize("conformity, first_turn_cos", [(0.99, None), (0.5, None), (0.9, math.cos(math.pi / 4))])
def test_random_walk_steps_and_turning_angles(run, conformity, first_turn_cos):
    n_walks, n_steps, step_size = 4, 400, 1.5
    rng = np.random.default_rng(1)
    keys = jax.random.split(jax.random.key(1), n_walks)
    starts = jnp.asarray(rng.uniform(0, 50, (n_walks, 2)), jnp.float32)
    dirs = jnp.asarray(rng.normal(size=(n_walks, 2)) * 3, jnp.float32)  # not normalised
    fn = functools.partial(random_walk, n_steps=n_steps, step_size=step_size, conformity=conformity, first_turn_cos=first_turn_cos)
    walks = run(fn, keys, starts, dirs)
    assert walks.shape == (n_walks, n_steps + 1, 2)
    np.testing.assert_array_equal(walks[:, 0], np.asarray(starts))
    steps, turns = _turns(np.asarray(dirs), walks)
    np.testing.assert_allclose(np.linalg.norm(steps, axis=-1), step_size, atol=2e-3)
    bound = math.acos(conformity)
    first_bound = bound if first_turn_cos is None else math.acos(first_turn_cos)
    tol = 2e-3
    assert np.all(np.abs(turns[:, 1:]) <= bound + tol)
    assert np.all(np.abs(turns[:, 0]) <= first_bound + tol)
    # the turning angle is uniform in (-bound, bound) (fixed key: deterministic)
    later = turns[:, 1:].ravel() / bound
    assert stats.kstest(later, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3
    assert np.abs(later).max() > 0.98


def test_first_turn_of_daughters_is_spread_over_45_degrees():
    keys = jax.random.split(jax.random.key(2), 2000)
    fn = functools.partial(random_walk, n_steps=2, step_size=1.0, conformity=0.99, first_turn_cos=math.cos(math.pi / 4))
    walks = jax.vmap(lambda k: fn(k, jnp.zeros(2), jnp.array([0.0, 1.0])))(keys)
    _, turns = _turns(np.tile([0.0, 1.0], (2000, 1)), np.asarray(walks))
    first = turns[:, 0] / (math.pi / 4)
    assert np.all(np.abs(first) <= 1 + 1e-4)
    assert stats.kstest(first, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3


def test_random_walk_is_deterministic_and_key_dependent():
    fn = functools.partial(random_walk, n_steps=50, step_size=2.0, conformity=0.9)
    a = fn(jax.random.key(5), jnp.array([10.0, 10.0]), jnp.array([1.0, 0.0]))
    b = fn(jax.random.key(5), jnp.array([10.0, 10.0]), jnp.array([1.0, 0.0]))
    c = fn(jax.random.key(6), jnp.array([10.0, 10.0]), jnp.array([1.0, 0.0]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# --- the exit rule -------------------------------------------------------------------------------


def _ref_first_exit(points: np.ndarray, height: int, width: int):
    """NumPy reference: first point after the start with row <= 0 or row >= H-1 (or the same
    for columns), clamped; the entries after it repeat it."""
    control = points.copy()
    for i in range(1, len(points)):
        r, c = points[i]
        if r <= 0 or r >= height - 1 or c <= 0 or c >= width - 1:
            control[i] = [min(max(r, 0), height - 1), min(max(c, 0), width - 1)]
            control[i + 1 :] = control[i]
            return control, i + 1, True
    return control, len(points), False


def _walks_np(rng, n, n_steps, height, width, step_size):
    start = rng.uniform([3, 3], [height - 4, width - 4], (n, 2))
    angle = rng.uniform(0, 2 * np.pi, (n, 1)) + np.cumsum(rng.uniform(-0.3, 0.3, (n, n_steps)), axis=1)
    steps = step_size * np.stack([np.cos(angle), np.sin(angle)], -1)
    return np.concatenate([start[:, None], start[:, None] + np.cumsum(steps, axis=1)], 1).astype(np.float32)


def test_first_exit_matches_reference(run):
    rng = np.random.default_rng(3)
    walks = np.concatenate([_walks_np(rng, 12, 30, HEIGHT, WIDTH, 2.5), _walks_np(rng, 4, 30, HEIGHT, WIDTH, 0.05)])  # short steps: no exit
    # hand-made cases: exactly on the border, start on the border, exits through each side
    special = np.array(
        [
            [[10, 10], [5, 10], [0, 10], [-3, 10]],  # reaches row 0 exactly
            [[0, 20], [3, 20], [6, 20], [9, 20]],  # starts on the border, never exits later
            [[20, 30], [30, 30], [39.5, 30], [50, 30]],  # beyond the bottom: clamped to H - 1
            [[20, 60], [20, 62.5], [20, 70], [20, 80]],  # right side
            [[20, 2], [20, 0.7], [20, -0.4], [20, -3]],  # left side, clamped to 0
            [[20, 20], [20, 21], [20, 22], [20, 23]],  # never exits
        ],
        np.float32,
    )
    pad = np.repeat(special[:, -1:], walks.shape[1] - special.shape[1], axis=1)
    walks = np.concatenate([walks, np.concatenate([special, pad + np.float32(0)], 1)])
    exited_expected = []
    control, n_points, exited = run(lambda w: first_exit(w, HEIGHT, WIDTH), jnp.asarray(walks))
    for w, c, n, e in zip(walks, control, n_points, exited):
        rc, rn, re = _ref_first_exit(w, HEIGHT, WIDTH)
        np.testing.assert_array_equal(c, rc)
        assert (int(n), bool(e)) == (rn, re)
        exited_expected.append(re)
    assert any(exited_expected) and not all(exited_expected)
    # the hand-made cases in detail
    assert (int(n_points[-6]), bool(exited[-6])) == (3, True)
    np.testing.assert_array_equal(control[-6, 2:], [[0, 10]] * (walks.shape[1] - 2))
    assert not exited[-5] and int(n_points[-5]) == walks.shape[1]
    np.testing.assert_array_equal(control[-4, 2], [HEIGHT - 1, 30])
    np.testing.assert_array_equal(control[-3, 2], [20, WIDTH - 1])
    np.testing.assert_array_equal(control[-2, 2], [20, 0])
    assert not exited[-1]
    np.testing.assert_array_equal(control[-1], walks[-1])


def test_static_walk_length_lets_walks_exit():
    """`max_walk_steps` is documented as long enough for (nearly) every walk to leave the image."""
    cfg = GeneratorConfig(width=64, height=48, conformity=0.3, StepSize=1.0, MaxThickness=2.0, MaxRadius=8, rowshift=6, colshift=6)
    n = 512
    keys = jax.random.split(jax.random.key(4), n)

    @jax.jit
    def walk_and_exit(k):
        k1, k2 = jax.random.split(k)
        start, direction = edge_starts(k1, *cfg.shape)
        w = random_walk(k2, start, direction, n_steps=cfg.max_walk_steps, step_size=cfg.StepSize, conformity=cfg.conformity)
        return first_exit(w, *cfg.shape)

    control, n_points, exited = jax.vmap(walk_and_exit)(keys)
    assert bool(jnp.all(exited))
    assert int(jnp.max(n_points)) < cfg.max_control_points
    # the exit point is on the border
    last = np.asarray(control)[np.arange(n), np.asarray(n_points) - 1]
    on_border = (last[:, 0] == 0) | (last[:, 0] == cfg.height - 1) | (last[:, 1] == 0) | (last[:, 1] == cfg.width - 1)
    assert np.all(on_border)
