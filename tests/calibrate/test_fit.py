"""`jaxaxon.calibrate.fit`: the correction of parameters against images generated from them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from jaxaxon.calibrate.fit import CONTRAST_STEP, PSF_BINS, correct_params, initial_params, psf_step
from jaxaxon.calibrate.measure import measure
from jaxaxon.eval.image_stats import radial_psd_bins


@pytest.fixture(scope="module")
def params() -> dict:
    """`initial_params` of two noisy 256x256 images with three Gaussian lines each."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:256, 0:256].astype(float)
    images = []
    for _ in range(2):
        clean = 10.0 + 0 * rows
        for _ in range(3):
            a = rng.uniform(0, np.pi)
            d = np.cos(a) * (rows - rng.uniform(60, 200)) + np.sin(a) * (cols - rng.uniform(60, 200))
            clean = clean + 60 * np.exp(-(d**2) / (2 * 1.5**2))
        images.append(rng.poisson(clean / 2) * 2.0)
    p = initial_params(measure(images))
    # a background contrast of 0.5 measured, 0.4-0.6 drawn (the synthetic images have almost none)
    return {**p, "_est": {**p["_est"], "background_contrast": 0.5}, "background_contrast": [0.4, 0.6]}


def _measures(widths: np.ndarray, density: float, blobs: float = 5.0) -> dict:
    """A `set_measures`-like result with the given ridge widths, tube and blob densities."""
    return {
        "ridge_widths": np.asarray(widths, float), "tube_density": density, "blob_density": blobs,
        "blob_scales": np.full(5, 2.0), "blob_ratios": np.full(5, 1.5), "histogram": np.full(60, 1 / 60),
        "psd": np.zeros(8),
    }  # fmt: skip


def _excess(m: dict, wide: float) -> float:
    return m["tube_density"] * float(np.mean(np.clip(m["ridge_widths"] - wide, 0, None)))


def test_background_contrast_follows_the_wide_tail(params: dict) -> None:
    """The background contrast is scaled by (real / generated excess width beyond the real 90th
    percentile) ** CONTRAST_STEP: generated blotches found as wide ridges lower it, too few raise it,
    equal tails keep it; wider ridges count more than a few more of the same width."""
    real_widths = np.linspace(1.0, 5.0, 101)
    real = _measures(real_widths, 1000.0)
    wide = float(np.percentile(real_widths, 90))
    base = np.asarray(params["background_contrast"])
    contrast = lambda gen: np.asarray(correct_params(params, real, gen)["background_contrast"])  # noqa: E731
    np.testing.assert_allclose(contrast(real), base, rtol=1e-3)
    np.testing.assert_allclose(contrast(_measures(real_widths, 2000.0)), base * 0.5**CONTRAST_STEP, rtol=1e-3)
    np.testing.assert_allclose(contrast(_measures(real_widths, 500.0)), base * 2.0**CONTRAST_STEP, rtol=1e-3)
    # the same count of wide ridges, but 5.4 px wide instead of 4.64-5 px: less contrast
    blotches = np.where(real_widths > wide, 5.4, real_widths)
    gen = _measures(blotches, 1000.0)
    expected = (_excess(real, wide) / _excess(gen, wide)) ** CONTRAST_STEP
    assert 0.5 < expected < 0.6
    np.testing.assert_allclose(contrast(gen), base * expected, rtol=1e-3)


def test_bouton_counts_move_by_the_blob_difference(params: dict) -> None:
    """Each drawn bouton adds about one blob, so the bouton count moves by real - generated blobs
    per crop (not by their ratio: noise and cells add blobs that do not scale), never below 0."""
    p = {**params, "_blobs": 10.0}
    q = correct_params(p, _measures([1.0, 2.0], 1000.0, blobs=15.0), _measures([1.0, 2.0], 1000.0, blobs=18.0))
    assert q["_blobs"] == pytest.approx(7.0)
    assert (q["MinNbBouton"], q["MaxNbBouton"]) == (4, 10)
    q = correct_params(p, _measures([1.0, 2.0], 1000.0, blobs=2.0), _measures([1.0, 2.0], 1000.0, blobs=20.0))
    assert q["_blobs"] == 0.0 and q["MaxNbBouton"] == 0
    q = correct_params(p, _measures([1.0, 2.0], 1000.0, blobs=12.0), _measures([1.0, 2.0], 1000.0, blobs=12.0))
    assert q["_blobs"] == pytest.approx(10.0)


