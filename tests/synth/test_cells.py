"""Tests of jaxaxon/synth/cells.py: the blur matrix, cell drawing, placement, merging (docs/original.md, step 5)."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import signal

from jaxaxon.synth.cells import (
    canvas_halfsize,
    cell_from_draws,
    clashes,
    draw_cell,
    pack_rows,
    place_cells,
    render_cells,
    same_blur_matrix,
)

from .helpers import transformed


def fspecial_gaussian(m: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', [m m], sigma)``."""
    x = np.arange(m) - (m - 1) / 2
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def conv2_same(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """MATLAB ``conv2(a, k, 'same')``: the full convolution from index floor(m/2) on."""
    full = signal.convolve2d(a, k, mode="full")
    r0, c0 = k.shape[0] // 2, k.shape[1] // 2
    return full[r0 : r0 + a.shape[0], c0 : c0 + a.shape[1]]


def test_conv2_same_reference_matches_matlab_examples():
    # MATLAB: conv([1 2 3], [1 1], 'same') = [3 5 3]; conv([1 2 3 4], [1 2 3], 'same') = [4 10 16 17]
    np.testing.assert_array_equal(conv2_same(np.array([[1.0, 2, 3]]), np.array([[1.0, 1]])), [[3, 5, 3]])
    np.testing.assert_array_equal(conv2_same(np.array([[1.0, 2, 3, 4]]), np.array([[1.0, 2, 3]])), [[4, 10, 16, 17]])


@pytest.mark.parametrize("size", [9, 16])
def test_same_blur_matrix_against_conv2(run, size):
    rng = np.random.default_rng(size)
    cases = [(1, 0.7), (2, 1.3), (3, 2.0), (4, 0.9), (5, 3.1), (8, 2.5)]
    ms = jnp.array([m for m, _ in cases], jnp.int32)
    sigmas = jnp.array([s for _, s in cases], jnp.float32)
    weights, support = run(lambda m, s: same_blur_matrix(size, m, s), ms, sigmas)
    for (m, sigma), w, sup in zip(cases, weights, support):
        a = rng.uniform(0, 5, (size, size))
        ref = conv2_same(a, fspecial_gaussian(m, sigma))
        np.testing.assert_allclose(w @ a @ w.T, ref, rtol=1e-5, atol=1e-5)
        # the support is where the kernel reaches: conv2 of an indicator
        for j in range(size):
            e = np.zeros((size, 1))
            e[j] = 1
            reach = conv2_same(e, np.ones((m, 1))) > 0
            np.testing.assert_array_equal(sup[:, j], reach[:, 0])


# --- one cell ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ccfg(small_cfg):
    """SMALL with a wider radius range (odd and even blur sizes)."""
    return small_cfg.replace(MinRadius=3, MaxRadius=10)


def _uniform_int(u, lo, hi):
    return np.clip(np.floor(lo + u * (hi - lo + 1)), lo, hi).astype(int)


def _ref_cell(u, noise, r, k, b, cfg):
    """docs/original.md, step 5 in NumPy from the same draws: five sources, distance <= R, 'same' Gaussian blur
    of size ceil(R/2) with Inf spreading, dropout to R, noise, intensity."""
    hmax = canvas_halfsize(cfg)
    size = 2 * hmax + 1
    half = math.ceil(r / 2)
    offsets = _uniform_int(u[:8].reshape(4, 2).astype(np.float64), -half + 1, half - 1)
    sources = np.concatenate([[[0, 0]], offsets]) + hmax
    rows, cols = np.mgrid[:size, :size]
    d = np.min([np.hypot(rows - sr, cols - sc) for sr, sc in sources], axis=0)
    d = np.where(d > r, np.inf, d)
    v = math.sqrt(-(r**2) / (2 * math.log(0.05 * b)))
    kernel = fspecial_gaussian(half, v)
    finite = np.isfinite(d)
    blurred = conv2_same(np.where(finite, d, 0.0), kernel)
    spread = conv2_same((~finite).astype(float), np.ones_like(kernel)) > 0  # Inf reaches these pixels
    blurred = np.where(spread, np.inf, blurred)
    drop = u[8:].reshape(size, size) < 1.0 / k
    d2 = np.where(drop & np.isfinite(blurred), r, blurred) + cfg.sigma_noise_circle * noise
    intensity = np.where(np.isfinite(d2), b * np.exp(-np.where(np.isfinite(d2), d2, 0) ** 2 / (2 * v**2)), 0.0)
    return intensity, ~spread, sources


def test_cell_from_draws_matches_reference(run, ccfg):
    size = 2 * canvas_halfsize(ccfg) + 1
    rng = np.random.default_rng(0)
    radii = np.array([3, 4, 5, 6, 7, 10], np.int32)
    n = len(radii)
    u = rng.uniform(0, 1, (n, 8 + size * size)).astype(np.float32)
    noise = rng.normal(size=(n, size, size)).astype(np.float32)
    kd = np.array([2, 3, 4, 2, 3, 4], np.int32)
    bright = np.array([0.1, 0.2, 0.3, 0.15, 0.25, 0.12], np.float32)
    intensity, nonzero = run(
        lambda a, z, r, k, b: cell_from_draws(a, z, r, k, b, ccfg), *map(jnp.asarray, (u, noise, radii, kd, bright))
    )
    hmax = canvas_halfsize(ccfg)
    rows, cols = np.mgrid[:size, :size]
    for i in range(n):
        ref, ref_nonzero, _ = _ref_cell(u[i].astype(np.float64), noise[i].astype(np.float64), int(radii[i]), int(kd[i]), float(bright[i]), ccfg)
        np.testing.assert_array_equal(nonzero[i], ref_nonzero)
        np.testing.assert_allclose(intensity[i], ref, rtol=1e-4, atol=1e-6)
        # nonzero only within R + ceil(R/2) of the centre, and never where the kernel touches Inf
        r = int(radii[i])
        assert np.all(np.hypot(rows - hmax, cols - hmax)[intensity[i] > 0] <= r + math.ceil(r / 2))
        assert np.all(intensity[i][~ref_nonzero] == 0)
        assert intensity[i].max() <= bright[i] + 1e-6 and (intensity[i] > 0).sum() > 5


def test_draw_cell_dropout_and_brightness(ccfg):
    keys = jax.random.split(jax.random.key(0), 64)
    radius, k, b = jnp.int32(8), jnp.int32(2), jnp.float32(0.3)
    intensity, nonzero = jax.jit(jax.vmap(lambda key: draw_cell(key, radius, k, b, ccfg)))(keys)
    intensity, nonzero = np.asarray(intensity), np.asarray(nonzero)
    assert np.all(intensity <= 0.3 + 1e-6) and np.all(intensity >= 0)
    assert np.all(intensity[~nonzero] == 0)
    # different keys give different cells; dropout makes dark dots inside (k = 2: about half)
    assert not np.array_equal(intensity[0], intensity[1])
    v = math.sqrt(-(64) / (2 * math.log(0.05 * 0.3)))
    dark = intensity[nonzero] < 0.3 * math.exp(-(8**2) / (2 * v**2)) * 3  # d near R (dropped) or beyond
    assert 0.3 < dark.mean() < 0.9


# --- placement and merging -----------------------------------------------------------------------


def _paste(canvas, origin, height, width):
    """A canvas placed at ``origin`` in an image (pixels outside the image are cut)."""
    out = np.zeros((height, width))
    size = canvas.shape[0]
    for r in range(size):
        for c in range(size):
            q, s = origin[0] + r, origin[1] + c
            if 0 <= q < height and 0 <= s < width:
                out[q, s] = canvas[r, c]
    return out


def _occupancy(rng, n, height, width, density):
    occ = np.zeros((n, height, width), bool)
    for o in occ:  # random thick lines and blobs, like axons and boutons
        for _ in range(int(density * 40)):
            r, c = rng.integers(0, height), rng.integers(0, width)
            o[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3] = True
        r = rng.integers(0, height)
        o[max(r - 1, 0) : r + 2] = True
    return occ


@functools.lru_cache(maxsize=None)
def _place_and_render(cfg):
    """One function object per config (shared compilations across tests)."""

    def fn(key, occupied):
        cells = place_cells(key, occupied, cfg)
        return cells, render_cells(cells, cfg)

    return fn


def test_place_cells_never_on_occupied_pixels_and_render_by_max(run_heavy, ccfg):
    height, width = ccfg.shape
    rng = np.random.default_rng(1)
    n = 4
    occ = _occupancy(rng, n, height, width, 0.5)
    keys = jax.random.split(jax.random.key(2), n)
    cells, image = run_heavy(_place_and_render(ccfg), keys, jnp.asarray(occ))
    n_valid = 0
    for i in range(n):
        ref = np.zeros((height, width))
        count = int(cells.valid[i].sum()) + int(cells.failed[i])
        assert ccfg.MinNbCircles <= count <= ccfg.MaxNbCircles
        for j in np.flatnonzero(cells.valid[i]):
            placed = _paste(cells.canvas[i, j], cells.origin[i, j], height, width)
            assert not np.any((placed > 0) & occ[i]), (i, j)
            ref = np.maximum(ref, placed)
            assert ccfg.MinRadius <= int(cells.radius[i, j]) <= ccfg.MaxRadius
            n_valid += 1
        np.testing.assert_allclose(image[i], ref, atol=1e-7)  # merged by maximum
    assert n_valid >= n * ccfg.MinNbCircles // 2


def test_cells_fail_when_the_image_is_full(ccfg):
    height, width = ccfg.shape
    occ = jnp.ones((height, width), bool).at[:2, :2].set(False)
    cells, image = transformed("jit", _place_and_render(ccfg))(jax.random.key(3), occ)
    assert not bool(jnp.any(cells.valid))
    assert int(cells.failed) >= ccfg.MinNbCircles
    assert not bool(jnp.any(image))


def test_cell_placement_covers_the_image_including_its_borders(ccfg):
    height, width = ccfg.shape
    place = transformed("jit", _place_and_render(ccfg))
    free = jnp.zeros((height, width), bool)
    cover = np.zeros((height, width))
    for key in jax.random.split(jax.random.key(4), 64):
        cells, image = place(key, free)
        assert bool(jnp.all(cells.valid[: int(cells.valid.sum() + cells.failed)]))  # nothing occupied: all placed
        assert int(cells.failed) == 0
        cover += np.asarray(image) > 0
    # cells land everywhere, edges and corners included (corner drawn in [-ceil(R/2), H] x [-ceil(R/2), W])
    assert cover[0].max() > 0 and cover[-1].max() > 0 and cover[:, 0].max() > 0 and cover[:, -1].max() > 0
    assert (cover == 0).mean() < 0.1


def _clashes_np(mask, nonzero, origin):
    """Brute force: any pattern pixel inside the mask landing on a set mask pixel."""
    height, width = mask.shape
    out = []
    for r0, c0 in origin:
        hit = False
        for i, j in zip(*np.nonzero(nonzero)):
            r, c = r0 + i, c0 + j
            hit |= bool(0 <= r < height and 0 <= c < width and mask[r, c])
        out.append(hit)
    return np.array(out)


@pytest.mark.parametrize("shape,size", [((40, 70), 61), ((33, 31), 17), ((64, 96), 33)])
def test_packed_clash_test_matches_brute_force(shape, size):
    """The word-packed clash test equals the pixel-by-pixel one, at every shift of the
    pattern against the 32-bit words, origins partly or wholly outside the mask included."""
    height, width = shape
    rng = np.random.default_rng(size)
    pad_words = -(-(2 * size + 1) // 32)
    fn = jax.jit(lambda m, nz, o: clashes(pack_rows(m, pad_words), pad_words, nz, o))
    for density in (0.002, 0.02):
        mask = rng.random(shape) < density
        nonzero = rng.random((size, size)) < 0.3
        rows = rng.integers(-size - 3, height + 3, 96)
        # every shift modulo 32, then anywhere (partly or wholly outside the mask)
        cols = np.concatenate([np.arange(-size, -size + 64), rng.integers(-size - 1, width + 2, 32)])
        origin = np.stack([rows, cols], -1).astype(np.int32)
        got = np.asarray(fn(jnp.asarray(mask), jnp.asarray(nonzero), jnp.asarray(origin)))
        want = _clashes_np(mask, nonzero, origin)
        np.testing.assert_array_equal(got, want)
        assert 0 < want.sum() < len(want)  # both outcomes are exercised


def test_pack_rows_bits():
    mask = np.zeros((2, 40), bool)
    mask[0, [0, 31, 32, 39]] = True
    packed = np.asarray(pack_rows(jnp.asarray(mask), 1))
    assert packed.shape == (2, 4) and packed.dtype == np.uint32
    assert packed[0].tolist() == [0, 1 | (1 << 31), 1 | (1 << 7), 0] and not packed[1].any()
