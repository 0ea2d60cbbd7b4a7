"""Rasterising centreline points into distance and value maps (docs/original.md, step 3).

The one shared piece of geometry: axon branches, the terminal branches of boutons and
the rotated frames of a series all rasterise through `rasterize_nearest`.

For every point inside the image and every pixel ``q`` of its window
``floor(p - t) <= q <= ceil(p + t)`` (per axis, clipped to the image) the Euclidean
distance pixel-to-point is a candidate; each pixel keeps the smallest distance and the
value of that nearest point (the first point on ties); pixels outside every window get
``+inf``. This is done with scatter-min over a static window per point, so memory is
linear in the number of points (no pixel x point intermediate).

Window membership per axis: ``floor(r - t) <= q <= ceil(r + t)`` holds exactly when
``|q - r| < t + 1``, so a static window of half-size ``ceil(max t) + 1`` around
``round(r)`` covers every window.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["inside_image", "inside_box", "as_box", "point_windows", "rasterize_nearest", "rasterize_nearest_groups", "scan_minimum", "rasterize_distance", "footprint_mask", "summed_area_table", "rect_any"]

_NO_POINT = np.iinfo(np.int32).max
_NO_KEY = np.iinfo(np.uint32).max


def _offsets(halfwidth: int) -> np.ndarray:
    span = np.arange(-halfwidth, halfwidth + 1)
    rows, cols = np.meshgrid(span, span, indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], -1).astype(np.int32)  # [W2, 2]


def inside_image(points: jax.Array, height: int, width: int) -> jax.Array:
    """``[...]`` True where a point lies inside the image box ``[0, H-1] x [0, W-1]``."""
    return inside_box(points, (0, 0, height, width))


def inside_box(points: jax.Array, box) -> jax.Array:
    """``[...]`` True where a point lies in ``[r0, r1 - 1] x [c0, c1 - 1]`` for ``box =
    (r0, c0, r1, c1)``."""
    r0, c0, r1, c1 = box
    return (points[..., 0] >= r0) & (points[..., 0] <= r1 - 1) & (points[..., 1] >= c0) & (points[..., 1] <= c1 - 1)


def as_box(bounds, height: int, width: int):
    """The image box ``(r0, c0, r1, c1)`` in array coordinates from ``bounds``: None (the
    whole ``height x width`` array), ``(rows, cols)`` (its top-left part) or a box."""
    if bounds is None:
        return (0, 0, height, width)
    if len(bounds) == 2:
        return (0, 0, bounds[0], bounds[1])
    return tuple(bounds)


def point_windows(
    points: jax.Array,
    valid: jax.Array,
    thickness: jax.Array,
    height: int,
    width: int,
    halfwidth: int,
    bounds: tuple[jax.Array, jax.Array] | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Pixels of the square window around each point.

    Args:
      points: ``[P, 2]`` (row, col).
      valid: ``[P]`` bool; invalid points and points outside the image get no pixels.
      thickness: ``[P]`` or scalar window half-size ``t``.
      height: image rows.
      width: image columns.
      halfwidth: static half-size of the window, at least ``ceil(max t) + 1``.
      bounds: optional (possibly traced) image box within the static ``height x width``
        array: ``(rows, cols)`` for its top-left part, or ``(r0, c0, r1, c1)`` (which may
        extend beyond the array: e.g. a view cut out of a larger canvas). Points outside
        the box count as outside the image; pixels are kept inside both box and array.

    Returns:
      ``flat [P, W2]`` int32 pixel indices (``height * width`` where not in the window),
      ``in_window [P, W2]`` bool and ``dist [P, W2]`` float32 distances.
    """
    offsets = jnp.asarray(_offsets(halfwidth))
    base = jnp.round(points).astype(jnp.int32)
    pix = base[:, None, :] + offsets[None, :, :]  # [P, W2, 2]
    delta = pix.astype(jnp.float32) - points[:, None, :]
    limit = jnp.broadcast_to(jnp.asarray(thickness, jnp.float32), points.shape[:1])[:, None] + 1.0
    in_window = jnp.all(jnp.abs(delta) < limit[..., None], axis=-1)
    box = as_box(bounds, height, width)
    in_window &= (pix[..., 0] >= box[0]) & (pix[..., 0] < box[2]) & (pix[..., 1] >= box[1]) & (pix[..., 1] < box[3])
    in_window &= (pix[..., 0] >= 0) & (pix[..., 0] < height) & (pix[..., 1] >= 0) & (pix[..., 1] < width)
    in_window &= (valid & inside_box(points, box))[:, None]
    flat = jnp.where(in_window, pix[..., 0] * width + pix[..., 1], height * width)
    dist = jnp.sqrt(jnp.sum(delta * delta, axis=-1))
    return flat, in_window, dist


