"""Not-a-knot interpolating cubic spline through a padded, variable number of points (docs/original.md, step 1).

The original uses MATLAB ``csapi`` with control point ``i`` at ``t_i = i / (n - 1)``. With
uniform knots the spline can be written in the index parameter ``u = t (n - 1)`` (spacing
1). Its second derivatives ``M`` satisfy ``M[i-1] + 4 M[i] + M[i+1] = 6 (y[i-1] - 2 y[i] +
y[i+1])`` at interior knots, and not-a-knot (continuous third derivative at knots 1 and
``n - 2``) means ``M[0] - 2 M[1] + M[2] = 0`` and the same at the other end. Eliminating
``M[0]`` and ``M[n-1]`` turns the first and last equations into ``6 M[1] = r[1]`` and
``6 M[n-2] = r[n-2]``, so the system is tridiagonal; rows past ``n - 2`` are identity
rows, so one static size serves every ``n``. ``n = 3`` gives the parabola and ``n = 2``
the line through the points, as ``csapi`` does.

The interior rows form the Toeplitz system ``tridiag(1, 4, 1)`` with the two edge values
known, which has a closed-form solution: with ``z = sqrt(3) - 2`` (the root of
``z^2 + 4 z + 1 = 0`` inside the unit circle), ``g[k] = z^|k| / (2 sqrt(3))`` inverts the
operator on an infinite line, so ``p = g * r`` (a convolution, truncated where ``|z|^k``
is below float32 resolution) satisfies every interior row, and the two homogeneous
solutions ``z^(k-1)`` and ``z^(n-2-k)`` fit the edge values (a 2x2 solve). Everything is
elementwise or a short fixed convolution: no sequential sweep (a Thomas sweep is two
chains of about ``n`` dependent steps), so a GPU evaluates a whole batch of splines in a
few fused kernels.
`solve_tridiagonal` (Thomas) stays as the general solver and the tests' cross-check.

The price: XLA fuses the solve differently for different batch shapes and contracts
multiply-adds into FMAs in some fusions and not others, so the same spline computed in
batches of different sizes (or on a different number of devices) can differ in the last
bits of float32 (about 2e-6 px); the Thomas sweeps happened to be bit-stable. Rasterised
images and masks are unaffected in the tests (`tests/test_parallel.py`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["not_a_knot_second_derivatives", "evaluate_spline", "resample_spline", "solve_tridiagonal"]


def solve_tridiagonal(lower: jax.Array, diag: jax.Array, upper: jax.Array, rhs: jax.Array) -> jax.Array:
    """Solves a diagonally dominant tridiagonal system by the Thomas algorithm.

    Same convention as `jax.lax.linalg.tridiagonal_solve`: row ``i`` reads
    ``lower[i] x[i-1] + diag[i] x[i] + upper[i] x[i+1] = rhs[i]`` (``lower[0]`` and
    ``upper[-1]`` are ignored).

    Args:
      lower, diag, upper: ``[K]`` the three diagonals.
      rhs: ``[K, D]`` right-hand sides.

    Returns:
      ``[K, D]`` the solution.
    """
    lower = jnp.asarray(lower).at[0].set(0.0)

    def forward(carry, row):
        c_prev, d_prev = carry
        a, b, c, d = row
        denom = b - a * c_prev
        c_new, d_new = c / denom, (d - a * d_prev) / denom
        return (c_new, d_new), (c_new, d_new)

    init = (jnp.zeros_like(diag[0]), jnp.zeros_like(rhs[0]))
    _, (c_star, d_star) = jax.lax.scan(forward, init, (lower, diag, upper, rhs), unroll=8)

    def backward(x_next, row):
        c, d = row
        x = d - c * x_next
        return x, x

    _, x = jax.lax.scan(backward, jnp.zeros_like(rhs[0]), (c_star, d_star), reverse=True, unroll=8)
    return x


def not_a_knot_second_derivatives(y: jax.Array, n: jax.Array) -> jax.Array:
    """Second derivatives (w.r.t. the point index) of the not-a-knot spline.

    Args:
      y: ``[N, D]`` values; only the first ``n`` rows are used (``N >= 2``).
      n: number of valid points, ``2 <= n <= N`` (int scalar, may be traced).

    Returns:
      ``[N, D]`` second derivatives at the knots (zero past ``n``).
    """
    big_n, _ = y.shape
    if big_n < 4:  # pad so that the interior system has at least 2 rows
        y = jnp.concatenate([y, jnp.repeat(y[-1:], 4 - big_n, axis=0)], 0)
    size = y.shape[0]
    rhs = 6.0 * (y[:-2] - 2.0 * y[1:-1] + y[2:])  # rows for knots 1..size-2
    inner = _interior_moments(rhs, n)  # M[1..size-2]
    m1 = inner[0]
    m2 = inner[1]
    first = jnp.where(n == 3, m1, 2.0 * m1 - m2)
    m_end = jnp.take(inner, jnp.clip(n - 3, 0, size - 3), axis=0)  # M[n-2]
    m_before = jnp.take(inner, jnp.clip(n - 4, 0, size - 3), axis=0)  # M[n-3]
    last = jnp.where(n == 3, m1, 2.0 * m_end - m_before)
    moments = jnp.concatenate([first[None], inner, jnp.zeros_like(first)[None]], 0)
    index = jnp.arange(size)[:, None]
    moments = jnp.where(index == n - 1, last, moments)
    moments = jnp.where((index >= n) | (n <= 2), 0.0, moments)
    return moments[:big_n]


_Z = math.sqrt(3.0) - 2.0  # decay of the inverse of tridiag(1, 4, 1): |z| = 0.268
_TAPS = 16  # |z|^16 = 1.4e-9: the truncated kernel is exact to float32 resolution


def _interior_moments(rhs: jax.Array, n: jax.Array) -> jax.Array:
    """Solves the not-a-knot moment system for ``M[1..size-2]`` in closed form.

    Rows ``k = 1 .. n - 2`` (``rhs[k - 1]``): ``6 M[1] = r[1]``, ``6 M[n-2] = r[n-2]`` and
    ``M[k-1] + 4 M[k] + M[k+1] = r[k]`` in between; later rows give zero.

    Args:
      rhs: ``[K, D]`` right-hand sides ``r[1..K]`` (``K = size - 2 >= 2``).
      n: number of valid points (traced int).

    Returns:
      ``[K, D]`` moments ``M[1..K]`` (zero for ``k > n - 2``).
    """
    size_k, _ = rhs.shape
    knot = jnp.arange(1, size_k + 1)[:, None]  # [K, 1]
    interior = (knot >= 2) & (knot <= n - 3)
    r_int = jnp.where(interior, rhs, 0.0)
    # particular solution: p = g * r_int, g[j] = z^|j| / (2 sqrt 3), |j| <= _TAPS
    taps = min(_TAPS, size_k)
    padded = jnp.pad(r_int, ((taps, taps), (0, 0)))
    weights = [_Z ** abs(j) / (2.0 * math.sqrt(3.0)) for j in range(-taps, taps + 1)]
    p = sum(w * padded[taps + j : taps + j + size_k] for w, j in zip(weights, range(-taps, taps + 1)))
    # homogeneous part A z^(k-1) + B z^(n-2-k) meets the edge values M[1] and M[n-2]
    last = jnp.clip(n - 3, 0, size_k - 1)  # row index of knot n - 2
    e_first = rhs[0] / 6.0 - p[0]
    e_last = jnp.take(rhs, last, axis=0) / 6.0 - jnp.take(p, last, axis=0)
    q = _signed_power(jnp.maximum(n - 3, 1))
    a = (e_first - q * e_last) / (1.0 - q * q)
    b = (e_last - q * e_first) / (1.0 - q * q)
    moments = p + a * _signed_power(knot - 1) + b * _signed_power(n - 2 - knot)
    moments = jnp.where(n == 3, jnp.where(knot == 1, rhs / 6.0, 0.0), moments)  # one edge row: 6 M[1] = r[1]
    return jnp.where((knot <= n - 2) & (n >= 3), moments, 0.0)


def _signed_power(m: jax.Array) -> jax.Array:
    """``z^m`` for integer ``m >= 0`` (0 for negative ``m``), float32."""
    m = jnp.asarray(m)
    magnitude = jnp.exp(m.astype(jnp.float32) * math.log(-_Z))
    sign = jnp.where(m % 2 == 0, 1.0, -1.0)
    return jnp.where(m >= 0, sign * magnitude, 0.0)


def evaluate_spline(y: jax.Array, moments: jax.Array, n: jax.Array, t: jax.Array) -> jax.Array:
    """Evaluates the spline at parameters ``t`` in [0, 1] (knot ``i`` at ``i / (n - 1)``).

    Args:
      y: ``[N, D]`` knot values.
      moments: ``[N, D]`` second derivatives from `not_a_knot_second_derivatives`.
      n: number of valid knots.
      t: ``[P]`` parameters.

    Returns:
      ``[P, D]`` spline values.
    """
    u = t * (n - 1).astype(t.dtype)
    seg = jnp.clip(jnp.floor(u).astype(jnp.int32), 0, n - 2)
    s = (u - seg)[:, None]
    y0, y1 = y[seg], y[seg + 1]
    m0, m1 = moments[seg], moments[seg + 1]
    return m0 * (1 - s) ** 3 / 6 + m1 * s**3 / 6 + (y0 - m0 / 6) * (1 - s) + (y1 - m1 / 6) * s


def resample_spline(control: jax.Array, n: jax.Array, n_samples: int) -> jax.Array:
    """The not-a-knot spline through ``control[:n]`` sampled at ``n_samples`` uniform t.

    Args:
      control: ``[N, D]`` control points (padded past ``n``).
      n: number of valid control points (``>= 2``).
      n_samples: static number of samples, at ``t = j / (n_samples - 1)``.

    Returns:
      ``[n_samples, D]`` float32 samples.
    """
    control = control.astype(jnp.float32)
    moments = not_a_knot_second_derivatives(control, n)
    t = jnp.linspace(0.0, 1.0, n_samples, dtype=jnp.float32)
    return evaluate_spline(control, moments, n, t)
