"""Estimators recover known values on images constructed with them."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaxon.calibrate.measure import CalibrationError, background, check_images, line_correlation, photon_transfer
from jaxaxon.calibrate.structures import detect, find_blobs, find_ridges
from jaxaxon.eval.realism import distances, set_measures


def _smooth_scene(rng: np.random.Generator, shape=(256, 256)) -> np.ndarray:
    """A positive mean image spanning a wide range of levels (5 .. 60 photons)."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return 5 + 55 * (0.5 + 0.5 * np.sin(rows / 40.0) * np.cos(cols / 57.0))


@pytest.mark.parametrize("gain", [0.5, 3.0])
def test_photon_transfer_recovers_gain_and_photons(gain: float) -> None:
    rng = np.random.default_rng(0)
    photons = _smooth_scene(rng)
    images = [gain * rng.poisson(photons).astype(float) + 10.0 for _ in range(4)]
    ptc = photon_transfer(images)
    assert ptc["gain"] == pytest.approx(gain, rel=0.1)
    peak = np.percentile(images[0], 99.5)
    assert (peak - 10.0) / ptc["gain"] == pytest.approx((peak - 10.0) / gain, rel=0.1)


def test_photon_transfer_read_noise() -> None:
    rng = np.random.default_rng(1)
    photons = _smooth_scene(rng)
    images = [2.0 * rng.poisson(photons) + 3.0 * rng.normal(size=photons.shape) for _ in range(4)]
    ptc = photon_transfer(images)
    assert ptc["gain"] == pytest.approx(2.0, rel=0.1)
    assert ptc["read_noise"] == pytest.approx(3.0, rel=0.35)


def _line_image(sigma: float, rng: np.random.Generator, angle: float = 0.3) -> np.ndarray:
    rows, cols = np.mgrid[0:256, 0:256] - 128.0
    d = np.cos(angle) * rows + np.sin(angle) * cols
    clean = 10 + 100 * np.exp(-(d**2) / (2 * sigma**2))
    return rng.poisson(clean).astype(float)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0, 8.0])
def test_ridge_width_of_drawn_lines(sigma: float) -> None:
    ridges = find_ridges(_line_image(sigma, np.random.default_rng(2)), threshold=20.0, noise=10.5)
    assert len(ridges.rows) > 150
    assert np.median(ridges.width) == pytest.approx(sigma, rel=0.12)
    assert np.median(ridges.amplitude) == pytest.approx(100, rel=0.2)


def test_blob_scale_on_a_line() -> None:
    rows, cols = np.mgrid[0:256, 0:256] - 128.0
    image = 50 * np.exp(-(rows**2) / (2 * 1.5**2))
    for centre, v in [(-80, 2.0), (0, 3.0), (80, 4.0)]:
        image = np.maximum(image, 150 * np.exp(-(rows**2 + (cols - centre) ** 2) / (2 * v**2)))
    ridges = find_ridges(image, 10.0)
    blobs = find_blobs(image, ridges, 10.0)
    assert sorted(blobs.cols.tolist()) == [48, 128, 208]
    order = np.argsort(blobs.cols)
    np.testing.assert_allclose(blobs.scale[order], [2.0, 3.0, 4.0], rtol=0.15)
    assert np.all(blobs.ratio > 2)


def test_no_blobs_on_a_plain_line() -> None:
    image = _line_image(1.5, np.random.default_rng(3))
    ridges, blobs = detect(image)
    assert len(ridges.rows) > 150 and len(blobs.rows) <= 1


def test_background_correlation_length() -> None:
    from scipy import ndimage

    rng = np.random.default_rng(4)
    for scale in (4.0, 10.0):
        field = [ndimage.gaussian_filter(rng.normal(size=(256, 256)), scale, mode="wrap") for _ in range(3)]
        images = [50 + 10 * f / f.std() for f in field]
        est = background(images, [np.zeros((256, 256), bool)] * 3, 0.0)
        assert est["background_scale"] == pytest.approx(scale, rel=0.2)
        assert est["background_contrast"] == pytest.approx(0.2, rel=0.1)


def _matern_image(rng: np.random.Generator, scale: float, exponent: float) -> np.ndarray:
    f2 = np.fft.fftfreq(256)[:, None] ** 2 + np.fft.fftfreq(256)[None, :] ** 2
    transfer = (1 + (2 * np.pi * scale) ** 2 * f2) ** (-exponent / 4)
    field = np.fft.ifft2(np.fft.fft2(rng.normal(size=(256, 256))) * transfer)
    field = field.real - field.real.mean()
    return 50 + 10 * field / field.std()


def test_background_texture_model() -> None:
    """A power-law (Matern) background is told from a Gaussian one, with its exponent and scale."""
    from scipy import ndimage

    rng = np.random.default_rng(6)
    empty = [np.zeros((256, 256), bool)] * 3
    for scale, exponent in ((8.0, 3.0), (30.0, 2.5)):
        est = background([_matern_image(rng, scale, exponent) for _ in range(3)], empty, 0.0)
        assert est["background_fit_matern"] < est["background_fit_gaussian"]
        assert est["background_exponent"] == pytest.approx(exponent, abs=0.5)
        assert est["background_matern_scale"] == pytest.approx(scale, rel=0.5)
    gauss = [ndimage.gaussian_filter(rng.normal(size=(256, 256)), 6.0, mode="wrap") for _ in range(3)]
    est = background([50 + 10 * f / f.std() for f in gauss], empty, 0.0)
    assert est["background_fit_gaussian"] < est["background_fit_matern"]


def test_check_images_refuses_bad_input() -> None:
    with pytest.raises(CalibrationError, match="no images"):
        check_images([])
    with pytest.raises(CalibrationError, match="too small"):
        check_images([np.ones((8, 8))])
    with pytest.raises(CalibrationError, match="uniform"):
        check_images([np.full((64, 64), 7.0)])
    assert len(check_images([np.full((64, 64), 7.0), np.arange(64 * 64.0).reshape(64, 64)])) == 1


def test_object_distances_are_zero_for_one_set_and_grow_with_width() -> None:
    rng = np.random.default_rng(5)
    thin = [_line_image(1.0, rng, a) for a in (0.2, 1.0)]
    wide = [_line_image(4.0, rng, a) for a in (0.2, 1.0)]
    a, b = set_measures(thin), set_measures(wide)
    same = distances(a, a)
    assert same["ridge_width_w1"] == 0 and same["tube_density_gap"] == 0
    assert distances(a, b)["ridge_width_w1"] > 2


@pytest.mark.parametrize("length", [0.0, 0.6, 2.0])
def test_line_correlation_recovers_the_filter_length(length: float) -> None:
    """Poisson images through the generator's line filter give back its length (white: 0), and the
    photon-transfer gain divided by ``line_variance`` gives back the detector's gain (1 here)."""
    import jax.numpy as jnp

    from jaxaxon.synth.imaging.microscope import line_filter

    rng = np.random.default_rng(1)
    photons = _smooth_scene(rng)
    images = [
        np.asarray(line_filter(jnp.asarray(rng.poisson(photons), jnp.float32), jnp.float32(length), 10), np.float64)
        for _ in range(3)
    ]
    est = line_correlation(images)
    assert est["line_correlation"] == pytest.approx(length, abs=0.1 + 0.1 * length)
    assert est["noise_rho_cols"] < 0.1  # the columns stay uncorrelated (the proxy's high-pass is slightly negative)
    assert photon_transfer(images)["gain"] / est["line_variance"] == pytest.approx(1.0, rel=0.2)
