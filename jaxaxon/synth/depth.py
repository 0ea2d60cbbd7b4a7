"""Depth: the axons live in a 3-D slab and the image is an optical section or a projection
of a z-stack (`GeneratorConfig.depth_mode`; docs/parameters.md, "Depth").

The scene of `jaxaxon.synth.scene` is the in-focus layer at depth 0 (the focal plane, or the
centre of the stack): its axons, boutons and cells are labelled and rendered as in 2-D. A
second population of ``defocused_axons`` is drawn cheaply (one branch each, crossings
allowed, no boutons) at depths ``|z|`` uniform in ``[z_near, slab_depth / 2]``, beyond the
depth of field (`depth_range`), and seen through the axial point-spread function:

Axial law (two-photon excitation by a Gaussian beam, Rayleigh range ``axial_sigma``): a line
at defocus ``d`` from the focal plane is imaged with the lateral width factor
``w(d) = sqrt(1 + (d / axial_sigma)^2)``, i.e. a Gaussian cross-section of sigma
``sigma_spread * w``, and its brightness integrated across the line falls as ``1 / w^2``,
so its peak falls as ``1 / w^3`` (the squared excitation ``I^2 ~ w^-4 exp(-4 r^2 / w^2)``
integrated along the line). A line at ``d = 0`` is exactly the in-focus axon profile
``variation * exp(-r^2 / 2 sigma^2) / sqrt(2 pi sigma^2)``.

Rendering: the centreline points of every defocused axon are splatted (bilinear, weight
intensity x arc length) into the nearest of `DEPTH_BINS` static depth bins (depths quantised
to them), each on a grid `bin_factors` times coarser than the image where the bin's blur
allows it; each bin is blurred by its depth's transfer function in the Fourier domain; the
projection of the modes is then:

- ``section``: one focal plane at ``z = 0``: ``in_focus + D(0)``;
- ``mean``: the mean over the stack's `focal_planes` (linear, so one combined transfer per
  bin), and the in-focus layer convolved with the same mean law for ``d = plane``;
- ``max``: the maximum over the planes of the defocused layer, and the in-focus layer added
  at its own plane (the centre): ``max(in_focus + D(0), max_k D(f_k))``; the in-focus layer's
  dim defocused copies in the other planes are left out.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.draws import uniform_int, uniform_range
from jaxaxon.synth.imaging.microscope import fast_fft_size
from jaxaxon.synth.walk import walk_from_uniform

__all__ = [
    "DEPTH_BINS",
    "MAX_PLANES",
    "DefocusedAxons",
    "DefocusedLayer",
    "width_factor",
    "focal_planes",
    "depth_range",
    "bin_depths",
    "bin_factors",
    "grid_variance",
    "line_transfer",
    "draw_defocused",
    "render_defocused",
    "render_lines",
    "project",
]

DEPTH_BINS = 8  # static depth bins of the defocused population
MAX_PLANES = 33  # most focal planes of a 'max'/'mean' stack


def width_factor(defocus: np.ndarray | jax.Array, axial_sigma: float):
    """``w(d) = sqrt(1 + (d / axial_sigma)^2)``: lateral width factor at defocus ``d``."""
    return (1.0 + (defocus / axial_sigma) ** 2) ** 0.5


def focal_planes(cfg: GeneratorConfig) -> np.ndarray:
    """``[K]`` focal-plane depths (px): ``[0]`` for 'section' (or a stack of depth 0);
    otherwise an odd number of planes evenly over ``[-stack_depth/2, stack_depth/2]``, at
    most ``axial_sigma`` apart (at most `MAX_PLANES`), the middle one at 0."""
    if cfg.depth_mode == "section" or cfg.stack_depth == 0:
        return np.zeros((1,))
    half = min(math.ceil(cfg.stack_depth / (2 * cfg.axial_sigma)), (MAX_PLANES - 1) // 2)
    return np.linspace(-cfg.stack_depth / 2, cfg.stack_depth / 2, 2 * half + 1)


def depth_range(cfg: GeneratorConfig) -> tuple[float, float]:
    """``(z_near, z_far)`` of the defocused population's ``|z|``: from one ``axial_sigma``
    beyond the focal plane ('section') or beyond the stack ('max'/'mean'), to the slab's
    half-thickness."""
    near = (0.0 if cfg.depth_mode == "section" else cfg.stack_depth / 2) + cfg.axial_sigma
    return near, max(cfg.slab_depth / 2, near)


def bin_depths(cfg: GeneratorConfig) -> np.ndarray:
    """``[DEPTH_BINS]`` depths of the static bins, evenly over `depth_range`."""
    return np.linspace(*depth_range(cfg), DEPTH_BINS)


def grid_variance(factor: int) -> float:
    """Variance (px^2 per axis) the grid adds: the bilinear splat's ``f^2 / 6``, and the same
    again for the linear upsampling of a coarse grid (``f > 1``)."""
    return factor**2 / 6 * (1 if factor == 1 else 2)


def bin_factors(cfg: GeneratorConfig) -> tuple[int, ...]:
    """Static grid coarsening (1, 2 or 4) of each depth bin: the largest ``f`` whose grid
    still resolves the bin's narrowest profile, of variance ``v = (sigma_spread * w(d))^2``
    at its defocus ``d`` from the nearest focal plane: the Gaussian left after subtracting
    `grid_variance` keeps a sigma of at least 0.7 grid pixels
    (``v - grid_variance(f) >= f^2 / 2``)."""
    planes = focal_planes(cfg)
    nearest = np.min(np.abs(bin_depths(cfg)[:, None] - planes[None, :]), axis=1)
    narrowest = cfg.sigma_spread**2 * width_factor(nearest, cfg.axial_sigma) ** 2
    return tuple(max(f for f in (1, 2, 4) if f == 1 or v - grid_variance(f) >= f * f / 2) for v in narrowest)


def _padding(cfg: GeneratorConfig) -> int:
    """Fine pixels around the image whose axons still shine in (3 sigma of the widest)."""
    widest = cfg.sigma_spread * float(width_factor(depth_range(cfg)[1] + cfg.stack_depth / 2, cfg.axial_sigma))
    return math.ceil(3 * widest)


def _frequencies2(rows: int, cols: int) -> np.ndarray:
    """``[rows, cols // 2 + 1]`` squared frequencies (cycles per grid pixel) of an rfft2 grid."""
    fr = np.fft.fftfreq(rows)[:, None]
    fc = np.fft.rfftfreq(cols)[None, :]
    return (fr**2 + fc**2).astype(np.float32)


def line_transfer(defocus: np.ndarray, cfg: GeneratorConfig, f2: np.ndarray, spacing: float = 1.0, extra: float = 0.0):
    """Fourier transfer ``w^-2 exp(-2 pi^2 s^2 k^2)`` of the axial law at each defocus
    (``s^2 = (sigma_spread w)^2 - extra`` in px^2; ``k`` in cycles per grid pixel of
    ``spacing`` px). Computed in the program from a few scalars (no large constant).

    Args:
      defocus: ``[...]`` static defocus values (px).
      cfg: generator parameters (static).
      f2: ``[R, C]`` squared frequencies (`_frequencies2`).
      spacing: grid pixel size in image pixels.
      extra: variance (px^2) already present (subtracted from the Gaussian's).

    Returns:
      ``[..., R, C]`` float32 transfer.
    """
    w2 = width_factor(np.asarray(defocus, np.float64), cfg.axial_sigma) ** 2
    var = np.maximum(cfg.sigma_spread**2 * w2 - extra, 0.0) / spacing**2
    var, inv = jnp.asarray(var, jnp.float32)[..., None, None], jnp.asarray(1 / w2, jnp.float32)[..., None, None]
    return jnp.exp(-2 * np.pi**2 * var * jnp.asarray(f2)) * inv


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class DefocusedAxons:
    """The defocused population of one image (ND = ``max(1, defocused_axons[1])`` slots, P
    points).

    Attributes:
      points: ``[ND, P, 2]`` float32 (row, col) polyline points (walk positions).
      valid: ``[ND, P]`` bool points drawn (inside the padded image, before the walk left it).
      intensity: ``[ND]`` float32 intensity (fraction, as ``MinAxonIntensity..MaxAxonIntensity``).
      depth: ``[ND]`` float32 ``|z|`` (px).
      drawn: ``[ND]`` bool, the slot holds an axon of this image.
    """

    points: jax.Array
    valid: jax.Array
    intensity: jax.Array
    depth: jax.Array
    drawn: jax.Array


def draw_defocused(key: jax.Array, cfg: GeneratorConfig) -> DefocusedAxons:
    """Draws the defocused axons of one image: a count ``U{defocused_axons}``; for each, a
    point uniform in the image, a direction uniform in angle, and a conformity walk
    (StepSize, conformity) from it in both directions until it leaves the padded image
    (each direction at most half of `GeneratorConfig.max_walk_steps`: a straight diagonal);
    an intensity ``U(MinAxonIntensity + 1 %, MaxAxonIntensity - 1 %)``; a depth ``|z|``
    uniform in `depth_range`."""
    n_max, n_steps = int(cfg.defocused_axons[1]), -(-cfg.max_walk_steps // 2)
    n_slots = max(n_max, 1)  # static; slots beyond the drawn count stay empty
    height, width = cfg.shape
    pad = _padding(cfg)
    # jax.random, not rng: with this block XLA compiles the defocused walks to faster CPU code
    u = jax.random.uniform(key, (n_slots, 2 * n_steps + 6))
    count = uniform_int(u[0, 5], int(cfg.defocused_axons[0]), n_max)
    start = jnp.stack([u[:, 0] * (height - 1), u[:, 1] * (width - 1)], -1)
    angle = 2 * jnp.pi * u[:, 2]
    direction = jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)

    def half(uw, s, d):  # [n_steps + 1, 2] walk and its points before it first leaves the box
        pts = walk_from_uniform(uw, s, d, step_size=cfg.StepSize, conformity=cfg.conformity)
        out = (pts[:, 0] < -pad) | (pts[:, 0] > height - 1 + pad) | (pts[:, 1] < -pad) | (pts[:, 1] > width - 1 + pad)
        return pts, jnp.cumsum(out) == 0

    fwd, ok_f = jax.vmap(half)(u[:, 6 : 6 + n_steps], start, direction)
    bwd, ok_b = jax.vmap(half)(u[:, 6 + n_steps : 6 + 2 * n_steps], start, -direction)
    points = jnp.concatenate([bwd[:, :0:-1], fwd], axis=1)  # [ND, 2 n_steps + 1, 2], start once
    drawn = jnp.arange(n_slots) < count
    valid = jnp.concatenate([ok_b[:, :0:-1], ok_f], axis=1) & drawn[:, None]
    lo, hi = cfg.MinAxonIntensity / 100 + 0.01, cfg.MaxAxonIntensity / 100 - 0.01
    intensity = uniform_range(u[:, 3], lo, hi)
    near, far = depth_range(cfg)
    depth = uniform_range(u[:, 4], near, far)
    return DefocusedAxons(points=points, valid=valid, intensity=intensity, depth=depth, drawn=drawn)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class DefocusedLayer:
    """The defocused layer of one image.

    Attributes:
      planes: ``[K, H, W]`` float32 signal of the defocused axons at each focal plane
        ('max'), or ``[1, H, W]`` ('section': the focal plane; 'mean': the mean over planes).
      mask: ``[H, W]`` bool pixels closer than ``SegmentationThreshold`` to a defocused
        axon (all False unless ``depth_labels == 'all'``).
      axons: the `DefocusedAxons` drawn.
    """

    planes: jax.Array
    mask: jax.Array
    axons: DefocusedAxons


def _splat(points, parts, n_bins: int, shape: tuple[int, int], factor: int, offset: float):
    """Bilinear splat of ``[N, 2]`` fine points into ``[n_bins, R, C]``: ``parts`` is a list of
    ``(bin [N] int32, weight [N])``, a bin outside ``0..n_bins-1`` dropping its share."""
    rows, cols = shape
    g = (points + offset + 0.5) / factor - 0.5  # grid coordinates (pixel centres)
    base = jnp.floor(g)
    t = g - base
    base = base.astype(jnp.int32)
    out = jnp.zeros((n_bins * rows * cols,), jnp.float32)
    for dr in (0, 1):
        for dc in (0, 1):
            wr = t[:, 0] if dr else 1 - t[:, 0]
            wc = t[:, 1] if dc else 1 - t[:, 1]
            r, c = base[:, 0] + dr, base[:, 1] + dc
            inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
            for b, weight in parts:
                ok = inside & (b >= 0) & (b < n_bins)
                flat = jnp.where(ok, (b * rows + r) * cols + c, n_bins * rows * cols)
                out = out.at[flat].add(weight * wr * wc, mode="drop")
    return out.reshape(n_bins, rows, cols)


def _upsample(x: jax.Array, factor: int, axis: int) -> jax.Array:
    """Linear interpolation of ``x`` to ``factor`` times more samples along ``axis`` (pixel
    centres: sample ``i`` at ``(i + 0.5) factor - 0.5``; edges repeated). Two shifted copies
    weighted per phase: elementwise work only (a dense resampling matrix is far slower)."""
    if factor == 1:
        return x
    part = lambda start, stop: jax.lax.slice_in_dim(x, start, stop, axis=axis)  # noqa: E731
    prev = jnp.concatenate([part(0, 1), part(0, -1)], axis)
    nxt = jnp.concatenate([part(1, None), part(-1, None)], axis)
    phases = []
    for p in range(factor):
        o = (p + 0.5) / factor - 0.5  # offset of fine sample p from its coarse sample, in coarse pixels
        phases.append((1 - abs(o)) * x + abs(o) * (prev if o < 0 else nxt))
    out = jnp.stack(phases, axis + 1)
    return out.reshape(*x.shape[:axis], x.shape[axis] * factor, *x.shape[axis + 1 :])


def render_defocused(key: jax.Array, cfg: GeneratorConfig) -> DefocusedLayer:
    """Draws (`draw_defocused`) and renders (`render_lines`) the defocused axons of one image.

    Args:
      key: PRNG key.
      cfg: generator parameters (static; ``depth_mode != 'off'``).

    Returns:
      A `DefocusedLayer`.
    """
    return render_lines(draw_defocused(key, cfg), cfg)


def render_lines(axons: DefocusedAxons, cfg: GeneratorConfig) -> DefocusedLayer:
    """Renders polylines at depths through the axial law and the config's mode (module
    docstring). Depths outside `depth_range` are taken at its nearest end.

    Args:
      axons: `DefocusedAxons` (any number of polylines ``[N, P, 2]``).
      cfg: generator parameters (static; ``depth_mode != 'off'``).

    Returns:
      A `DefocusedLayer`.
    """
    height, width = cfg.shape
    pad = _padding(cfg)
    n_pts = axons.points.shape[1]
    seg = jnp.linalg.norm(jnp.diff(axons.points, axis=1), axis=-1)  # [ND, P - 1]
    arc = 0.5 * (jnp.pad(seg, ((0, 0), (1, 0))) + jnp.pad(seg, ((0, 0), (0, 1))))  # arc length per point
    weight = jnp.where(axons.valid, arc * axons.intensity[:, None], 0.0).ravel()
    near, far = depth_range(cfg)
    pos = (axons.depth - near) / (far - near) * (DEPTH_BINS - 1) if far > near else jnp.zeros_like(axons.depth)
    bins = jnp.repeat(jnp.clip(jnp.round(pos), 0, DEPTH_BINS - 1).astype(jnp.int32), n_pts)  # the nearest bin
    planes = focal_planes(cfg)
    factors = np.asarray(bin_factors(cfg))
    depths = bin_depths(cfg)
    total = 0.0
    for factor in sorted(set(factors.tolist())):  # one grid per coarsening factor
        group = np.flatnonzero(factors == factor)
        local = jnp.asarray(np.where(factors == factor, np.cumsum(factors == factor) - 1, -1), jnp.int32)
        rows = fast_fft_size(-(-(height + 3 * pad) // factor))
        cols = fast_fft_size(-(-(width + 3 * pad) // factor))
        w = weight / factor**2  # per fine pixel
        grid = _splat(axons.points.reshape(-1, 2), [(local[bins], w)], len(group), (rows, cols), factor, pad)
        spectrum = jnp.fft.rfft2(grid)  # [G, R, C']
        defocus = depths[group][:, None] - planes[None, :]  # [G, K]
        transfer = line_transfer(defocus, cfg, _frequencies2(rows, cols), factor, grid_variance(factor))
        if cfg.depth_mode != "max":
            transfer = transfer.mean(axis=1, keepdims=True)
        images = jnp.fft.irfft2(jnp.einsum("bkrc,brc->krc", transfer, spectrum), (rows, cols))
        images = _upsample(_upsample(images, factor, 1), factor, 2)
        total = total + images[:, pad : pad + height, pad : pad + width]
    images = jnp.maximum(total, 0.0)
    mask = jnp.zeros(cfg.shape, bool)
    if cfg.depth_labels == "all":
        mask = _label_mask(axons, cfg)
    return DefocusedLayer(planes=images, mask=mask, axons=axons)


def _label_mask(axons: DefocusedAxons, cfg: GeneratorConfig) -> jax.Array:
    """``[H, W]`` pixels within about ``SegmentationThreshold`` of a defocused centreline:
    the unit line density blurred by a Gaussian of sigma ``T / 2`` above its value at
    distance ``T`` from an isolated straight line."""
    height, width = cfg.shape
    sigma = cfg.SegmentationThreshold / 2
    pad = math.ceil(3 * sigma) + 1
    rows, cols = fast_fft_size(height + 2 * pad), fast_fft_size(width + 2 * pad)
    seg = jnp.linalg.norm(jnp.diff(axons.points, axis=1), axis=-1)
    arc = 0.5 * (jnp.pad(seg, ((0, 0), (1, 0))) + jnp.pad(seg, ((0, 0), (0, 1))))
    weight = jnp.where(axons.valid, arc, 0.0).ravel()
    only_bin = [(jnp.zeros(weight.shape, jnp.int32), weight)]
    density = _splat(axons.points.reshape(-1, 2), only_bin, 1, (rows, cols), 1, pad)
    kernel = np.exp(-2 * np.pi**2 * (sigma**2 - grid_variance(1)) * _frequencies2(rows, cols)).astype(np.float32)
    blurred = jnp.fft.irfft2(jnp.fft.rfft2(density[0]) * kernel, (rows, cols))[pad : pad + height, pad : pad + width]
    return blurred > math.exp(-2.0) / (math.sqrt(2 * math.pi) * sigma)


def project(in_focus: jax.Array, layer: DefocusedLayer, cfg: GeneratorConfig) -> jax.Array:
    """The image signal of a depth mode from the in-focus layer ``[H, W]`` (depth 0) and the
    defocused layer (module docstring).

    Args:
      in_focus: ``[H, W]`` non-negative in-focus signal (axons, boutons, cells).
      layer: the image's `DefocusedLayer`.
      cfg: generator parameters (static).

    Returns:
      ``[H, W]`` float32 signal.
    """
    if cfg.depth_mode == "section":
        return in_focus + layer.planes[0]
    if cfg.depth_mode == "max":
        middle = layer.planes.shape[0] // 2
        return jnp.maximum(in_focus + layer.planes[middle], jnp.max(layer.planes, axis=0))
    planes = focal_planes(cfg)
    if planes.shape[0] == 1:
        return in_focus + layer.planes[0]
    height, width = cfg.shape
    pad = _padding(cfg)
    rows, cols = fast_fft_size(height + pad), fast_fft_size(width + pad)
    transfer = line_transfer(planes, cfg, _frequencies2(rows, cols), 1.0, cfg.sigma_spread**2).mean(axis=0)
    blurred = jnp.fft.irfft2(jnp.fft.rfft2(in_focus, (rows, cols)) * transfer, (rows, cols))
    return jnp.maximum(blurred[:height, :width], 0.0) + layer.planes[0]
