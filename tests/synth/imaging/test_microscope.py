"""The microscope imaging model (jaxaxon/synth/imaging/microscope.py) and the imaging presets."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import signal, stats

import jaxaxon
from jaxaxon.config import PRESETS, ConfigError, GeneratorConfig
from jaxaxon.synth import image as image_module
from jaxaxon.synth.imaging import IMAGING_MODELS, ImagingModel
from jaxaxon.synth.imaging.microscope import (
    EXACT_POISSON_MAX,
    OpticsParams,
    apply,
    bias_field,
    draw_optics_params,
    fast_fft_size,
    fft_convolve,
    gaussian_psf,
    line_filter,
    poisson_counts,
    smooth_field,
    to_output,
)
from jaxaxon.synth.scene import draw_scene

from ...conftest import SMALL

RANDOMISED_SMALL = GeneratorConfig.from_preset("randomised", **{k: getattr(SMALL, k) for k in ("width", "height", "NSplinePoints", "rowshift", "colshift")}, MaxRadius=12)  # noqa: E501


def microscope(key, signal, params, cfg):
    """The model's output image for given parameters."""
    return to_output(apply(key, signal, params, cfg), cfg)


def _three_ways(fn, *args):
    """Runs ``fn`` plain, under jit, and under vmap (batch of one); returns the three results."""
    plain = fn(*args)
    jitted = jax.jit(fn)(*args)
    mapped = jax.vmap(fn)(*(jnp.asarray(a)[None] if not isinstance(a, jax.Array) or a.dtype != jax.dtypes.prng_key else a[None] for a in args))
    return plain, jitted, jax.tree.map(lambda x: x[0], mapped)


