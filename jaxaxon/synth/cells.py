"""Cells: bright five-source blobs placed off the axons (docs/original.md, step 5).

Each cell is drawn on a static canvas of side ``2 h_max + 1`` (``h_max = MaxRadius +
ceil(MaxRadius / 2)``), blurred with its own Gaussian as two small matrix products, and
placed by bounded vectorised rejection: a static number of corner proposals, the first
whose non-zero pixels land on no non-zero pixel of the cell-free image is kept. Cells are
independent of each other (they may overlap), so all cells are drawn at once.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth import rng
from jaxaxon.synth.draws import uniform_int

__all__ = [
    "Cells", "draw_cell", "cell_from_draws", "place_cells", "render_cells", "same_blur_matrix", "pack_rows", "clashes",
]  # fmt: skip


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Cells:
    """Cells of one image (NC = MaxNbCircles slots, C = canvas side).

    Attributes:
      canvas: ``[NC, C, C]`` float32 cell intensities on their canvases.
      origin: ``[NC, 2]`` int32 image position of canvas pixel (0, 0).
      valid: ``[NC]`` bool, the cell is placed.
      radius: ``[NC]`` int32.
      failed: ``[]`` int32 cells with no acceptable placement (left out).
    """

    canvas: jax.Array
    origin: jax.Array
    valid: jax.Array
    radius: jax.Array
    failed: jax.Array


def canvas_halfsize(cfg: GeneratorConfig) -> int:
    """Static canvas half-size ``MaxRadius + ceil(MaxRadius / 2)``."""
    return cfg.MaxRadius + math.ceil(cfg.MaxRadius / 2)


def same_blur_matrix(size: int, kernel_size: jax.Array, sigma: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Banded matrix ``G`` with ``G @ x`` = MATLAB ``conv(x, fspecial-gaussian, 'same')`` (zero
    padding), for a traced kernel size ``m`` and sigma.

    For ``m = 2p`` (even) output ``i`` sees inputs ``i - p + 1 .. i + p`` at kernel
    positions ``0.5 - o``; for ``m = 2p + 1`` inputs ``i - p .. i + p`` at ``-o``.

    Args:
      size: static vector length.
      kernel_size: kernel size ``m >= 1``.
      sigma: Gaussian sigma.

    Returns:
      ``weights [size, size]`` and ``support [size, size]`` (bool: inside the kernel).
    """
    p = kernel_size // 2
    i = jnp.arange(size)[:, None]
    j = jnp.arange(size)[None, :]
    o = j - i
    support = (o >= p + 1 - kernel_size) & (o <= p)
    x = jnp.where(kernel_size % 2 == 0, 0.5 - o, -o).astype(jnp.float32)
    # normalisation over the full kernel (not the clipped part): sum over its m positions
    k = jnp.arange(size)
    xs = k - (kernel_size - 1) / 2.0
    norm = jnp.sum(jnp.where(k < kernel_size, jnp.exp(-(xs**2) / (2 * sigma**2)), 0.0))
    weights = jnp.where(support, jnp.exp(-(x**2) / (2 * sigma**2)) / norm, 0.0)
    return weights, support


CELL_DRAWS_FIXED = 8  # uniforms per cell besides its dropout field: 4 source offsets (x2)


def draw_cell(key: jax.Array, radius: jax.Array, dropout_level: jax.Array, brightness: jax.Array, cfg: GeneratorConfig):
    """One cell on the static canvas (docs/original.md, step 5, before placement).

    Args:
      key: PRNG key.
      radius: cell radius ``R`` (int scalar).
      dropout_level: ``k``; each pixel drops out with probability ``1 / k``.
      brightness: peak brightness ``B`` (fraction).
      cfg: generator parameters (static).

    Returns:
      ``intensity [C, C]`` (0 outside the cell) and ``nonzero [C, C]`` bool.
    """
    size = 2 * canvas_halfsize(cfg) + 1
    k_u, k_noise = jax.random.split(key)
    u = rng.uniform(k_u, (CELL_DRAWS_FIXED + size * size,))
    noise = rng.normal(k_noise, (size, size))
    return cell_from_draws(u, noise, radius, dropout_level, brightness, cfg)


