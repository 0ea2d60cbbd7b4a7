"""Optics and detection of a two-photon microscope: the ``microscope`` imaging model.

PSF blur, neuropil background, bias field, photon shot noise and a detector, every
parameter drawn per image from its range in the config (domain randomisation).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth import rng
from jaxaxon.synth.imaging.model import ImagingModel

__all__ = [
    "MODEL",
    "OpticsParams",
    "draw_params",
    "draw_optics_params",
    "apply",
    "to_output",
    "line_filter",
    "gaussian_psf",
    "fast_fft_size",
    "fft_convolve",
    "smooth_field",
    "bias_field",
    "poisson_counts",
    "EXACT_POISSON_MAX",
]

EXACT_POISSON_MAX = 16.0  # per-pixel means up to this are sampled exactly (inverse CDF)
_POISSON_TERMS = 48  # terms of the inverse-CDF search: P(X >= 48 | mean 16) < 1e-11


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class OpticsParams:
    """Imaging conditions of one image (scalars), drawn from the config's ranges."""

    psf_sigma: jax.Array
    psf_aspect: jax.Array
    psf_angle: jax.Array
    photons: jax.Array
    background: jax.Array
    background_contrast: jax.Array
    background_scale: jax.Array
    background_exponent: jax.Array
    bias: jax.Array
    bias_scale: jax.Array
    dark_counts: jax.Array
    gain: jax.Array
    offset: jax.Array
    read_noise: jax.Array
    line_correlation: jax.Array
    gamma: jax.Array
    saturation: jax.Array


# drawn from fold_in(key, 1 + i): the joint draw keeps its values
_SEPARATE = ("background_exponent", "line_correlation")


def draw_optics_params(key: jax.Array, cfg: GeneratorConfig) -> OpticsParams:
    """Draws every optics parameter uniformly from its ``(lo, hi)`` range: one joint draw of
    ``[n]`` uniforms, and one more per parameter of `_SEPARATE`."""
    names = [f.name for f in dataclasses.fields(OpticsParams) if f.name not in _SEPARATE]
    u = rng.uniform(key, (len(names),))
    values = {}
    for i, name in enumerate(names):
        lo, hi = getattr(cfg, name)
        values[name] = lo + u[i] * (hi - lo)
    for i, name in enumerate(_SEPARATE):
        lo, hi = getattr(cfg, name)
        values[name] = lo + rng.uniform(jax.random.fold_in(key, 1 + i)) * (hi - lo)
    return OpticsParams(**values)


def draw_params(key: jax.Array, cfg: GeneratorConfig) -> OpticsParams:
    """`draw_optics_params` on ``fold_in(key, 2)``: `generate` also draws the per-image
    brightness factors from ``fold_in(key, 1)`` of the same key, and the two stay apart."""
    return draw_optics_params(jax.random.fold_in(key, 2), cfg)


def psf_size(cfg: GeneratorConfig) -> int:
    """Static side of the Gaussian PSF kernel: covers 3 sigma of its widest axis."""
    widest = cfg.psf_sigma[1] * max(1.0, cfg.psf_aspect[1])
    return 2 * math.ceil(3 * widest) + 1


def gaussian_psf(sigma: jax.Array, aspect: jax.Array, angle_deg: jax.Array, size: int) -> jax.Array:
    """``[size, size]`` normalised Gaussian PSF: width ``sigma`` along its first axis and
    ``sigma * aspect`` along the second, rotated by ``angle_deg``."""
    half = (size - 1) / 2.0
    r, c = jnp.meshgrid(jnp.arange(size) - half, jnp.arange(size) - half, indexing="ij")
    theta = jnp.deg2rad(angle_deg)
    u = jnp.cos(theta) * r + jnp.sin(theta) * c
    v = -jnp.sin(theta) * r + jnp.cos(theta) * c
    s_u = jnp.maximum(sigma, 1e-3)
    s_v = jnp.maximum(sigma * aspect, 1e-3)
    k = jnp.exp(-0.5 * ((u / s_u) ** 2 + (v / s_v) ** 2))
    return k / jnp.sum(k)


def fast_fft_size(n: int) -> int:
    """The smallest ``m >= n`` with no prime factor above 7 (FFT libraries fall back to much
    slower algorithms, e.g. Bluestein's, for lengths with large prime factors)."""
    m = n
    while True:
        rest = m
        for p in (2, 3, 5, 7):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return m
        m += 1