def rasterize_nearest(
    points: jax.Array,
    values: jax.Array,
    valid: jax.Array,
    thickness: jax.Array,
    height: int,
    width: int,
    halfwidth: int,
    bounds=None,
) -> tuple[jax.Array, jax.Array]:
    """Distance map and nearest-point value map of one group of points (one branch).

    One scatter-min of a packed 32-bit key per window pixel: the distance, rounded down to
    a multiple of ``2 * halfwidth / (2**bits - 1)`` (``bits = 32 - ceil(log2 P)``: below
    1e-6 px for up to a few thousand points), in the high bits and the point index in the
    low bits, so the minimum key is the nearest point (the first one on distances equal to
    that resolution). The returned distance is the rounded one.

    Args:
      points: ``[P, 2]`` (row, col).
      values: ``[P]`` value carried by each point.
      valid: ``[P]`` bool.
      thickness: ``[P]`` or scalar window half-size.
      height: image rows.
      width: image columns.
      halfwidth: static window half-size (`point_windows`).
      bounds: optional image box (`point_windows`).

    Returns:
      ``dist [H, W]`` (``+inf`` outside every window) and ``value [H, W]`` (the value of
      the nearest point; ``+inf`` outside every window).
    """
    thickness = jnp.broadcast_to(jnp.asarray(thickness, jnp.float32), points.shape[:1])
    groups = (points[None], values[None], valid[None], thickness[None])  # one group
    return rasterize_nearest_groups(*groups, height, width, halfwidth, bounds)