# --- PSF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma,aspect,angle", [(1.0, 1.0, 0.0), (1.5, 2.0, 30.0), (2.0, 0.6, 90.0)])
def test_gaussian_psf_is_normalised_and_oriented(sigma, aspect, angle):
    k = np.asarray(gaussian_psf(jnp.float32(sigma), jnp.float32(aspect), jnp.float32(angle), 15))
    assert k.shape == (15, 15) and np.isclose(k.sum(), 1.0, atol=1e-5) and np.all(k >= 0)
    # second moments match the rotated covariance
    r, c = np.meshgrid(np.arange(15) - 7.0, np.arange(15) - 7.0, indexing="ij")
    cov = np.array([[np.sum(k * r * r), np.sum(k * r * c)], [np.sum(k * r * c), np.sum(k * c * c)]])
    t = np.radians(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    expected = rot @ np.diag([sigma**2, (sigma * aspect) ** 2]) @ rot.T
    assert np.allclose(cov, expected, atol=0.05 * max(sigma, sigma * aspect) ** 2)


def test_fft_convolve_matches_scipy_same_convolution():
    rng = np.random.default_rng(0)
    img = rng.random((40, 33)).astype(np.float32)
    kernel = rng.random((7, 5)).astype(np.float32)
    expected = signal.convolve2d(img, kernel, mode="same", boundary="fill")
    for got in _three_ways(fft_convolve, jnp.asarray(img), jnp.asarray(kernel)):
        assert np.allclose(np.asarray(got), expected, atol=1e-4)


def test_fast_fft_size_is_the_next_7_smooth_length():
    def smooth(m):
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        return m == 1

    for n in range(1, 700):
        m = fast_fft_size(n)
        assert m >= n and smooth(m) and not any(smooth(k) for k in range(n, m)), n
    assert fast_fft_size(274) == 280 and fast_fft_size(264) == 270 and fast_fft_size(256) == 256


def test_fft_convolve_matches_scipy_with_a_padded_fft_length():
    """256 + 19 - 1 = 274 = 2 x 137 is padded to 280: still the linear 'same' convolution."""
    rng = np.random.default_rng(1)
    img = rng.random((256, 256)).astype(np.float32)
    kernel = np.asarray(gaussian_psf(jnp.float32(2.0), jnp.float32(1.5), jnp.float32(30.0), 19))
    expected = signal.convolve2d(img, kernel, mode="same", boundary="fill")
    got = np.asarray(jax.jit(fft_convolve)(jnp.asarray(img), jnp.asarray(kernel)))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_psf_blur_preserves_total_signal_away_from_borders():
    img = np.zeros((64, 64), np.float32)
    img[20:40, 25:30] = 1.0  # an object far from the borders
    img[32, 45] = 5.0
    kernel = gaussian_psf(jnp.float32(1.5), jnp.float32(1.8), jnp.float32(25.0), 15)
    blurred = np.asarray(fft_convolve(jnp.asarray(img), kernel))
    assert np.isclose(blurred.sum(), img.sum(), rtol=1e-4)
    assert blurred.max() < img.max()


# --- shot noise --------------------------------------------------------------------------------


@pytest.mark.parametrize("mean", [0.3, 2.0, 9.5, EXACT_POISSON_MAX, 40.0, 300.0])
def test_shot_noise_variance_proportional_to_mean(mean):
    counts = np.asarray(poisson_counts(jax.random.key(1), jnp.full((400, 400), mean, jnp.float32)))
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    # 160,000 draws: the sample mean and variance are within a few standard errors
    assert abs(counts.mean() - mean) < 5 * np.sqrt(mean / counts.size)
    assert abs(counts.var() / mean - 1.0) < 0.03


def test_shot_noise_exact_poisson_law_for_small_means():
    mean = 6.0
    counts = np.asarray(poisson_counts(jax.random.key(2), jnp.full((300, 300), mean, jnp.float32))).astype(int)
    observed = np.bincount(counts.ravel(), minlength=25)[:25]
    expected = stats.poisson.pmf(np.arange(25), mean) * counts.size
    keep = expected > 20
    chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
    assert chi2 < stats.chi2.ppf(0.999, keep.sum() - 1)


def test_shot_noise_per_pixel_means_under_jit_and_vmap():
    means = jnp.linspace(0.0, 50.0, 64 * 64).reshape(64, 64)
    key = jax.random.key(3)
    plain, jitted, mapped = _three_ways(poisson_counts, key, means)
    assert np.array_equal(np.asarray(plain), np.asarray(jitted))
    assert np.array_equal(np.asarray(plain), np.asarray(mapped))
    assert np.all(np.asarray(plain)[0, :5] == 0)  # means near zero give (almost surely) zero counts


# --- background and bias fields --------------------------------------------------------------------


def test_smooth_field_normalised_and_correlation_grows_with_scale():
    fine = np.asarray(smooth_field(jax.random.key(4), (128, 128), jnp.float32(1.5)))
    coarse = np.asarray(smooth_field(jax.random.key(4), (128, 128), jnp.float32(12.0)))
    for f in (fine, coarse):
        assert abs(f.mean()) < 1e-4 and abs(f.std() - 1.0) < 1e-3

    def lag_corr(f, lag):
        return np.corrcoef(f[:, :-lag].ravel(), f[:, lag:].ravel())[0, 1]

    assert lag_corr(coarse, 4) > 0.8 > lag_corr(fine, 4)


def _radial_power_slope(field: np.ndarray, lo: float, hi: float) -> float:
    power = np.abs(np.fft.fft2(field)) ** 2
    f = np.hypot(np.fft.fftfreq(field.shape[0])[:, None], np.fft.fftfreq(field.shape[1])[None, :])
    sel = (f >= lo) & (f <= hi)
    return float(np.polyfit(np.log(f[sel]), np.log(power[sel]), 1)[0])


def test_matern_field_normalised_with_a_power_law_spectrum():
    key, shape = jax.random.key(9), (256, 256)
    slopes = {}
    for exponent in (2.0, 3.0):
        fields = [
            np.asarray(smooth_field(k, shape, jnp.float32(20.0), jnp.float32(exponent)))
            for k in jax.random.split(key, 4)
        ]
        for f in fields:
            assert abs(f.mean()) < 1e-4 and abs(f.std() - 1.0) < 1e-3
        # well above 1 / (2 pi 20) the power falls as f^-exponent
        slopes[exponent] = float(np.mean([_radial_power_slope(f, 0.05, 0.4) for f in fields]))
        assert slopes[exponent] == pytest.approx(-exponent, abs=0.3)
    # a Gaussian field of the same scale has (almost) no power there: exponent 0 is that field, exactly
    gauss = smooth_field(key, shape, jnp.float32(3.0))
    np.testing.assert_array_equal(np.asarray(smooth_field(key, shape, jnp.float32(3.0), jnp.float32(0.0))), gauss)


@pytest.mark.parametrize(
    "name, drawn, seed", [("background_exponent", (2.0, 4.0), 10), ("line_correlation", (1.0, 3.0), 13)]
)
def test_separate_optics_draws_change_only_their_own_stage(name: str, drawn: tuple[float, float], seed: int):
    """``background_exponent`` (the texture) and ``line_correlation`` (the detector signal) are
    drawn per image beside the other optics parameters without moving them, and with a range at 0
    the image is the one without that stage, bit for bit."""
    cfg = RANDOMISED_SMALL
    key = jax.random.key(seed)
    base = draw_optics_params(key, cfg)
    changed = draw_optics_params(key, cfg.replace(**{name: drawn}))
    assert drawn[0] <= float(getattr(changed, name)) <= drawn[1]
    for f in dataclasses.fields(OpticsParams):
        if f.name != name:
            assert float(getattr(base, f.name)) == float(getattr(changed, f.name)), f.name
    sig = jnp.zeros((64, 64)).at[20:24, :].set(1.0)
    plain = microscope(jax.random.key(seed + 1), sig, base, cfg)
    zero = microscope(jax.random.key(seed + 1), sig, base, cfg.replace(**{name: (0.0, 1.0)}))
    assert float(getattr(base, name)) == 0.0
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(zero))
    other = microscope(jax.random.key(seed + 1), sig, changed, cfg.replace(**{name: drawn}))
    assert not np.array_equal(np.asarray(plain), np.asarray(other))


