"""The original's acquisition noise (docs/original.md, step 6): the ``original`` imaging model.

The signal is scaled to ``0..255`` and blurred by a 2x2 box; a blurred Poisson background
and white noise are added, and the result is rescaled to ``0..maxIntensity`` (docs/original.md, step 6).
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
from jaxaxon.synth.draws import uniform_int
from jaxaxon.synth.imaging.model import ImagingModel
from jaxaxon.synth.imaging.output import rescale_floor, to_output

__all__ = [
    "MODEL",
    "NoiseParams",
    "draw_params",
    "apply",
    "to_output",
    "poisson_table",
    "poisson_field",
    "replicate_filter_matrix",
    "box2x2",
    "gauss50",
]

POISSON_BLUR_SIZE = 50
POISSON_BLUR_SIGMA = 6.0
POISSON_BLUR_CENTRE = 24  # the kernel covers r - 24 .. r + 25
POISSON_GAIN = 25.0


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class NoiseParams:
    """Acquisition noise of one image (scalars).

    Attributes:
      sigma: white-noise standard deviation.
      lam: int32 Poisson background rate, in ``lambdaMin..lambdaMax``.
    """

    sigma: jax.Array
    lam: jax.Array


def draw_params(key: jax.Array, cfg: GeneratorConfig) -> NoiseParams:
    """``sigma ~ U{round(1e5 min)..round(1e5 max)} / 1e5`` and ``lambda ~ U{lambdaMin..lambdaMax}``."""
    u = rng.uniform(key, (2,))
    lo, hi = round(1e5 * cfg.sigma_noise_min), round(1e5 * cfg.sigma_noise_max)
    sigma = uniform_int(u[0], lo, hi).astype(jnp.float32) / 1e5
    lam = uniform_int(u[1], cfg.lambdaMin, cfg.lambdaMax)
    return NoiseParams(sigma=sigma, lam=lam)


@functools.lru_cache(maxsize=64)
def poisson_table(lambda_min: int, lambda_max: int) -> np.ndarray:
    """``[n_rates, K]`` uint32 thresholds ``T[l, k] = floor(2^32 * P(X <= k))`` for
    ``X ~ Poisson(lambda_min + l)``, saturated at ``2^32 - 1`` past the reachable tail."""
    rates = np.arange(lambda_min, lambda_max + 1, dtype=np.float64)
    k_max = int(math.ceil(lambda_max + 12 * math.sqrt(max(lambda_max, 1)) + 30))
    k = np.arange(k_max + 1, dtype=np.float64)
    from scipy.special import gammaln  # local import: only needed when a table is built

    log_pmf = k[None, :] * np.log(np.maximum(rates[:, None], 1e-300)) - rates[:, None] - gammaln(k + 1)[None, :]
    pmf = np.where(rates[:, None] > 0, np.exp(log_pmf), (k[None, :] == 0).astype(np.float64))
    cdf = np.cumsum(pmf, axis=1)
    thresholds = np.minimum(np.floor(cdf * 2.0**32), 2.0**32 - 1)
    reachable = int(np.max(np.sum(thresholds < 2.0**32 - 1, axis=1))) + 1
    return thresholds[:, :reachable].astype(np.uint32)


def poisson_field(key: jax.Array, lam: jax.Array, shape: tuple[int, int], cfg: GeneratorConfig) -> jax.Array:
    """``shape`` field of independent ``Poisson(lam)`` draws (float32), ``lam`` an integer in
    ``lambdaMin..lambdaMax`` (may be traced).

    Inverse-CDF sampling against `poisson_table` (computed once per config in float64,
    stored as 32-bit thresholds): a uniform 32-bit draw ``u`` gives ``X = #{k : u >= T_k}``,
    the exact Poisson law up to the 2^-32 resolution of the draw."""
    table = jnp.asarray(poisson_table(cfg.lambdaMin, cfg.lambdaMax))
    thresholds = table[lam - cfg.lambdaMin]  # [K]
    u = rng.bits(key, shape)
    # X = #{k : u >= T_k} (= searchsorted(T, u, side="right")) as K fused compare-and-adds:
    # one pass over the field with no gathers (a binary search gathers from the table per step)
    count = jnp.zeros(shape, jnp.int32)
    for k in range(thresholds.shape[0]):
        count = count + (u >= thresholds[k]).astype(jnp.int32)
    return count.astype(jnp.float32)


@functools.lru_cache(maxsize=64)
def replicate_filter_matrix(size: int, taps: tuple[float, ...], centre: int) -> np.ndarray:
    """``[size, size]`` matrix ``F`` with ``(F @ x)[r] = sum_k taps[k] * x[clip(r + k - centre)]``
    (MATLAB ``imfilter`` correlation with 'replicate' borders along one axis)."""
    out = np.zeros((size, size), np.float64)
    rows = np.arange(size)
    for k, w in enumerate(taps):
        cols = np.clip(rows + k - centre, 0, size - 1)
        np.add.at(out, (rows, cols), w)
    return out.astype(np.float32)


def _gauss_taps(size: int, sigma: float) -> tuple[float, ...]:
    x = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2 * sigma**2))
    return tuple((g / g.sum()).tolist())


def gauss50(field: jax.Array) -> jax.Array:
    """``[..., H, W]`` the original's normalised 50x50 sigma-6 Gaussian, replicate borders.

    The Gaussian is separable; with the replicate borders folded into the taps each axis is
    a fixed ``[H, H]`` or ``[W, W]`` matrix, so the blur is two small matrix products."""
    height, width = field.shape[-2:]
    taps = _gauss_taps(POISSON_BLUR_SIZE, POISSON_BLUR_SIGMA)
    rows = jnp.asarray(replicate_filter_matrix(height, taps, POISSON_BLUR_CENTRE))
    cols = jnp.asarray(replicate_filter_matrix(width, taps, POISSON_BLUR_CENTRE))
    return rows @ field @ cols.T


def box2x2(image: jax.Array) -> jax.Array:
    """``[..., H, W]`` 2x2 mean ``out[r, c] = mean(in[r..r+1, c..c+1])``, replicate borders."""
    down = jnp.concatenate([image[..., 1:, :], image[..., -1:, :]], axis=-2)
    pair = image + down
    right = jnp.concatenate([pair[..., :, 1:], pair[..., :, -1:]], axis=-1)
    return (pair + right) / 4.0


def apply(
    key: jax.Array, signal: jax.Array, params: NoiseParams, cfg: GeneratorConfig, peak: jax.Array | None = None
) -> jax.Array:
    """The original's noise (docs/original.md, step 6): ``P = floor(P * 255 / peak)``, then
    ``box2x2(P) + 25 * gauss50(Poisson(lambda)) + sigma * N(0, 1)``, negatives to 0, and
    ``floor(P * 255 / max P)``.

    Args:
      key: PRNG key.
      signal: ``[H, W]`` noise-free image (axons, boutons, cells).
      params: this image's `NoiseParams`.
      cfg: generator parameters (static).
      peak: the signal level scaled to 255; None for the image's maximum (the original's
        getPatch, whose maximum maps to 255 exactly); a series' maximum over all frames
        otherwise (the original's getSeries: the plain floor).

    Returns:
      ``[H, W]`` float32 integer-valued image in 0..255.
    """
    k_poisson, k_white = jax.random.split(key)
    if peak is None:
        image = rescale_floor(signal, 255.0)
    else:
        image = jnp.floor(signal * 255.0 / jnp.where(peak > 0, peak, 1.0))
    background = POISSON_GAIN * gauss50(poisson_field(k_poisson, params.lam, signal.shape, cfg))
    image = box2x2(image) + background + params.sigma * rng.normal(k_white, signal.shape)
    return rescale_floor(jnp.maximum(image, 0.0), 255.0)


MODEL = ImagingModel(name="original", draw_params=draw_params, apply=apply, to_output=to_output)