def rasterize_nearest_groups(
    points: jax.Array,
    values: jax.Array,
    valid: jax.Array,
    thickness: jax.Array,
    height: int,
    width: int,
    halfwidth: int,
    bounds=None,
) -> tuple[jax.Array, jax.Array]:
    """`rasterize_nearest` of each group of points (each branch), merged by elementwise
    minimum of the distance maps and, separately, of the value maps (docs/original.md, step 3).

    All groups go through one scatter-min into a ``[G, H * W]`` key buffer and one fused
    decode-and-minimum pass, instead of a full-image pass per group: the result equals the
    minimum of the `rasterize_nearest` maps of the groups exactly.

    Args:
      points: ``[G, P, 2]`` (row, col).
      values: ``[G, P]``.
      valid: ``[G, P]`` bool.
      thickness: ``[G]`` (one per group) or ``[G, P]`` window half-sizes.
      height: image rows.
      width: image columns.
      halfwidth: static window half-size (`point_windows`).
      bounds: optional image box (`point_windows`).

    Returns:
      ``dist [H, W]`` and ``value [H, W]``, ``+inf`` outside every window.
    """
    n_groups, n_points = points.shape[:2]
    thickness = jnp.asarray(thickness, jnp.float32)
    thickness = jnp.broadcast_to(thickness[:, None] if thickness.ndim == 1 else thickness, (n_groups, n_points))
    index_bits = max(1, int(np.ceil(np.log2(n_points))))
    if index_bits > 16:  # too many points to pack with enough distance resolution
        two_pass = lambda *group: _rasterize_nearest_two_pass(*group, height, width, halfwidth, bounds)  # noqa: E731
        return scan_minimum(two_pass, (points, values, valid, thickness), (height, width))
    dist_bits = 32 - index_bits
    flat, in_window, dist = point_windows(
        points.reshape(-1, 2), valid.reshape(-1), thickness.reshape(-1), height, width, halfwidth, bounds
    )  # [G * P, W2]
    d_max = np.float32(2.0 * halfwidth)  # every window pixel is closer than sqrt(2) * halfwidth
    levels = np.float32(2**dist_bits - 1)
    quantised = jnp.minimum(jnp.floor(dist / d_max * levels), levels).astype(jnp.uint32)
    point_id = jnp.tile(jnp.arange(n_points, dtype=jnp.uint32), n_groups)[:, None]
    key = (quantised << index_bits) | point_id
    n_pix = height * width
    group_of = jnp.repeat(jnp.arange(n_groups, dtype=jnp.int32), n_points)[:, None]
    target = jnp.where(in_window, group_of * n_pix + flat, n_groups * n_pix)  # out of range: dropped
    best = jnp.full((n_groups * n_pix,), _NO_KEY, jnp.uint32).at[target.ravel()].min(key.ravel(), mode="drop")
    best = best.reshape(n_groups, n_pix)
    # the smallest key over the groups holds the smallest (rounded) distance in its high bits
    nearest_key = jnp.min(best, axis=0)
    decoded = (nearest_key >> index_bits).astype(jnp.float32) * (d_max / levels)
    dmap = jnp.where(nearest_key != jnp.uint32(_NO_KEY), decoded, jnp.inf)

    def group_value(g):  # [H * W] value of group g's nearest point, +inf where not covered
        covered = best[g] != jnp.uint32(_NO_KEY)
        nearest = jnp.where(covered, best[g] & jnp.uint32(2**index_bits - 1), 0).astype(jnp.int32)
        return jnp.where(covered, values[g][nearest], jnp.inf)

    # a minimum unrolled over the (few) groups
    vmap_ = functools.reduce(jnp.minimum, [group_value(g) for g in range(n_groups)])
    return dmap.reshape(height, width), vmap_.reshape(height, width)


def scan_minimum(rasterise, groups, shape: tuple[int, int]) -> tuple[jax.Array, jax.Array]:
    """Elementwise minimum of the (distance, value) maps of several groups, one group at a
    time (a scan: one ``[H, W]`` pair in memory, not one per group).

    Args:
      rasterise: ``rasterise(*group) -> (dist [H, W], value [H, W])``.
      groups: arrays with the groups along their leading axis.
      shape: ``(H, W)``.

    Returns:
      ``dist [H, W]`` and ``value [H, W]`` minima (``+inf`` where no group covers a pixel).
    """

    def merge(maps, group):
        dist, value = rasterise(*group)
        return (jnp.minimum(maps[0], dist), jnp.minimum(maps[1], value)), None

    init = (jnp.full(shape, jnp.inf, jnp.float32), jnp.full(shape, jnp.inf, jnp.float32))
    return jax.lax.scan(merge, init, groups)[0]


def _rasterize_nearest_two_pass(points, values, valid, thickness, height, width, halfwidth, bounds=None):
    """`rasterize_nearest` for very many points: scatter-min of distances, then of indices."""
    flat, in_window, dist = point_windows(points, valid, thickness, height, width, halfwidth, bounds)
    n_pix = height * width
    cand = jnp.where(in_window, dist, jnp.inf).ravel()
    flat = flat.ravel()
    dmap = jnp.full((n_pix,), jnp.inf, jnp.float32).at[flat].min(cand, mode="drop")
    point_id = jnp.broadcast_to(jnp.arange(points.shape[0], dtype=jnp.int32)[:, None], in_window.shape).ravel()
    nearest = (cand == dmap.at[flat].get(mode="fill", fill_value=-1.0)) & in_window.ravel()
    idx = jnp.full((n_pix,), _NO_POINT, jnp.int32).at[flat].min(jnp.where(nearest, point_id, _NO_POINT), mode="drop")
    covered = idx != _NO_POINT
    vmap_ = jnp.where(covered, values[jnp.where(covered, idx, 0)], jnp.inf)
    return dmap.reshape(height, width), vmap_.reshape(height, width)