def cell_from_draws(
    u: jax.Array, noise: jax.Array, radius: jax.Array, dropout_level: jax.Array, brightness: jax.Array, cfg: GeneratorConfig
):
    """`draw_cell` from uniforms ``u [8 + C*C]`` (source offsets, dropout) and a standard
    normal field ``noise [C, C]``."""
    hmax = canvas_halfsize(cfg)
    size = 2 * hmax + 1
    r = radius.astype(jnp.float32)
    half = (radius + 1) // 2  # ceil(R / 2)
    offsets = uniform_int(u[:8].reshape(4, 2), -half + 1, half - 1)  # U{-ceil(R/2)+1 .. ceil(R/2)-1}
    sources = jnp.concatenate([jnp.zeros((1, 2), jnp.int32), offsets]) + hmax
    # distance to the nearest source: integer squared distances (exact), min over the 5
    # sources one at a time (no [5, C, C, 2] intermediate), one square root
    rows, cols = jnp.arange(size)[:, None], jnp.arange(size)[None, :]
    d2 = functools.reduce(jnp.minimum, [(rows - s[0]) ** 2 + (cols - s[1]) ** 2 for s in sources])
    d = jnp.sqrt(d2.astype(jnp.float32))
    finite = d <= r
    v = jnp.sqrt(-(r**2) / (2 * jnp.log(0.05 * brightness)))
    weights, support = same_blur_matrix(size, half, v)
    blurred = weights @ jnp.where(finite, d, 0.0) @ weights.T
    touches_inf = (support.astype(jnp.float32) @ (~finite).astype(jnp.float32) @ support.T.astype(jnp.float32)) > 0
    finite = ~touches_inf
    drop = u[8:].reshape(size, size) < 1.0 / dropout_level.astype(jnp.float32)
    d = jnp.where(drop, r, blurred) + cfg.sigma_noise_circle * noise
    intensity = jnp.where(finite, brightness * jnp.exp(-(d**2) / (2 * v**2)), 0.0)
    return intensity, finite