def fft_convolve(image: jax.Array, kernel: jax.Array) -> jax.Array:
    """Linear ``'same'`` convolution of ``[H, W]`` with an odd-sized ``[k, k']`` kernel (zero
    padding outside the image), computed by FFT (zero-padded to at least ``H + k - 1`` per
    axis, rounded up to a `fast_fft_size`)."""
    height, width = image.shape
    kh, kw = kernel.shape
    shape = (fast_fft_size(height + kh - 1), fast_fft_size(width + kw - 1))
    spectrum = jnp.fft.rfft2(image, shape) * jnp.fft.rfft2(kernel, shape)
    full = jnp.fft.irfft2(spectrum, shape)
    return full[kh // 2 : kh // 2 + height, kw // 2 : kw // 2 + width]


def smooth_field(
    key: jax.Array, shape: tuple[int, int], scale: jax.Array, exponent: jax.Array | None = None
) -> jax.Array:
    """``shape`` random field, zero mean and unit standard deviation: white noise low-passed in the
    Fourier domain.

    With ``exponent`` None or 0, a Gaussian field of correlation length ``scale`` pixels (transfer
    ``exp(-2 pi^2 scale^2 f^2)``; all zeros when ``scale`` is so long that nothing but the mean
    passes the filter). With ``exponent > 0``, a Matern field: transfer
    ``(1 + (2 pi scale f)^2)^(-exponent / 4)``, so its power spectrum is flat below
    ``f = 1 / (2 pi scale)`` and falls as ``f^-exponent`` above (texture at every scale, as in neuropil).
    """
    height, width = shape
    white = rng.normal(key, shape)
    fr = jnp.fft.fftfreq(height)[:, None]
    fc = jnp.fft.rfftfreq(width)[None, :]
    f2 = fr**2 + fc**2
    transfer = jnp.exp(-2.0 * (jnp.pi * scale) ** 2 * f2)
    if exponent is not None:
        matern = (1.0 + (2.0 * jnp.pi * scale) ** 2 * f2) ** (-exponent / 4.0)
        transfer = jnp.where(exponent > 0, matern, transfer)
    field = jnp.fft.irfft2(jnp.fft.rfft2(white) * transfer, shape)
    field = field - jnp.mean(field)
    # a constant field can keep a one-ulp offset from its mean with a zero std: dividing
    # it by a tiny floor would overflow exp() in bias_field (inf / inf = NaN)
    std = jnp.std(field)
    return jnp.where(std > 1e-12, field / jnp.maximum(std, 1e-12), 0.0)


def bias_field(key: jax.Array, shape: tuple[int, int], strength: jax.Array, scale: jax.Array) -> jax.Array:
    """Smooth positive multiplicative field ``exp(strength * field)`` normalised to mean 1."""
    field = jnp.exp(strength * smooth_field(key, shape, scale))
    return field / jnp.mean(field)


def poisson_counts(key: jax.Array, mean: jax.Array) -> jax.Array:
    """Poisson counts with a per-pixel mean.

    Exact for means up to `EXACT_POISSON_MAX` (inverse CDF: the count of cumulative
    probabilities a uniform draw reaches, via the pmf recurrence); above it a normal draw
    ``round(m + sqrt(m) z)`` (mean and variance ``m``; only its skewness ``m^-1/2`` differs).
    """
    k_u, k_z = jax.random.split(key)
    u = rng.uniform(k_u, mean.shape)
    small = jnp.minimum(mean, EXACT_POISSON_MAX)

    # unrolled: one elementwise chain that XLA fuses into a single pass over the image (a
    # loop over the terms would read and write three full-image arrays per term)
    pmf = cdf = jnp.exp(-small)
    exact = jnp.zeros_like(mean)
    for k in range(_POISSON_TERMS):
        exact = exact + (u >= cdf).astype(jnp.float32)
        pmf = pmf * small / (k + 1.0)
        cdf = cdf + pmf
    z = rng.normal(k_z, mean.shape)
    approx = jnp.maximum(jnp.round(mean + jnp.sqrt(mean) * z), 0.0)
    return jnp.where(mean <= EXACT_POISSON_MAX, exact, approx)


@functools.lru_cache(maxsize=8)
def line_filter_size(cfg: GeneratorConfig) -> int:
    """Static half-width of the line filter: 5 correlation lengths at the range's upper bound."""
    return math.ceil(5 * cfg.line_correlation[1])


def line_filter(image: jax.Array, length: jax.Array, half_width: int) -> jax.Array:
    """Filters every row of ``image`` ``[H, W]`` with the normalised two-sided exponential
    ``exp(-|dx| / length)``, ``|dx| <= half_width`` (rows mirrored at the borders): the signal
    of a detector whose bandwidth correlates neighbouring pixels along the fast scan axis
    (zero phase: structures stay where they are). ``length`` 0 returns the image."""
    dx = jnp.arange(-half_width, half_width + 1, dtype=jnp.float32)
    taps = jnp.exp(-jnp.abs(dx) / jnp.maximum(length, 1e-3))
    taps = taps / jnp.sum(taps)
    padded = jnp.pad(image, ((0, 0), (half_width, half_width)), mode="reflect")
    out = jax.lax.conv_general_dilated(
        padded[None, None], taps[None, None, None, :], window_strides=(1, 1), padding="VALID"
    )
    return out[0, 0]


def _user_kernel(path: str) -> np.ndarray:
    kernel = np.load(path).astype(np.float32)
    return kernel / kernel.sum()


def apply(
    key: jax.Array, signal: jax.Array, params: OpticsParams, cfg: GeneratorConfig, peak: jax.Array | None = None
) -> jax.Array:
    """Images a clean signal through the optics and detector:

    1. point-spread function: a normalised Gaussian with its own widths along rows and
       columns, rotated by an angle, or a user-supplied kernel; linear convolution by FFT
       (zero padding), so the total signal is preserved away from the borders;
    2. a smooth neuropil-like background (filtered noise, positive: a Gaussian field or, with
       ``background_exponent > 0``, a power-law Matern texture) added to the signal, and a
       smooth positive multiplicative bias field;
    3. photon shot noise: Poisson counts with mean ``photons * signal + dark_counts``
       (``photons`` = expected photons at the signal level ``peak``);
    4. a photomultiplier-style detector: ``gain * counts + offset + read_noise * N(0, 1)``,
       filtered along the rows by `line_filter` when ``line_correlation`` is set;
    5. dark-background output scaling ``(V - offset) / (gain * saturation * peak mean count)``
       clipped to [0, 1] (``saturation < 1`` saturates the brightest structures) and an
       intensity non-linearity ``x ** gamma`` (`to_output` quantises the result).

    Args:
      key: PRNG key.
      signal: ``[H, W]`` non-negative clean signal (any scale; divided by ``peak`` here).
      params: this image's `OpticsParams`.
      cfg: generator parameters (static).
      peak: the signal level with ``photons`` expected photons; None for the image's maximum.

    Returns:
      ``[H, W]`` float32 intensities in ``[0, 1]`` (`to_output` quantises them).
    """
    k_background, k_bias, k_photons, k_read = jax.random.split(key, 4)
    shape = signal.shape
    peak = jnp.max(signal) if peak is None else peak
    s = jnp.maximum(signal, 0.0) / jnp.where(peak > 0, peak, 1.0)
    if cfg.psf_kernel:
        kernel = jnp.asarray(_user_kernel(cfg.psf_kernel))
    else:
        kernel = gaussian_psf(params.psf_sigma, params.psf_aspect, params.psf_angle, psf_size(cfg))
    s = fft_convolve(s, kernel)
    exponent = params.background_exponent if cfg.background_exponent[1] > 0 else None
    texture = smooth_field(k_background, shape, params.background_scale, exponent)
    neuropil = params.background * jnp.maximum(1.0 + params.background_contrast * texture, 0.0)
    s = (jnp.maximum(s, 0.0) + neuropil) * bias_field(k_bias, shape, params.bias, params.bias_scale)
    mean_counts = params.photons * s + params.dark_counts
    counts = poisson_counts(k_photons, mean_counts)
    volts = params.gain * counts + params.offset + params.read_noise * rng.normal(k_read, shape)
    if cfg.line_correlation[1] > 0:
        volts = line_filter(volts, params.line_correlation, line_filter_size(cfg))
    scale = params.gain * params.saturation * jnp.max(mean_counts)
    return jnp.clip((volts - params.offset) / jnp.where(scale > 0, scale, 1.0), 0.0, 1.0) ** params.gamma


def to_output(image: jax.Array, cfg: GeneratorConfig) -> jax.Array:
    """``[H, W]`` intensities in ``[0, 1]`` quantised to ``0..maxIntensity`` (inverted when
    ``negative_image``)."""
    out = jnp.floor(image * cfg.maxIntensity)
    return cfg.maxIntensity - out if cfg.negative_image else out


MODEL = ImagingModel(name="microscope", draw_params=draw_params, apply=apply, to_output=to_output)
