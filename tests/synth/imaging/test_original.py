"""The original imaging model (jaxaxon/synth/imaging/original.py, docs/original.md, step 6) and output scaling (docs/original.md, step 6)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage, stats

from jaxaxon.synth.imaging.original import (
    NoiseParams,
    apply,
    box2x2,
    draw_params,
    gauss50,
    poisson_field,
    poisson_table,
)
from jaxaxon.synth.imaging.output import to_output


def gauss50_kernel() -> np.ndarray:
    """The normalised 50x50 sigma-6 Gaussian (MATLAB fspecial('gaussian', 50, 6))."""
    x = np.arange(50) - 24.5
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 36.0))
    return g / g.sum()


def gauss50_reference(field: np.ndarray) -> np.ndarray:
    # scipy centres a 50-tap kernel at index 25; origin -1 moves it to 24: out[r] sees r-24..r+25
    return ndimage.correlate(field.astype(np.float64), gauss50_kernel(), mode="nearest", origin=-1)


def test_gauss50_reference_window():
    """The scipy reference really covers r-24..r+25 with replicate borders (checked by a loop)."""
    rng = np.random.default_rng(0)
    f = rng.uniform(0, 1, (7, 9))
    k = gauss50_kernel()
    ref = gauss50_reference(f)
    for r, c in [(0, 0), (3, 4), (6, 8), (2, 7)]:
        rows = np.clip(np.arange(r - 24, r + 26), 0, 6)
        cols = np.clip(np.arange(c - 24, c + 26), 0, 8)
        assert abs(np.sum(k * f[np.ix_(rows, cols)]) - ref[r, c]) < 1e-12


@pytest.mark.parametrize("shape", [(64, 64), (40, 72)])
def test_gauss50_against_scipy(run, shape):
    rng = np.random.default_rng(1)
    fields = rng.poisson(14, (3, *shape)).astype(np.float32)
    fields[0, :5, :] += 30  # a bright border band: replicate borders matter
    out = run(gauss50, jnp.asarray(fields))
    for f, o in zip(fields, out):
        np.testing.assert_allclose(o, gauss50_reference(f), rtol=1e-5, atol=1e-4)


def test_box2x2_against_numpy(run):
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 255, (3, 17, 23)).astype(np.float32)
    out = run(box2x2, jnp.asarray(images))
    for img, o in zip(images, out):
        p = np.pad(img.astype(np.float64), ((0, 1), (0, 1)), mode="edge")
        ref = (p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4
        np.testing.assert_allclose(o, ref, rtol=1e-6)


# --- Poisson field ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pcfg(small_cfg):
    return small_cfg.replace(lambdaMin=2, lambdaMax=30)


def test_poisson_table(pcfg):
    table = poisson_table(pcfg.lambdaMin, pcfg.lambdaMax)
    assert table.dtype == np.uint32 and table.shape[0] == 29
    assert np.all(np.diff(table.astype(np.int64), axis=1) >= 0)  # thresholds monotone
    assert np.all(table[:, -1] == 2**32 - 1)  # the last threshold saturates: no overflow past it
    k = np.arange(table.shape[1])
    for row, lam in zip(table, range(2, 31)):
        cdf = stats.poisson.cdf(k, lam)
        np.testing.assert_allclose(row[:-1] / 2.0**32, cdf[:-1], atol=2e-9)


@pytest.mark.parametrize("lam", [2, 14, 30])
def test_poisson_field_distribution(pcfg, lam):
    shape = (256, 256)
    field = np.asarray(jax.jit(lambda k, l: poisson_field(k, l, shape, pcfg))(jax.random.key(lam), jnp.int32(lam)))
    assert field.dtype == np.float32 and field.shape == shape
    np.testing.assert_array_equal(field, np.round(field))
    assert field.min() >= 0
    n = field.size
    # moments: standard errors of mean and variance are about sqrt(lam/n) and lam*sqrt(2/n)
    assert abs(field.mean() - lam) < 5 * np.sqrt(lam / n)
    assert abs(field.var() - lam) < 6 * lam * np.sqrt(2 / n) + 6 * np.sqrt(lam / n)
    # chi-square against the Poisson law over bins with expected count >= 20 (fixed key)
    values = field.astype(int).ravel()
    k_lo, k_hi = int(stats.poisson.ppf(1e-3, lam)), int(stats.poisson.ppf(1 - 1e-3, lam))
    middle = np.arange(k_lo + 1, k_hi)
    observed = np.array([np.sum(values <= k_lo)] + [np.sum(values == k) for k in middle] + [np.sum(values >= k_hi)])
    probs = np.concatenate([[stats.poisson.cdf(k_lo, lam)], stats.poisson.pmf(middle, lam), [stats.poisson.sf(k_hi - 1, lam)]])
    assert np.all(probs * n >= 20) and len(probs) >= 5
    assert stats.chisquare(observed, probs * n / probs.sum()).pvalue > 1e-4


def test_poisson_field_under_vmap_uses_each_rate(pcfg):
    lams = jnp.array([2, 9, 30], jnp.int32)
    keys = jax.random.split(jax.random.key(0), 3)
    fields = np.asarray(jax.vmap(lambda k, l: poisson_field(k, l, (128, 128), pcfg))(keys, lams))
    for f, lam in zip(fields, [2, 9, 30]):
        assert abs(f.mean() - lam) < 5 * np.sqrt(lam / f.size)


def test_draw_params(small_cfg):
    cfg = small_cfg.replace(sigma_noise_min=2.5, sigma_noise_max=10.0, lambdaMin=10, lambdaMax=14)
    keys = jax.random.split(jax.random.key(0), 2000)
    params = jax.vmap(lambda k: draw_params(k, cfg))(keys)
    sigma, lam = np.asarray(params.sigma), np.asarray(params.lam)
    assert sigma.min() >= 2.5 and sigma.max() <= 10.0 and sigma.std() > 1.5
    assert set(lam.tolist()) == set(range(10, 15))
    np.testing.assert_allclose(sigma * 1e5, np.round(sigma * 1e5), atol=0.02)
    p1 = draw_params(jax.random.key(0), small_cfg)  # shipped values: fixed 10 and 14
    assert abs(float(p1.sigma) - 10.0) < 1e-6 and int(p1.lam) == 14


# --- the whole noise stage and output -----------------------------------------------------------


def test_apply(run, small_cfg):
    cfg = small_cfg
    height, width = cfg.shape
    signal = np.zeros((3, height, width), np.float32)
    signal[:, 20:30, 20:40] = np.array([0.2, 0.05, 1.0])[:, None, None]
    signal[1, 50:52, 5:60] = 0.3
    keys = jax.random.split(jax.random.key(1), 3)
    sigmas = jnp.array([10.0, 0.0, 3.0])
    lams = jnp.array([14, 14, 14], jnp.int32)
    out = run(lambda k, s, sg, l: apply(k, s, NoiseParams(sg, l), cfg), keys, jnp.asarray(signal), sigmas, lams)
    assert out.shape == (3, height, width) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.floor(out))  # integer-valued
    assert out.min() >= 0 and np.all(out.max(axis=(1, 2)) == 255)
    for o, sig in zip(out, signal):  # the brightest signal (255 after the first scaling) shows through
        top = sig == sig.max()
        full = top[:-1, :-1] & top[1:, :-1] & top[:-1, 1:] & top[1:, 1:]  # whole 2x2 box on it
        assert o[:-1, :-1][full].mean() > o[35:45, :].mean() + 50


def test_apply_scales_the_signal_by_peak(small_cfg):
    """Only ``signal / peak`` matters; no peak means the image's maximum (a series passes its own)."""
    signal = jnp.zeros(small_cfg.shape).at[10:20, 10:20].set(100.0).at[40:50, 5:60].set(30.0)
    params = NoiseParams(jnp.float32(0.0), jnp.int32(14))

    def noisy(s, peak=None):
        return np.asarray(jax.jit(apply, static_argnums=3)(jax.random.key(0), s, params, small_cfg, peak))

    out = noisy(signal, jnp.float32(200.0))
    np.testing.assert_array_equal(out, np.floor(out))
    assert out.max() == 255 and out.min() >= 0
    np.testing.assert_array_equal(out, noisy(signal / 2, jnp.float32(100.0)))
    np.testing.assert_array_equal(noisy(signal), noisy(signal, jnp.float32(100.0)))
    # a brighter peak than the image's own dims the signal against the same background
    assert not np.array_equal(out, noisy(signal))
    assert out[12:18, 12:18].mean() - out[25:35].mean() < noisy(signal)[12:18, 12:18].mean() - noisy(signal)[25:35].mean()