def place_cells(key: jax.Array, occupied: jax.Array, cfg: GeneratorConfig, proposals: int = 16) -> Cells:
    """Draws and places the cells of one image.

    Args:
      key: PRNG key.
      occupied: ``[H, W]`` bool non-zero pixels of the image before any cell (axons,
        terminal branches, boutons).
      cfg: generator parameters (static).
      proposals: static number of corner proposals per cell.

    Returns:
      `Cells` with ``MaxNbCircles`` slots.
    """
    n_cells = cfg.MaxNbCircles
    height, width = cfg.shape
    size = 2 * canvas_halfsize(cfg) + 1
    if n_cells == 0:  # no cell slots at all (MaxNbCircles = 0)
        return Cells(
            canvas=jnp.zeros((0, size, size), jnp.float32), origin=jnp.zeros((0, 2), jnp.int32),
            valid=jnp.zeros((0,), bool), radius=jnp.zeros((0,), jnp.int32), failed=jnp.int32(0),
        )  # fmt: skip
    k_u, k_noise = jax.random.split(key)
    n_cell_draws = CELL_DRAWS_FIXED + size * size
    u = rng.uniform(k_u, (n_cells, 4 + n_cell_draws + 2 * proposals))  # the stage's draws
    noise = rng.normal(k_noise, (n_cells, size, size))
    count = uniform_int(u[0, 3], cfg.MinNbCircles, cfg.MaxNbCircles)
    radius = uniform_int(u[:, 0], cfg.MinRadius, cfg.MaxRadius)
    dropout = uniform_int(u[:, 1], 2, 4)
    bright = uniform_int(u[:, 2], cfg.MinBrightnessCircles, cfg.MaxBrightnessCircles) / 100.0

    pad_words = -(-(size + (cfg.MaxRadius + 1) // 2 + 1) // 32)  # canvas columns may start this far left
    packed = pack_rows(occupied, pad_words)

    def one(u, noise, r, kd, b):
        u_cell, u_corner = u[4 : 4 + n_cell_draws], u[4 + n_cell_draws :].reshape(proposals, 2)
        canvas, nonzero = cell_from_draws(u_cell, noise, r, kd, b.astype(jnp.float32), cfg)
        first_row = jnp.argmax(jnp.any(nonzero, axis=1))
        first_col = jnp.argmax(jnp.any(nonzero, axis=0))
        half = (r + 1) // 2
        # 1-based corner U{-ceil(R/2)..H}; the cropped cell's pixel (1, 1) lands there
        corner = jnp.stack([uniform_int(u_corner[:, 0], -half, height), uniform_int(u_corner[:, 1], -half, width)], -1)
        origin = corner - 1 - jnp.stack([first_row, first_col])[None]  # image position of canvas (0, 0)
        clash = clashes(packed, pad_words, nonzero, origin)
        pick = jnp.argmax(~clash)
        return canvas, origin[pick].astype(jnp.int32), ~clash[pick]

    canvas, origin, ok = jax.vmap(one)(u, noise, radius, dropout, bright)
    active = jnp.arange(n_cells) < count
    valid = ok & active
    return Cells(canvas=canvas, origin=origin, valid=valid, radius=radius, failed=jnp.sum(active & ~ok).astype(jnp.int32))


def pack_rows(mask: jax.Array, pad_words: int) -> jax.Array:
    """Packs the columns of a bool mask into 32-bit words, with zero words either side.

    Args:
      mask: ``[H, W]`` bool.
      pad_words: static number of zero words added on the left and on the right.

    Returns:
      ``[H, pad_words + ceil(W / 32) + pad_words]`` uint32; bit ``j`` of word
      ``pad_words + k`` of row ``r`` is ``mask[r, 32 k + j]``.
    """
    height, width = mask.shape
    n_words = -(-width // 32)
    bits = jnp.pad(mask, ((0, 0), (32 * pad_words, 32 * (n_words + pad_words) - width)))
    bits = bits.reshape(height, -1, 32).astype(jnp.uint32) << jnp.arange(32, dtype=jnp.uint32)
    return jnp.sum(bits, axis=-1, dtype=jnp.uint32)  # distinct bits: the sum is their OR


def clashes(packed: jax.Array, pad_words: int, nonzero: jax.Array, origin: jax.Array) -> jax.Array:
    """Whether a pattern placed at each origin covers a set pixel of a packed mask.

    Exactly ``any(mask[o + (i, j)] & nonzero[i, j])`` over the pattern pixels inside the
    mask, computed 32 pattern columns per word operation: for each origin, pattern row and
    pattern word, the mask bits under it are shifted into place from two adjacent words of
    the packed row (a few word reads per row instead of one gather per pixel).

    Args:
      packed: `pack_rows` of the ``[H, W]`` mask, with ``pad_words`` zero words either side
        (enough that every origin's columns lie inside the padded row).
      pad_words: static padding of ``packed``.
      nonzero: ``[C, C]`` bool pattern.
      origin: ``[P, 2]`` int mask position of pattern pixel (0, 0); rows outside the mask
        never clash.

    Returns:
      ``[P]`` bool.
    """
    height = packed.shape[0]
    size = nonzero.shape[0]
    n_words = -(-nonzero.shape[1] // 32)
    pattern = pack_rows(nonzero, 0)  # [C, n_words]
    rows = origin[:, 0, None] + jnp.arange(size)[None]  # [P, C]
    in_rows = (rows >= 0) & (rows < height)
    row_bits = packed[jnp.clip(rows, 0, height - 1)]  # [P, C, words]
    start = origin[:, 1] + 32 * pad_words  # padded column of pattern column 0, >= 0
    word, shift = (start // 32)[:, None], (start % 32).astype(jnp.uint32)[:, None]  # [P, 1]
    hit = jnp.zeros(rows.shape, bool)
    for k in range(n_words):  # pattern word k covers padded columns start + 32 k .. + 31
        low = jnp.take_along_axis(row_bits, (word + k)[:, :, None], axis=2)[..., 0]  # [P, C]
        high = jnp.take_along_axis(row_bits, (word + k + 1)[:, :, None], axis=2)[..., 0]
        under = jnp.where(shift == 0, low, (low >> shift) | (high << (32 - shift)))
        hit |= (under & pattern[None, :, k]) != 0
    return jnp.any(hit & in_rows, axis=1)


def render_cells(cells: Cells, cfg: GeneratorConfig) -> jax.Array:
    """``[H, W]`` image of the placed cells, merged by maximum."""
    height, width = cfg.shape
    size = cells.canvas.shape[-1]
    rows = cells.origin[:, 0, None] + jnp.arange(size)[None]  # [NC, C]
    cols = cells.origin[:, 1, None] + jnp.arange(size)[None]
    inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
    inside &= cells.valid[:, None, None] & (cells.canvas > 0)
    flat = jnp.where(inside, rows[:, :, None] * width + cols[:, None, :], height * width)
    image = jnp.zeros((height * width,), jnp.float32).at[flat.ravel()].max(cells.canvas.ravel(), mode="drop")
    return image.reshape(height, width)
