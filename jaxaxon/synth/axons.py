"""Axon image and axon mask from a scene (docs/original.md, step 3)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.raster import rasterize_nearest_groups, scan_minimum
from jaxaxon.synth.scene import AxonScene

__all__ = ["AxonLayer", "rasterize_scene", "render_axons", "gaussian_profile", "BRANCHES_PER_PASS"]

# Branches rasterised together, per full-image pass (None: all in one pass). Each pass keeps
# an [n, H * W] key buffer per image for its n branches, so small groups bound the memory of
# large batches; one pass over all NB branches would need NB such rows per image.
BRANCHES_PER_PASS: int | None = 2


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AxonLayer:
    """Rendered axons of one image.

    Attributes:
      distance: ``[H, W]`` float32 distance to the nearest centreline point (``+inf``
        outside every branch window).
      variation: ``[H, W]`` float32 intensity map before pixel noise (0 outside).
      image: ``[H, W]`` float32 axon intensity with pixel noise (docs/original.md, step 3).
      clean: ``[H, W]`` float32 axon intensity without pixel noise.
      mask: ``[H, W]`` bool axon mask ``distance < SegmentationThreshold``.
    """

    distance: jax.Array
    variation: jax.Array
    image: jax.Array
    clean: jax.Array
    mask: jax.Array


def rasterize_scene(
    points: jax.Array,
    values: jax.Array,
    valid: jax.Array,
    thickness: jax.Array,
    cfg: GeneratorConfig,
    bounds=None,
    halfwidth: int | None = None,
):
    """Distance and variation maps of all branches, merged by elementwise minimum (1.5),
    `BRANCHES_PER_PASS` branches per pass over the image
    (`jaxaxon.synth.raster.rasterize_nearest_groups`).

    Args:
      points: ``[NB, NSP, 2]`` centreline points.
      values: ``[NB, NSP]`` intensity profile values.
      valid: ``[NB]`` bool drawn branches.
      thickness: ``[NB]`` window half-size per branch.
      cfg: generator parameters (static).
      bounds: optional image box (`jaxaxon.synth.raster.point_windows`).
      halfwidth: static window half-size (default ``cfg.raster_halfwidth``; larger when
        thicknesses exceed MaxThickness, as in the original's series frames).

    Returns:
      ``distance [H, W]`` and ``variation [H, W]``, both ``+inf`` outside every window.
    """
    halfwidth = cfg.raster_halfwidth if halfwidth is None else halfwidth
    n_branches = points.shape[0]
    group = n_branches if BRANCHES_PER_PASS is None else min(BRANCHES_PER_PASS, n_branches)
    n_passes = -(-n_branches // group)
    pad = n_passes * group - n_branches  # empty branches filling the last pass
    point_valid = jnp.broadcast_to(valid[:, None], values.shape)
    passes = [jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)) for x in (points, values, point_valid, thickness)]
    passes = tuple(x.reshape(n_passes, group, *x.shape[1:]) for x in passes)
    one_pass = lambda *branches: rasterize_nearest_groups(*branches, *cfg.shape, halfwidth, bounds)  # noqa: E731
    return scan_minimum(one_pass, passes, cfg.shape)


def gaussian_profile(distance: jax.Array, sigma: float | jax.Array) -> jax.Array:
    """``exp(-d^2 / (2 sigma^2)) / sqrt(2 pi sigma^2)``; 0 where the distance is infinite."""
    finite = jnp.isfinite(distance)
    d = jnp.where(finite, distance, 0.0)
    return jnp.where(finite, jnp.exp(-(d * d) / (2 * sigma**2)) / jnp.sqrt(2 * math.pi * sigma**2), 0.0)


def render_axons(
    pixel_noise: jax.Array, scene: AxonScene, cfg: GeneratorConfig, bounds=None, halfwidth: int | None = None
) -> AxonLayer:
    """Renders the axon intensity image and mask of one scene (1.8).

    The variation map gets ``sigma_noise_axon * N(0, 1)`` pixel noise; the intensity is the
    Gaussian cross-section of the distance times the noisy variation. The mask is
    ``distance < SegmentationThreshold``, so it stays continuous through gaps.

    Args:
      pixel_noise: ``[H, W]`` standard normal field (shared with the terminal branches).
      scene: one image's `AxonScene`.
      cfg: generator parameters (static).
      bounds: optional image box (`jaxaxon.synth.raster.point_windows`).
      halfwidth: optional static window half-size (`rasterize_scene`).

    Returns:
      An `AxonLayer`.
    """
    distance, variation = rasterize_scene(
        scene.points, scene.variation, scene.branch_valid, scene.thickness, cfg, bounds, halfwidth
    )
    variation = jnp.where(jnp.isfinite(variation), variation, 0.0)
    noisy = variation + cfg.sigma_noise_axon * pixel_noise
    profile = gaussian_profile(distance, cfg.sigma_spread)
    return AxonLayer(
        distance=distance,
        variation=variation,
        image=profile * noisy,
        clean=profile * variation,
        mask=distance < cfg.SegmentationThreshold,
    )
