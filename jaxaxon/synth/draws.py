"""Helpers that turn one block of uniform draws into the values a stage needs.

Every separate `jax.random` call is a separate threefry computation in the compiled
program, each adding to the compile time, so stages draw one block of uniforms with a
single call and derive integers, signs and ranges from it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["uniform_int", "uniform_range"]


def uniform_int(u: jax.Array, lo: jax.Array | int, hi: jax.Array | int) -> jax.Array:
    """Integers uniform in ``lo..hi`` (inclusive) from uniforms ``u`` in [0, 1).

    Args:
      u: uniforms in [0, 1).
      lo: smallest value.
      hi: largest value (``>= lo``).

    Returns:
      int32 array shaped like ``u``.
    """
    lo = jnp.asarray(lo, jnp.float32)
    hi = jnp.asarray(hi, jnp.float32)
    return jnp.clip(jnp.floor(lo + u * (hi - lo + 1.0)), lo, hi).astype(jnp.int32)


def uniform_range(u: jax.Array, lo: jax.Array | float, hi: jax.Array | float) -> jax.Array:
    """Reals uniform in ``[lo, hi)`` from uniforms ``u`` in [0, 1)."""
    return lo + u * (hi - lo)
