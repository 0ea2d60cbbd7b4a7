"""Input normalisation shared by training, evaluation and prediction.

Real two-photon images differ from generated ones in brightness, offset and dtype (uint8,
uint16, float), so every image reaches the network through the same per-image scaling:

- ``"percentile"`` (default): ``(x - p_low) / (p_high - p_low)`` clipped to 0..1, with the
  image's own percentiles (default 1 and 99.5): robust to a few saturated pixels and to
  the background level.
- ``"zscore"``: ``(x - mean) / std`` of the image (not clipped).

Both are invariant to scaling an image by a power of two. NumPy inputs are converted to float32
on the host by `jaxaxon.data.images.to_float32`, which uses that freedom: an image whose
magnitude would overflow float32 or its statistics (a float64 file with values near 1e300)
is scaled into range first, so the result is finite; NaN or infinite pixels are an error.
JAX arrays (generated images, traced values) are used as they are.

The method and its percentiles are stored in a run's ``config.json`` (key ``normalise``)
and `jaxaxon.train.predict` applies them, so evaluation and prediction always see what
training saw.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.data.images import to_float32
from jaxaxon.validation import check_keys, param, validate

__all__ = ["Normalisation", "normalise", "METHODS"]

METHODS = ("percentile", "zscore")
_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class Normalisation:
    """How images are scaled before the network.

    Attributes:
      method: ``"percentile"`` or ``"zscore"``.
      low: lower percentile (percentile method), in 0..100.
      high: upper percentile (percentile method), in 0..100, above ``low``.
    """

    method: str = param("percentile", choices=METHODS)
    low: float = param(1.0, percent=True, what="a percentile")
    high: float = param(99.5, percent=True, what="a percentile")

    def __post_init__(self) -> None:
        validate(self, ValueError, prefix="normalise.", rules=(_low_below_high,))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> "Normalisation":
        if isinstance(data, str):
            return cls(method=data)
        check_keys(data, cls, ValueError, prefix="normalise.")
        return cls(**data)


def _low_below_high(n: Normalisation) -> str | None:
    if not n.low < n.high:
        return f"low: the low percentile {n.low!r} must be below the high one {n.high!r}"
    return None


def normalise(images: jax.Array, method: str | Normalisation = "percentile") -> jax.Array:
    """Scales each image on its own.

    Works on any numeric dtype (uint8, uint16, float...), eagerly, under ``jax.jit`` and
    under ``jax.vmap``. A constant image maps to zeros. A NumPy array is converted per image by
    `jaxaxon.data.images.to_float32` (see the module notes).

    Args:
      images: ``[B, H, W]`` (or ``[H, W]``) images.
      method: ``"percentile"``, ``"zscore"`` or a `Normalisation`.

    Returns:
      float32 array of the input's shape.

    Raises:
      ImageDataError: a NumPy image holds NaN or infinite values.
    """
    norm = method if isinstance(method, Normalisation) else Normalisation(method=method)
    if isinstance(images, np.ndarray) and images.ndim in (2, 3) and images.dtype.kind in "uif":
        flat = images.reshape((-1,) + images.shape[-2:])
        images = np.stack([to_float32(im, f"image {i}")[0] for i, im in enumerate(flat)]).reshape(images.shape)
    x = jnp.asarray(images)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"normalise: expected images [B, H, W] or [H, W], got shape {tuple(x.shape)}")
    x = x.astype(jnp.float32)
    flat = x.reshape(x.shape[0], -1)
    if norm.method == "percentile":
        lo, hi = jnp.percentile(flat, jnp.array([norm.low, norm.high], jnp.float32), axis=1)
        scale = jnp.maximum(hi - lo, _EPS)
        out = jnp.clip((x - lo[:, None, None]) / scale[:, None, None], 0.0, 1.0)
    else:
        mean = flat.mean(axis=1)
        std = jnp.maximum(flat.std(axis=1), _EPS)
        out = (x - mean[:, None, None]) / std[:, None, None]
    return out[0] if single else out