def test_line_filter_correlates_rows_only_and_keeps_the_mean():
    """The line filter is the identity at length 0; otherwise it keeps a flat image's level and
    makes white noise correlated along the rows (lag-1 correlation of the normalised two-sided
    exponential) and not along the columns; plain, jit and vmap agree."""
    noise = jax.random.normal(jax.random.key(12), (128, 128))
    np.testing.assert_allclose(np.asarray(line_filter(noise, jnp.float32(0.0), 10)), np.asarray(noise), atol=1e-6)
    flat = jnp.full((16, 40), 3.0)
    np.testing.assert_allclose(np.asarray(line_filter(flat, jnp.float32(2.0), 10)), 3.0, rtol=1e-5)
    length = 2.0
    for got in _three_ways(lambda x, n: line_filter(x, n, 10), noise, jnp.float32(length)):
        z = np.asarray(got, np.float64)
        z = z - z.mean()
        taps = np.exp(-np.abs(np.arange(-10, 11)) / length)
        expected = np.sum(taps[1:] * taps[:-1]) / np.sum(taps**2)
        along = np.mean(z[:, :-1] * z[:, 1:]) / np.mean(z * z)
        across = np.mean(z[:-1] * z[1:]) / np.mean(z * z)
        assert along == pytest.approx(expected, abs=0.03) and abs(across) < 0.05


def test_bias_field_smooth_positive_mean_one():
    for got in _three_ways(lambda k: bias_field(k, (96, 96), jnp.float32(0.4), jnp.float32(40.0)), jax.random.key(5)):
        b = np.asarray(got)
        assert np.all(b > 0) and np.isclose(b.mean(), 1.0, atol=1e-4)
        # smooth: neighbouring pixels differ by a tiny fraction of the field's spread
        assert np.abs(np.diff(b, axis=0)).mean() < 0.05 * b.std() + 1e-6


