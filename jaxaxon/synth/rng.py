"""Random draws equal bit for bit to `jax.random`'s, written as plain array arithmetic.

JAX's threefry draws (the default generator, with ``jax_threefry_partitionable`` on, JAX's
default) hash each element's position in the array: element ``i`` of a draw is
``threefry2x32(key, (0, i))``. On CPU, JAX lowers the hash as a loop over its five round
blocks, which writes the whole array of random words to memory and reads it back once per
block and keeps XLA from fusing the draw into the code that uses it. The same hash written
out here as 32-bit integer arithmetic (`threefry2x32`) gives the same words, fuses into its
consumer (a per-pixel draw costs no full-image temporaries), and lets a stage draw some rows
of a block without the rest (`uniform_rows`).

Keys of another generator, or the non-partitionable threefry mode, go through `jax.random`
itself, so the draws are always `jax.random`'s. Like `jax.random`'s, the functions are jitted
(inlined into a caller's program): called eagerly they still round as they do compiled.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["counter_draws_available", "threefry2x32", "bits", "uniform", "normal", "uniform_rows"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def counter_draws_available(key: jax.Array) -> bool:
    """Whether this module computes the draws for ``key`` itself: a threefry key (typed, or a
    legacy ``uint32[2]`` one) and ``jax_threefry_partitionable`` on (otherwise the functions
    call `jax.random`). Shapes are static tuples (or ints) in every function here."""
    try:
        impl = str(jax.random.key_impl(key))
    except (TypeError, ValueError):
        return False
    return "threefry2x32" in impl and bool(jax.config.jax_threefry_partitionable)


def _rotate_left(v: jax.Array, r: int) -> jax.Array:
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def threefry2x32(key1: jax.Array, key2: jax.Array, x1: jax.Array, x2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 hash (20 rounds) of the counter words ``(x1, x2)`` under the key
    ``(key1, key2)``, as JAX computes it (`jax.extend.random.threefry2x32_p`).

    Args:
      key1, key2: uint32 key words (scalars or broadcastable to the counters).
      x1, x2: uint32 counter words, same shape.

    Returns:
      The two uint32 output words, shaped like the counters.
    """
    ks = (key1, key2, key1 ^ key2 ^ _PARITY)
    x = [x1 + ks[0], x2 + ks[1]]
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x[0] = x[0] + x[1]
            x[1] = x[0] ^ _rotate_left(x[1], r)
        x[0] = x[0] + ks[(block + 1) % 3]
        x[1] = x[1] + ks[(block + 2) % 3] + np.uint32(block + 1)
    return x[0], x[1]


def _counter_bits(key: jax.Array, counter: jax.Array) -> jax.Array:
    """32 random bits per element of a uint32 ``counter`` (positions below 2**32)."""
    words = jax.random.key_data(key)
    hi, lo = threefry2x32(words[0], words[1], jnp.zeros_like(counter), counter)
    return hi ^ lo


def _shape(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in ((shape,) if isinstance(shape, int) else shape))


def _counted_here(key: jax.Array, shape: tuple[int, ...]) -> bool:
    """Whether the draw of ``shape`` for ``key`` is computed here (else by `jax.random`):
    counter draws available and every position an int32 (``row * cols + col`` stays exact)."""
    return counter_draws_available(key) and math.prod(shape) < 2**31


@functools.partial(jax.jit, static_argnames=("shape",), inline=True)
def bits(key: jax.Array, shape=()) -> jax.Array:
    """``jax.random.bits(key, shape, jnp.uint32)``: uint32 array of random bits."""
    shape = _shape(shape)
    if not _counted_here(key, shape):
        return jax.random.bits(key, shape, jnp.uint32)
    counter = jax.lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
    return _counter_bits(key, counter)


def _unit_floats(words: jax.Array) -> jax.Array:
    """Floats in [0, 1) from random words: 23 random mantissa bits under exponent 0."""
    mantissa = jax.lax.shift_right_logical(words, np.uint32(9)) | np.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - np.float32(1.0)


@functools.partial(jax.jit, static_argnames=("shape",), inline=True)
def uniform(key: jax.Array, shape=(), minval: jax.Array | float = 0.0, maxval: jax.Array | float = 1.0) -> jax.Array:
    """``jax.random.uniform(key, shape, jnp.float32, minval, maxval)``: float32 in [minval, maxval)."""
    shape = _shape(shape)
    if not _counted_here(key, shape):
        return jax.random.uniform(key, shape, jnp.float32, minval, maxval)
    lo = jnp.asarray(minval, jnp.float32)
    hi = jnp.asarray(maxval, jnp.float32)
    return jnp.maximum(lo, _unit_floats(bits(key, shape)) * (hi - lo) + lo)


@functools.partial(jax.jit, static_argnames=("shape",), inline=True)
def normal(key: jax.Array, shape=()) -> jax.Array:
    """``jax.random.normal(key, shape)``: float32 standard normal draws (inverse error function
    of a uniform in (-1, 1))."""
    shape = _shape(shape)
    if not _counted_here(key, shape):
        return jax.random.normal(key, shape)
    lo = np.nextafter(np.float32(-1.0), np.float32(0.0), dtype=np.float32)
    u = uniform(key, shape, lo, np.float32(1.0))
    return np.float32(np.sqrt(2)) * jax.lax.erf_inv(u)


@functools.partial(jax.jit, static_argnames=("shape", "count"), inline=True)
def uniform_rows(key: jax.Array, shape: tuple[int, int], first: jax.Array | int, count: int) -> jax.Array:
    """Rows ``first .. first + count - 1`` of ``uniform(key, shape)``, computing only those
    rows' bits (rows past ``shape[0]`` are zeros).

    Args:
      key: a typed PRNG key (one key; `vmap` for batches).
      shape: static ``(rows, cols)`` of the whole block.
      first: first row (int or traced int32 scalar).
      count: static number of rows.

    Returns:
      ``[count, cols]`` float32 uniforms in [0, 1).
    """
    n_rows, n_cols = shape
    row = jnp.asarray(first, jnp.int32) + jnp.arange(count, dtype=jnp.int32)
    if not _counted_here(key, shape):  # the whole block, then the rows (a zero row past its end)
        block = jnp.pad(jax.random.uniform(key, shape), ((0, 1), (0, 0)))
        return block[jnp.minimum(row, n_rows)]
    counter = (row[:, None] * n_cols + jnp.arange(n_cols, dtype=jnp.int32)).astype(jnp.uint32)
    return jnp.where((row < n_rows)[:, None], _unit_floats(_counter_bits(key, counter)), 0.0)