def rasterize_distance(
    points: jax.Array, valid: jax.Array, thickness: jax.Array, height: int, width: int, halfwidth: int, bounds=None
) -> jax.Array:
    """``[H, W]`` distance map of one group of points (`rasterize_nearest` without values)."""
    flat, in_window, dist = point_windows(points, valid, thickness, height, width, halfwidth, bounds)
    cand = jnp.where(in_window, dist, jnp.inf).ravel()
    dmap = jnp.full((height * width,), jnp.inf, jnp.float32).at[flat.ravel()].min(cand, mode="drop")
    return dmap.reshape(height, width)


def footprint_mask(
    points: jax.Array,
    valid: jax.Array,
    thickness: jax.Array,
    height: int,
    width: int,
    halfwidth: int,
    bounds: tuple[jax.Array, jax.Array] | None = None,
) -> jax.Array:
    """``[H, W]`` bool union of the windows of the points (the finite part of the distance map)."""
    flat, in_window, _ = point_windows(points, valid, thickness, height, width, halfwidth, bounds)
    return jnp.zeros((height * width,), bool).at[flat.ravel()].set(in_window.ravel(), mode="drop").reshape(height, width)


def _cumsum_blocked(x: jax.Array, axis: int, block: int = 16) -> jax.Array:
    """Cumulative sum as two small triangular matrix products (blocks, then block offsets)
    instead of a sequential scan; exact for float32 counts below 2**24.

    The products ask for full float32 precision: by default a GPU multiplies float32
    matrices in TF32 (11 significant bits), which rounds block sums above 2048 and would
    make summed-area counts, and so the crossing test, wrong there."""
    x = jnp.moveaxis(x, axis, -1)
    n = x.shape[-1]
    pad = (-n) % block
    xb = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)]).reshape(*x.shape[:-1], -1, block)
    exact = jax.lax.Precision.HIGHEST
    local = jnp.matmul(xb, jnp.triu(jnp.ones((block, block), x.dtype)), precision=exact)
    n_blocks = xb.shape[-2]
    offsets = jnp.matmul(local[..., -1], jnp.triu(jnp.ones((n_blocks, n_blocks), x.dtype), 1), precision=exact)
    out = (local + offsets[..., None]).reshape(*x.shape[:-1], -1)[..., :n]
    return jnp.moveaxis(out, -1, axis)


def summed_area_table(mask: jax.Array) -> jax.Array:
    """``[H + 1, W + 1]`` int32 table: ``S[r, c]`` = number of set pixels above-left of (r, c)."""
    table = _cumsum_blocked(_cumsum_blocked(mask.astype(jnp.float32), 0), 1)
    return jnp.pad(table, ((1, 0), (1, 0))).astype(jnp.int32)


def rect_any(table: jax.Array, points: jax.Array, thickness: jax.Array) -> jax.Array:
    """Whether any set pixel lies in each point's window (a window test via 4 lookups).

    Args:
      table: `summed_area_table` of an ``[H, W]`` mask.
      points: ``[P, 2]`` (row, col).
      thickness: ``[P]`` or scalar window half-size ``t``.

    Returns:
      ``[P]`` bool (False for windows entirely outside the image).
    """
    height, width = table.shape[0] - 1, table.shape[1] - 1
    t = jnp.asarray(thickness, jnp.float32)
    r0 = jnp.clip(jnp.floor(points[..., 0] - t).astype(jnp.int32), 0, height)
    r1 = jnp.clip(jnp.ceil(points[..., 0] + t).astype(jnp.int32) + 1, 0, height)
    c0 = jnp.clip(jnp.floor(points[..., 1] - t).astype(jnp.int32), 0, width)
    c1 = jnp.clip(jnp.ceil(points[..., 1] + t).astype(jnp.int32) + 1, 0, width)
    count = table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]
    return (count > 0) & (r1 > r0) & (c1 > c0)
