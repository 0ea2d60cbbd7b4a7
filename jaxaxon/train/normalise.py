"""Input normalisation shared by training, evaluation and prediction.

Real two-photon images differ from generated ones in brightness, offset and dtype (uint8,
uint16, float), so every image reaches the network through the same per-image scaling:

- ``"percentile"`` (default): ``(x - p_low) / (p_high - p_low)`` clipped to 0..1, with the
  image's own percentiles (default 1 and 99.5): robust to a few saturated pixels and to
  the background level.
- ``"zscore"``: ``(x - mean) / std`` of the image (not clipped).

The method and its percentiles are stored in a run's ``config.json`` (key ``normalise``)
and `jaxaxon.train.predict` applies them, so evaluation and prediction always see what
training saw.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp

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

    method: str = "percentile"
    low: float = 1.0
    high: float = 99.5

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"normalise.method: unknown value {self.method!r} (choose one of {', '.join(METHODS)})")
        for key in ("low", "high"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise ValueError(f"normalise.{key}: expected a percentile in 0..100, got {value!r}")
        if not self.low < self.high:
            raise ValueError(f"normalise: low percentile {self.low!r} must be below high {self.high!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> "Normalisation":
        if isinstance(data, str):
            return cls(method=data)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"normalise: unknown key(s) {sorted(unknown)}")
        return cls(**data)


def normalise(images: jax.Array, method: str | Normalisation = "percentile") -> jax.Array:
    """Scales each image on its own.

    Works on any numeric dtype (uint8, uint16, float...), eagerly, under ``jax.jit`` and
    under ``jax.vmap``. A constant image maps to zeros.

    Args:
      images: ``[B, H, W]`` (or ``[H, W]``) images.
      method: ``"percentile"``, ``"zscore"`` or a `Normalisation`.

    Returns:
      float32 array of the input's shape.
    """
    norm = method if isinstance(method, Normalisation) else Normalisation(method=method)
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
