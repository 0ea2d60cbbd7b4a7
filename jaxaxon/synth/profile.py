"""Intensity along a branch ("variations", docs/original.md, step 3): constant/linear/cosine profiles and gaps.

Values are fractions (the parameter file's percentages divided by 100).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxaxon.synth import rng
from jaxaxon.synth.draws import uniform_int, uniform_range

__all__ = ["start_intensity", "branch_profile", "profile_from_uniform", "apply_gap", "gap_from_uniform", "PROFILE_DRAWS", "GAP_DRAWS"]

PROFILE_DRAWS = 7  # uniforms used by one profile
GAP_DRAWS = 2  # uniforms used by one gap


def start_intensity(u: jax.Array, min_pct: float, max_pct: float) -> jax.Array:
    """Mother-branch start value ``U(Min + 0.01, Max - 0.01)`` (fractions) from uniforms ``u``."""
    return uniform_range(u, min_pct / 100.0 + 0.01, max_pct / 100.0 - 0.01)


def branch_profile(
    key: jax.Array,
    start: jax.Array,
    *,
    profile: str,
    n_points: int,
    min_pct: float,
    max_pct: float,
    min_period: float,
    max_period: float,
    fixed: bool,
) -> jax.Array:
    """Intensity profile of one branch (before its gap).

    Args:
      key: PRNG key.
      start: start value (fraction, scalar).
      profile: ``"constant"``, ``"linear"`` or ``"cosine"`` (static).
      n_points: static number of centreline points.
      min_pct: MinAxonIntensity (percent).
      max_pct: MaxAxonIntensity (percent).
      min_period: MinPeriod.
      max_period: MaxPeriod.
      fixed: True corrects bugs B4 (linear only rises) and B5 (cosine starts at its
        minimum); False reproduces them.

    Returns:
      ``[n_points]`` float32 values.
    """
    u = rng.uniform(key, (PROFILE_DRAWS,))
    return profile_from_uniform(
        u, start, profile=profile, n_points=n_points, min_pct=min_pct, max_pct=max_pct,
        min_period=min_period, max_period=max_period, fixed=fixed,
    )  # fmt: skip


def profile_from_uniform(
    u: jax.Array,
    start: jax.Array,
    *,
    profile: str,
    n_points: int,
    min_pct: float,
    max_pct: float,
    min_period: float,
    max_period: float,
    fixed: bool,
) -> jax.Array:
    """`branch_profile` from uniforms ``u [PROFILE_DRAWS]`` (up, down, direction,
    periods, two redraws, phase sign)."""
    vmin, vmax = min_pct / 100.0, max_pct / 100.0
    s = jnp.linspace(0.0, 1.0, n_points, dtype=jnp.float32)
    up = start + (vmax - jnp.minimum(start, vmax - 0.01)) * u[0]
    down = start - (jnp.maximum(start, vmin + 0.01) - vmin) * u[1]
    if profile == "constant":
        return jnp.broadcast_to(start, (n_points,)).astype(jnp.float32)
    if profile == "linear":
        end = up
        if fixed:  # B4 corrected: up or down with probability 1/2
            end = jnp.where(u[2] < 0.5, up, down)
        return start + (end - start) * s
    if profile == "cosine":
        periods = uniform_range(u[3], min_period, max_period)
        hi, lo = up, down
        redraw = uniform_range(u[4:6], vmin + 0.01, vmax - 0.01)
        bad = lo >= hi
        hi = jnp.where(bad, jnp.max(redraw), hi)
        lo = jnp.where(bad, jnp.min(redraw), lo)
        mid, amp = (hi + lo) / 2, (hi - lo) / 2
        if fixed:  # B5 corrected: the phase that starts the profile at `start`
            cos_phase = jnp.clip((start - mid) / jnp.maximum(amp, 1e-12), -1.0, 1.0)
            sign = jnp.where(u[6] < 0.5, 1.0, -1.0)
            phase = sign * jnp.arccos(cos_phase)
        else:  # quirk of the original: the phase is always pi (start at the minimum)
            phase = jnp.pi
        return mid + amp * jnp.cos(2 * jnp.pi * periods * s - phase)
    raise ValueError(f"unknown profile {profile!r}")


def apply_gap(key: jax.Array, values: jax.Array, min_gap: int, max_gap: int) -> tuple[jax.Array, jax.Array]:
    """Cuts one gap into a profile (docs/original.md, step 3).

    ``g ~ U{min_gap..max_gap}`` and a centre index ``c``; the values fall linearly to 0
    from ``c - g`` to ``c`` and rise back from ``c`` to ``c + g`` (clipped at the ends).
    The points strictly inside the ramps (``|j - c| < g``) are gap points.

    Args:
      key: PRNG key.
      values: ``[P]`` profile.
      min_gap: MinGapSize.
      max_gap: MaxGapSize (0: no gap).

    Returns:
      ``values [P]`` with the gap and ``gap [P]`` bool flags.
    """
    return gap_from_uniform(rng.uniform(key, (GAP_DRAWS,)), values, min_gap, max_gap)


def gap_from_uniform(u: jax.Array, values: jax.Array, min_gap: int, max_gap: int) -> tuple[jax.Array, jax.Array]:
    """`apply_gap` from uniforms ``u [GAP_DRAWS]`` (size, centre)."""
    n_points = values.shape[0]
    if max_gap <= 0:
        return values, jnp.zeros((n_points,), bool)
    size = uniform_int(u[0], min_gap, max_gap)
    centre = uniform_int(u[1], 0, n_points - 1)
    offset = jnp.abs(jnp.arange(n_points) - centre).astype(jnp.float32)
    factor = jnp.where(size > 0, jnp.minimum(offset / jnp.maximum(size, 1), 1.0), 1.0)
    return values * factor, offset < size
