"""Random-walk control points of a branch (docs/original.md, step 1).

Coordinates are 0-based ``(row, col)`` pixel-centre coordinates: the original's 1-based
pixel ``(i, j)`` is ``(i - 1, j - 1)`` here. A walk is drawn without any loop: the turning
angles are independent uniform draws, so the heading is their cumulative sum and the
positions the cumulative sum of the steps; the exit is the first point on or beyond the
border, found with a vectorised search over a static number of steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxaxon.synth import rng
from jaxaxon.synth.draws import uniform_int

__all__ = ["edge_starts", "edge_starts_from_uniform", "random_walk", "walk_from_uniform", "first_exit"]


def edge_starts(key: jax.Array, height: int, width: int, shape: tuple[int, ...] = ()) -> tuple[jax.Array, jax.Array]:
    """Draws mother-branch starts on the image border (docs/original.md, step 1).

    One of the 4 edges uniformly; an integer position in the middle half of that edge;
    initial direction perpendicular to the edge, pointing inwards.

    Args:
      key: PRNG key.
      height: image rows.
      width: image columns.
      shape: batch shape of the draws.

    Returns:
      ``start [*shape, 2]`` float32 (row, col) and ``direction [*shape, 2]`` unit vectors.
    """
    return edge_starts_from_uniform(rng.uniform(key, (2, *shape)), height, width)


def edge_starts_from_uniform(u: jax.Array, height: int, width: int) -> tuple[jax.Array, jax.Array]:
    """`edge_starts` from uniforms ``u [2, *shape]`` (edge, position along it)."""
    edge = uniform_int(u[0], 0, 3)  # 0 top, 1 bottom, 2 left, 3 right
    along = jnp.where(edge < 2, width, height)  # length of the chosen edge
    lo = jnp.ceil((along - 1) / 4.0)
    hi = jnp.floor(3.0 * (along - 1) / 4.0)
    pos = uniform_int(u[1], lo, hi).astype(jnp.float32)
    zero = jnp.zeros_like(pos)
    row = jnp.select([edge == 0, edge == 1], [zero, zero + (height - 1)], pos)
    col = jnp.select([edge == 2, edge == 3], [zero, zero + (width - 1)], pos)
    drow = jnp.select([edge == 0, edge == 1], [zero + 1.0, zero - 1.0], zero)
    dcol = jnp.select([edge == 2, edge == 3], [zero + 1.0, zero - 1.0], zero)
    return jnp.stack([row, col], -1), jnp.stack([drow, dcol], -1)


def random_walk(
    key: jax.Array,
    start: jax.Array,
    direction: jax.Array,
    *,
    n_steps: int,
    step_size: float,
    conformity: float,
    first_turn_cos: float | None = None,
) -> jax.Array:
    """Positions of a conformity random walk (docs/original.md, step 1), without stopping.

    Each step turns by an angle uniform in ``(-acos(conformity), acos(conformity))``
    (a unit direction uniform among those with ``dot(u, v_prev) > conformity``) and moves
    ``step_size``. The first step may use its own bound ``first_turn_cos`` (daughter
    branches: ``cos(45 deg)``).

    Args:
      key: PRNG key.
      start: ``[2]`` start point.
      direction: ``[2]`` initial direction (need not be normalised; non-zero).
      n_steps: static number of steps.
      step_size: step length in pixels.
      conformity: cosine of the largest turn per step.
      first_turn_cos: cosine of the largest turn of the first step (default: conformity).

    Returns:
      ``[n_steps + 1, 2]`` positions, the start first.
    """
    u = rng.uniform(key, (n_steps,))
    return walk_from_uniform(u, start, direction, step_size=step_size, conformity=conformity, first_turn_cos=first_turn_cos)


def walk_from_uniform(
    u: jax.Array,
    start: jax.Array,
    direction: jax.Array,
    *,
    step_size: float,
    conformity: float,
    first_turn_cos: float | None = None,
) -> jax.Array:
    """`random_walk` from uniforms ``u [n_steps]`` (one per turning angle)."""
    n_steps = u.shape[0]
    max_turn = jnp.full((n_steps,), jnp.arccos(conformity), jnp.float32)
    if first_turn_cos is not None:
        max_turn = max_turn.at[0].set(jnp.arccos(first_turn_cos))
    turns = (2.0 * u - 1.0) * max_turn
    heading = jnp.arctan2(direction[1], direction[0]) + jnp.cumsum(turns)
    steps = step_size * jnp.stack([jnp.cos(heading), jnp.sin(heading)], -1)
    return jnp.concatenate([start[None, :], start[None, :] + jnp.cumsum(steps, axis=0)], axis=0)


def first_exit(points: jax.Array, height: int, width: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Stops a walk at its first point (after the start) on or beyond the border.

    The original stops at the first point with ``row <= 1 or row >= height`` (or the same
    for columns) in 1-based coordinates, clamps that point into the image box and keeps
    it; in 0-based coordinates the border is ``0`` and ``height - 1``.

    Args:
      points: ``[S + 1, 2]`` walk positions.
      height: image rows.
      width: image columns.

    Returns:
      ``control_points [S + 1, 2]`` (the exit point clamped; later entries repeat it),
      ``n_points`` (int32 scalar, start and exit point included) and ``exited`` (bool:
      False when the walk never reached the border within the static number of steps).
    """
    row, col = points[:, 0], points[:, 1]
    at_border = (row <= 0) | (row >= height - 1) | (col <= 0) | (col >= width - 1)
    at_border = at_border.at[0].set(False)
    exited = jnp.any(at_border)
    last = jnp.where(exited, jnp.argmax(at_border), points.shape[0] - 1)
    clamped = jnp.stack([jnp.clip(row, 0, height - 1), jnp.clip(col, 0, width - 1)], -1)
    index = jnp.arange(points.shape[0])
    control = jnp.where((index == last)[:, None], clamped, points)
    control = jnp.where((index > last)[:, None], control[last], control)
    return control, (last + 1).astype(jnp.int32), exited