@pytest.mark.parametrize("seed", [0, 1, 63])
def test_fields_longer_than_the_image_are_flat_not_nan(seed):
    """A correlation length far beyond the image passes only the mean: the field is zero and the
    bias field one (with these keys a one-ulp constant is left after the mean is removed)."""
    key, shape, scale = jax.random.key(seed), (69, 69), jnp.float32(96.0)
    np.testing.assert_array_equal(np.asarray(smooth_field(key, shape, scale)), 0.0)
    for strength in (0.05, -0.05, 5.0):
        np.testing.assert_array_equal(np.asarray(bias_field(key, shape, jnp.float32(strength), scale)), 1.0)


# --- per-image draws and the whole stage ------------------------------------------------------------


def test_optics_params_drawn_per_image_within_their_ranges():
    cfg = RANDOMISED_SMALL
    keys = jax.random.split(jax.random.key(6), 200)
    params = jax.vmap(lambda k: draw_optics_params(k, cfg))(keys)
    for f in dataclasses.fields(OpticsParams):
        lo, hi = getattr(cfg, f.name)
        values = np.asarray(getattr(params, f.name))
        assert values.min() >= lo - 1e-6 and values.max() <= hi + 1e-6, f.name
        if hi > lo:
            assert np.unique(values).size > 150, f"{f.name} not drawn per image"


def test_microscope_output_integer_in_range_deterministic_and_vmappable():
    cfg = RANDOMISED_SMALL
    sig = jnp.zeros((64, 64)).at[20:24, :].set(1.0).at[40, 40].set(3.0)
    params = draw_optics_params(jax.random.key(7), cfg)

    def run(key, s):
        return microscope(key, s, params, cfg)

    plain, jitted, mapped = _three_ways(run, jax.random.key(8), sig)
    out = np.asarray(plain)
    assert np.all(out == np.round(out)) and out.min() >= 0 and out.max() <= cfg.maxIntensity
    assert np.array_equal(out, np.asarray(jitted)) and np.array_equal(out, np.asarray(mapped))
    # the axon row is brighter than the dark background on average
    assert out[20:24].mean() > out[50:60].mean()
    negative = np.asarray(microscope(jax.random.key(8), sig, params, cfg.replace(negative_image=True)))
    assert np.array_equal(negative, cfg.maxIntensity - out)


def test_generate_with_randomised_preset():
    batch = jaxaxon.generate(jax.random.key(9), RANDOMISED_SMALL, 6)
    img = np.asarray(batch.image)
    assert np.all(np.isfinite(img)) and np.all(img == np.round(img))
    assert img.min() >= 0 and img.max() <= RANDOMISED_SMALL.maxIntensity
    for mask in (batch.axon_mask, batch.bouton_mask):
        assert np.asarray(mask).dtype == bool
    # dark background: the median pixel is far below the original's grey ~155
    assert np.median(img) < 120
    again = jaxaxon.generate(jax.random.key(9), RANDOMISED_SMALL, 6)
    assert np.array_equal(img, np.asarray(again.image))


# --- presets and the 'original' behaviour --------------------------------------------------------------


def test_original_preset_is_the_default_and_never_uses_optics(monkeypatch):
    assert GeneratorConfig.from_preset("original") == GeneratorConfig()
    assert GeneratorConfig.from_dict({"preset": "original"}) == GeneratorConfig()

    def forbidden(*args, **kwargs):
        raise AssertionError("the original noise model must not reach the optics stages")

    monkeypatch.setitem(IMAGING_MODELS, "microscope", ImagingModel("microscope", forbidden, forbidden, forbidden))
    # tracing is enough to see which stages are called (no compilation)
    key = jax.random.key(0)
    scene = jax.eval_shape(lambda k: draw_scene(k, SMALL), key)
    jax.eval_shape(lambda k, s: image_module._generate_one(k, s, SMALL), key, scene)
    assert image_module._brightness_scales(jax.random.key(0), SMALL) is None
    microscope_cfg = SMALL.replace(noise_model="microscope")
    with pytest.raises(AssertionError, match="optics"):  # the microscope model does reach them
        jax.eval_shape(lambda k, s: image_module._generate_one(k, s, microscope_cfg), key, scene)