@pytest.mark.parametrize("negative, max_intensity", [(False, 255), (True, 255), (False, 100), (True, 1000)])
def test_to_output(small_cfg, negative, max_intensity):
    cfg = small_cfg.replace(negative_image=negative, maxIntensity=max_intensity)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (2, *cfg.shape)).astype(np.float32)
    images[1] = 0  # an all-zero image stays zero (no division by zero)
    out = np.asarray(jax.vmap(lambda im: to_output(im, cfg))(jnp.asarray(images)))
    ref = np.floor(images[0].astype(np.float64) * max_intensity / images[0].max())
    ref = np.stack([ref, np.zeros(cfg.shape)])
    if negative:
        ref = max_intensity - ref
    np.testing.assert_allclose(out, ref, atol=0)
    assert not np.isnan(out).any()


def test_to_output_maps_the_maximum_of_float_images_to_max_intensity(small_cfg):
    """floor(P * top / max P) is exactly top at the maximum (float32 (x*255)/x can be 254.99998)."""
    rng = np.random.default_rng(4)
    images = rng.uniform(0, 1, (64, *small_cfg.shape)).astype(np.float32) * rng.uniform(1, 1000, (64, 1, 1)).astype(np.float32)
    out = np.asarray(jax.jit(jax.vmap(lambda im: to_output(im, small_cfg)))(jnp.asarray(images)))
    np.testing.assert_array_equal(out.max(axis=(1, 2)), 255)
    ref = np.floor(images.astype(np.float64) * 255 / images.max(axis=(1, 2), keepdims=True))
    assert np.mean(out == ref) > 0.999  # elsewhere the plain formula (up to float32 rounding)
