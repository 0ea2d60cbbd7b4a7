"""Input normalisation shared by training, evaluation and prediction."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.train.normalise import Normalisation, normalise


def _images(dtype=np.float32, integer=False):
    rng = np.random.default_rng(0)
    img = rng.gamma(2.0, 20.0, size=(3, 40, 56))
    img[:, 10:12, :] += 150  # a bright "axon"
    img = np.clip(img, 0, 255)
    return (np.round(img) if integer else img).astype(dtype)


RUNS = {
    "plain": lambda x, m: normalise(x, m),
    "jit": lambda x, m: jax.jit(normalise, static_argnums=1)(x, m),
    "vmap": lambda x, m: jax.vmap(lambda im: normalise(im, m))(x),
}


@pytest.mark.parametrize("run", list(RUNS))
def test_percentile_scaling_is_robust_and_affine_invariant(run):
    x = _images()
    out = np.asarray(RUNS[run](jnp.asarray(x), "percentile"))
    assert out.dtype == np.float32 and out.shape == x.shape
    assert out.min() >= 0 and out.max() <= 1
    for b in range(3):  # 1 % of pixels at 0, 0.5 % at 1 (the percentiles)
        assert np.mean(out[b] == 0) == pytest.approx(0.01, abs=0.01)
        assert np.mean(out[b] == 1) == pytest.approx(0.005, abs=0.005)
    # brightness and offset of a real microscope do not matter
    other = np.asarray(RUNS[run](jnp.asarray(3.0 * x + 500.0), "percentile"))
    np.testing.assert_allclose(other, out, atol=1e-5)


@pytest.mark.parametrize("run", list(RUNS))
def test_zscore(run):
    out = np.asarray(RUNS[run](jnp.asarray(_images()), "zscore"))
    np.testing.assert_allclose(out.reshape(3, -1).mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out.reshape(3, -1).std(axis=1), 1, atol=1e-4)


def test_any_dtype_and_single_images():
    ref = np.asarray(normalise(_images(np.float32, integer=True)))
    for dtype in (np.uint8, np.uint16, np.int32, np.float64):
        np.testing.assert_allclose(np.asarray(normalise(_images(dtype, integer=True))), ref, atol=1e-6)
    single = np.asarray(normalise(_images(integer=True)[0]))
    assert single.shape == (40, 56)
    np.testing.assert_allclose(single, ref[0], atol=1e-6)


def test_constant_image_gives_zeros_not_nan():
    for method in ("percentile", "zscore"):
        out = np.asarray(normalise(np.full((1, 8, 8), 7, np.uint8), method))
        assert np.all(out == 0)


def test_custom_percentiles_and_errors():
    x = _images()
    wide = np.asarray(normalise(x, Normalisation("percentile", 0.0, 100.0)))
    assert wide.min() == 0 and wide.max() == 1
    np.testing.assert_allclose(wide[0], (x[0] - x[0].min()) / (x[0].max() - x[0].min()), atol=1e-5)
    with pytest.raises(ValueError, match="method"):
        normalise(x, "minmax")
    with pytest.raises(ValueError, match="low"):
        Normalisation("percentile", 99.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        normalise(np.zeros((2, 2, 3, 4)))
    assert Normalisation.from_dict(Normalisation("zscore").to_dict()) == Normalisation("zscore")


@pytest.mark.parametrize("method", ["percentile", "zscore"])
def test_numpy_images_beyond_float32_are_normalised_finite(method):
    from jaxaxon.data.images import ImageDataError

    x = _images(np.float64)
    plain = np.asarray(normalise(x, method))
    for scale in (1e300, 1e-300, 1e25):
        out = np.asarray(normalise(x * scale, method))
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, plain, atol=1e-5)
    bad = x.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ImageDataError, match="image 1: contains NaN"):
        normalise(bad, method)