def test_presets_from_json_with_overrides(tmp_path):
    path = tmp_path / "params.json"
    path.write_text('{"preset": "realistic", "photons": [10, 30], "width": 128, "height": 128}')
    cfg = GeneratorConfig.from_json(path)
    assert cfg.noise_model == "microscope" and cfg.photons == (10.0, 30.0) and cfg.shape == (128, 128)
    assert cfg.psf_sigma == tuple(float(x) for x in np.broadcast_to(PRESETS["realistic"]["psf_sigma"], 2))
    cfg.to_json(tmp_path / "saved.json")
    assert GeneratorConfig.from_json(tmp_path / "saved.json") == cfg


@pytest.mark.parametrize(
    "bad,key",
    [
        ({"photons": [5, 1]}, "photons"),
        ({"psf_sigma": -1}, "psf_sigma"),
        ({"gamma": [0, 1]}, "gamma"),
        ({"background": [0, 1, 2]}, "background"),
        ({"read_noise": "high"}, "read_noise"),
        ({"preset": "realistc"}, "preset"),
        ({"noise_model": "camera"}, "noise_model"),
        ({"psf_kernel": "/nonexistent/kernel.npy"}, "psf_kernel"),
    ],
)
def test_invalid_ranges_and_presets_name_the_key(bad, key):
    with pytest.raises(ConfigError, match=key):
        GeneratorConfig.from_dict(bad)


def test_user_psf_kernel_is_used(tmp_path):
    kernel = np.zeros((5, 5), np.float32)
    kernel[2, :] = 1.0  # a horizontal line PSF
    path = tmp_path / "psf.npy"
    np.save(path, kernel)
    cfg = RANDOMISED_SMALL.replace(psf_kernel=str(path))
    bad = tmp_path / "bad.npy"
    np.save(bad, np.ones((4, 4)))
    with pytest.raises(ConfigError, match="odd"):
        cfg.replace(psf_kernel=str(bad))
    params = dataclasses.replace(
        draw_optics_params(jax.random.key(1), cfg),
        photons=jnp.float32(1e5), background=jnp.float32(0.0), bias=jnp.float32(0.0), read_noise=jnp.float32(0.0),
        dark_counts=jnp.float32(0.0), gamma=jnp.float32(1.0), saturation=jnp.float32(1.0), offset=jnp.float32(0.0),
    )  # fmt: skip
    dot = jnp.zeros((64, 64)).at[30, 30].set(1.0)
    out = np.asarray(microscope(jax.random.key(2), dot, params, cfg))
    assert out[30, 28:33].min() > 0 and out[28, 30] == 0 and out[32, 30] == 0


def test_pooled_rescaling_gives_the_noise_of_an_averaged_image():
    """A grid twice as coarse with ``pooled`` has the relative noise of the fine image averaged over
    2x2 blocks (photons x4, read noise x2); without it, each coarse pixel is as noisy as a fine one."""
    fine = RANDOMISED_SMALL.replace(
        width=128, height=128, photons=(30.0, 30.0), dark_counts=(0.5, 0.5), gain=(2.0, 2.0), offset=(0.0, 0.0),
        read_noise=(2.0, 2.0), background=(0.0, 0.0), background_contrast=(0.0, 0.0), bias=(0.0, 0.0),
        gamma=(1.0, 1.0), maxIntensity=4095,
    )  # fmt: skip
    signal = jnp.full((128, 128), 0.25).at[:32, :32].set(1.0)  # the peak away from the flat quadrant measured

    def relative_noise(cfg: GeneratorConfig, block: int) -> float:
        out = np.asarray(microscope(jax.random.key(21), signal, draw_optics_params(jax.random.key(22), cfg), cfg))
        out = out[64:, 64:].reshape(64 // block, block, 64 // block, block).mean(axis=(1, 3))
        return float(out.std() / out.mean())

    averaged = relative_noise(fine, 2)
    assert relative_noise(fine.rescaled(0.5, pooled=True), 1) == pytest.approx(averaged, rel=0.1)
    assert relative_noise(fine.rescaled(0.5), 1) == pytest.approx(2 * averaged, rel=0.1)