def test_background_contrast_stays_within_a_factor_2_of_the_measurement(params: dict) -> None:
    """However large the generated wide tail, the corrected contrast stays within [1/2, 2] times the
    contrast measured on the real background."""
    measured = params["_est"]["background_contrast"]
    low = {**params, "background_contrast": [0.6 * measured * 0.8, 0.6 * measured * 1.2]}
    real_widths = np.linspace(1.0, 5.0, 101)
    q = correct_params(low, _measures(real_widths, 1000.0), _measures(real_widths, 4000.0))
    assert np.mean(q["background_contrast"]) == pytest.approx(measured / 2, rel=1e-3)
    high = {**params, "background_contrast": [1.8 * measured * 0.8, 1.8 * measured * 1.2]}
    q = correct_params(high, _measures(real_widths, 1000.0), _measures(real_widths, 250.0))
    assert np.mean(q["background_contrast"]) == pytest.approx(2 * measured, rel=1e-3)


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_psf_step_recovers_a_gaussian_blur(sigma: float) -> None:
    """The spectrum of a blurred image against the unblurred one gives back the blur's variance
    (the bins' centres stand for whole annuli: within 25 %)."""
    rng = np.random.default_rng(0)
    sharp = ndimage.gaussian_filter(rng.standard_normal((256, 256)), 0.8, mode="wrap")
    blurred = ndimage.gaussian_filter(sharp, sigma, mode="wrap")
    assert psf_step(radial_psd_bins(blurred), radial_psd_bins(sharp)) == pytest.approx(sigma**2, rel=0.25)
    assert psf_step(radial_psd_bins(sharp), radial_psd_bins(blurred)) == pytest.approx(-(sigma**2), rel=0.25)


def test_psf_correction_follows_the_spectrum_within_its_bounds(params: dict) -> None:
    """With ``psf='spectrum'``, a generated spectrum falling slower than the real one between
    `PSF_BINS` widens the PSF (and the intrinsic widths and bouton radii shrink, the PSF removed in
    quadrature); equal spectra keep it; the step is at most x2 per correction and the PSF never
    exceeds the median real ridge width. With ``psf='estimate'`` the PSF stays."""
    est = {**params["_est"], "psf_sigma": 0.6, "width_p50": 2.0}
    p = {**params, "_est": est, "psf_sigma": [0.51, 0.69], "_psf_mode": "spectrum"}
    real, gen = _measures([1.0, 2.0], 1000.0), _measures([1.0, 2.0], 1000.0)
    gen["psd"] = np.linspace(2.0, -1.0, 8)
    same = correct_params(p, {**real, "psd": gen["psd"]}, gen)
    assert np.mean(same["psf_sigma"]) == pytest.approx(0.6, rel=1e-3)
    lower = gen["psd"].copy()
    lower[PSF_BINS[1]] -= 0.1
    kept = correct_params({**p, "_psf_mode": "estimate"}, {**real, "psd": lower}, gen)
    assert kept["psf_sigma"] == p["psf_sigma"] and "_psf" not in kept
    wider = correct_params(p, {**real, "psd": lower}, gen)
    assert 0.6 < wider["_psf"] < 1.2 and np.mean(wider["psf_sigma"]) == pytest.approx(wider["_psf"], rel=1e-3)
    assert wider["sigma_spread"] < same["sigma_spread"] and wider["bouton_radius"][0] <= same["bouton_radius"][0]
    lower[PSF_BINS[1]] -= 5.0
    assert correct_params(p, {**real, "psd": lower}, gen)["_psf"] == pytest.approx(1.2)  # x2 at most
    again = correct_params({**p, "_psf": 1.8, "psf_sigma": [1.53, 2.07]}, {**real, "psd": lower}, gen)
    assert again["_psf"] == pytest.approx(2.0)  # the median real ridge width
    higher = gen["psd"].copy()
    higher[PSF_BINS[1]] += 5.0
    sharper = correct_params({**p, "_psf": 1.0, "psf_sigma": [0.85, 1.15]}, {**real, "psd": higher}, gen)
    assert sharper["_psf"] == pytest.approx(0.5)  # x1/2 at most
