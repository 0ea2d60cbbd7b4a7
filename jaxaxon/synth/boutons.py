"""Synaptic boutons: en passant and terminal, with their terminal branches (docs/original.md, step 4).

Placement is sequential over a static maximum of boutons (a scan); each bouton draws a
static number of location proposals at once and keeps the first acceptable one (bounded
vectorised rejection). A bouton with no acceptable proposal is left out and counted.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth import rng
from jaxaxon.synth.axons import gaussian_profile
from jaxaxon.synth.draws import uniform_int
from jaxaxon.synth.raster import inside_image, point_windows
from jaxaxon.synth.scene import AxonScene
from jaxaxon.synth.spline import resample_spline

__all__ = [
    "Boutons", "place_boutons", "render_boutons", "bouton_sigma", "bouton_halfsize", "bouton_contrast",
    "TERMINAL_POINTS", "EN_PASSANT",
    "TERMINAL",
]  # fmt: skip

EN_PASSANT, TERMINAL = 0, 1
TERMINAL_POINTS = 20  # samples of a terminal branch spline


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Boutons:
    """Boutons of one image (NBOU = MaxNbBouton slots).

    Attributes:
      centre: ``[NBOU, 2]`` float32 integer-valued (row, col) centres.
      valid: ``[NBOU]`` bool, the slot holds a placed bouton.
      kind: ``[NBOU]`` int32, `EN_PASSANT` (0) or `TERMINAL` (1).
      radius: ``[NBOU]`` int32 ``floor(thickness of its branch) + 1``, or with ``bouton_size``
        ``max(1, round(s * thickness))`` for a factor ``s`` drawn per bouton, or with
        ``bouton_radius`` ``max(1, round(r))`` for a radius ``r`` drawn per bouton.
      brightness: ``[NBOU]`` float32 peak brightness (fraction).
      slot: ``[NBOU]`` int32 branch slot of the centreline point it hangs on.
      point: ``[NBOU]`` int32 index of that centreline point.
      branch_points: ``[NBOU, TERMINAL_POINTS, 2]`` terminal-branch centreline (zeros
        for en passant boutons).
      failed: ``[]`` int32 boutons with no acceptable proposal (left out).
    """

    centre: jax.Array
    valid: jax.Array
    kind: jax.Array
    radius: jax.Array
    brightness: jax.Array
    slot: jax.Array
    point: jax.Array
    branch_points: jax.Array
    failed: jax.Array


def bouton_sigma(radius: jax.Array, brightness: jax.Array) -> jax.Array:
    """Width ``v`` of a bouton's Gaussian so that it falls to 0.05 at its radius."""
    return jnp.sqrt(-(radius.astype(jnp.float32) ** 2) / (2.0 * jnp.log(0.05 / brightness)))


def bouton_halfsize(cfg: GeneratorConfig) -> int:
    """Static half-size of a bouton's window: its largest possible radius."""
    return max(
        math.floor(cfg.MaxThickness) + 1,
        math.ceil(cfg.bouton_size[1] * cfg.MaxThickness),
        math.floor(cfg.bouton_radius[1] + 0.5),
    )


def _size_factors(key: jax.Array, cfg: GeneratorConfig) -> jax.Array | None:
    """``[NBOU]`` radius factors ``U(bouton_size)`` (or radii ``U(bouton_radius)``); None for the
    original rule."""
    lo, hi = cfg.bouton_radius if cfg.bouton_radius != (0.0, 0.0) else cfg.bouton_size
    if (lo, hi) == (0.0, 0.0):
        return None
    return lo + rng.uniform(jax.random.fold_in(key, 1), (cfg.MaxNbBouton,)) * (hi - lo)


def candidate_points(scene: AxonScene, cfg: GeneratorConfig, bounds=None) -> jax.Array:
    """``[NB, NSP]`` centreline points a bouton may sit on: drawn, inside the image, not gap
    points (bug B3 reproduced in 'original' mode: gap indices taken as positions in the
    whole image's point list)."""
    ok = scene.branch_valid[:, None] & inside_image(scene.points, *(cfg.shape if bounds is None else bounds))
    if cfg.fixed:
        excluded = scene.gap
    else:
        any_gap = jnp.any(scene.gap & scene.branch_valid[:, None], axis=0)
        excluded = jnp.zeros_like(scene.gap).at[0].set(any_gap)
    return ok & ~excluded


def place_boutons(
    key: jax.Array,
    scene: AxonScene,
    cfg: GeneratorConfig,
    proposals: int = 32,
    *,
    bounds: tuple[jax.Array, jax.Array] | None = None,
    accept: Callable[[jax.Array], jax.Array] | None = None,
) -> Boutons:
    """Places the boutons of one image on its scene.

    Args:
      key: PRNG key.
      scene: the image's `AxonScene`.
      cfg: generator parameters (static).
      proposals: static number of location proposals per bouton.
      bounds: optional (possibly traced) image size within the static canvas (see
        `jaxaxon.synth.scene.draw_scene`).
      accept: optional extra rule ``centres [P, 2] -> [P] bool`` a proposal must pass
        (time series: inside the crop window of every frame).

    Returns:
      `Boutons` with ``MaxNbBouton`` slots.
    """
    nbou, nsp = cfg.MaxNbBouton, cfg.NSplinePoints
    height, width = cfg.shape if bounds is None else bounds
    if nbou == 0:  # no bouton slots at all (MaxNbBouton = 0)
        zeros_i = jnp.zeros((0,), jnp.int32)
        return Boutons(
            centre=jnp.zeros((0, 2), jnp.float32), valid=jnp.zeros((0,), bool), kind=zeros_i, radius=zeros_i,
            brightness=jnp.zeros((0,), jnp.float32), slot=zeros_i, point=zeros_i,
            branch_points=jnp.zeros((0, TERMINAL_POINTS, 2), jnp.float32), failed=jnp.int32(0),
        )  # fmt: skip
    per_bouton = 3 + 3 * proposals + 2  # kind, brightness, (count); point, rho, theta per proposal; m
    u = rng.uniform(key, (nbou, per_bouton))  # the stage's one random draw
    count = uniform_int(u[0, 2], cfg.MinNbBouton, cfg.MaxNbBouton)
    kind = (u[:, 0] < 0.5).astype(jnp.int32)
    bright_pct = uniform_int(u[:, 1], cfg.MinBrightnessBouton + 1, cfg.MaxBrightnessBouton - 1)
    brightness = bright_pct.astype(jnp.float32) / 100.0
    eligible = candidate_points(scene, cfg, bounds)
    index = jnp.arange(nsp)
    inner = eligible & (index > 0)[None, :] & (index < nsp - 1)[None, :]  # terminal: not first/last
    count_any = jnp.cumsum(eligible.ravel())
    count_inner = jnp.cumsum(inner.ravel())
    min_dist = cfg.minDistBetweenBoutons
    size = _size_factors(key, cfg)

    def body(carry, inputs):
        centres, placed = carry
        i, u = inputs
        u = u[3:]  # point, rho, theta per proposal; m
        terminal = kind[i] == TERMINAL
        counts = jnp.where(terminal, count_inner, count_any)
        # compare_all: one vectorised comparison instead of a loop of log2(N) steps
        flat = jnp.searchsorted(counts, uniform_int(u[:proposals], 1, jnp.maximum(counts[-1], 1)), method="compare_all")
        slot, point = flat // nsp, flat % nsp
        anchor = scene.points[slot, point]  # [P, 2]
        if size is None:
            radius = jnp.floor(scene.thickness[slot]) + 1.0
        elif cfg.bouton_radius != (0.0, 0.0):
            radius = jnp.full(slot.shape, jnp.maximum(jnp.round(size[i]), 1.0))
        else:
            radius = jnp.maximum(jnp.round(size[i] * scene.thickness[slot]), 1.0)
        # terminal: offset by rho towards the next point (previous one at a branch end), rotated by theta
        toward = scene.points[slot, jnp.minimum(point + 1, nsp - 1)] - anchor
        toward = jnp.where((point + 1 < nsp)[:, None], toward, anchor - scene.points[slot, jnp.maximum(point - 1, 0)])
        toward = toward / jnp.maximum(jnp.linalg.norm(toward, axis=-1, keepdims=True), 1e-6)
        rho = radius * (2.1 + u[proposals : 2 * proposals])
        lo = jnp.arcsin(jnp.clip(2 * radius / rho, -1.0, 1.0))
        theta = lo + (jnp.pi - 2 * lo) * u[2 * proposals : 3 * proposals]
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        rotated = jnp.stack([cos * toward[:, 0] - sin * toward[:, 1], sin * toward[:, 0] + cos * toward[:, 1]], -1)
        centre = jnp.where(terminal, jnp.round(anchor + rho[:, None] * rotated), jnp.round(anchor))
        dist = jnp.linalg.norm(centre[:, None, :] - centres[None, :, :], axis=-1)  # [P, NBOU]
        clear = jnp.all((dist > min_dist) | ~placed[None, :], axis=-1)
        in_image = inside_image(centre, height, width)
        acceptable = clear & jnp.where(terminal, in_image, True) & (counts[-1] > 0)
        if accept is not None:
            acceptable &= accept(centre)
        pick = jnp.argmax(acceptable)
        ok = acceptable[pick] & (i < count)
        # terminal branch: spline through point, mid(point, m), m, mid(m, centre), centre
        a, c = anchor[pick], centre[pick]
        m = jnp.minimum(a, c) + u[3 * proposals :] * jnp.abs(c - a)
        control = jnp.stack([a, (a + m) / 2, m, (m + c) / 2, c])
        branch = resample_spline(control, jnp.int32(5), TERMINAL_POINTS)
        out = dict(
            centre=c, ok=ok, slot=slot[pick].astype(jnp.int32), point=point[pick].astype(jnp.int32),
            radius=radius[pick].astype(jnp.int32), branch=jnp.where(terminal & ok, branch, 0.0),
        )  # fmt: skip
        centres = centres.at[i].set(c)
        placed = placed.at[i].set(ok)
        return (centres, placed), out

    init = (jnp.zeros((nbou, 2), jnp.float32), jnp.zeros((nbou,), bool))
    (centres, placed), out = jax.lax.scan(body, init, (jnp.arange(nbou), u))
    return Boutons(
        centre=jnp.where(placed[:, None], centres, 0.0),
        valid=placed,
        kind=kind,
        radius=out["radius"],
        brightness=brightness,
        slot=out["slot"],
        point=out["point"],
        branch_points=out["branch"],
        failed=jnp.sum((jnp.arange(nbou) < count) & ~placed).astype(jnp.int32),
    )


def bouton_contrast(
    boutons: Boutons, scene: AxonScene, cfg: GeneratorConfig, brightness: jax.Array | None = None, scale=1.0
) -> jax.Array:
    """``[NBOU]`` peak of each bouton over the peak of its axon's cross-section at the centreline
    point it hangs on (clean signal: ``variation / sqrt(2 pi) sigma_spread``).

    Args:
      boutons: placed `Boutons`.
      scene: the image's `AxonScene`.
      cfg: generator parameters (static).
      brightness: optional ``[NBOU]`` brightness overriding ``boutons.brightness``.
      scale: bouton brightness factor over the axon brightness factor of the image.
    """
    bright = boutons.brightness if brightness is None else brightness
    axon_peak = scene.variation[boutons.slot, boutons.point] / (math.sqrt(2 * math.pi) * cfg.sigma_spread)
    return bright * scale / jnp.maximum(axon_peak, 1e-6)


def render_boutons(
    key: jax.Array,
    boutons: Boutons,
    scene: AxonScene,
    pixel_noise: jax.Array,
    cfg: GeneratorConfig,
    visible: jax.Array | None = None,
    brightness: jax.Array | None = None,
    bounds=None,
    labelled: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Draws boutons and terminal branches (docs/original.md, step 4).

    Args:
      key: PRNG key (bouton distance noise).
      boutons: placed `Boutons`.
      scene: the image's `AxonScene` (terminal-branch intensity from the axon profile).
      pixel_noise: ``[H, W]`` the standard normal pixel-noise field of the axon image
        (1.8), shared by the terminal branches (scaled by ``sigma_noise_axon``).
      cfg: generator parameters (static).
      visible: optional ``[NBOU]`` bool, which boutons to draw (time series).
      brightness: optional ``[NBOU]`` brightness overriding ``boutons.brightness``.
      bounds: optional image box for the terminal branches' points
        (`jaxaxon.synth.raster.point_windows`).
      labelled: optional ``[NBOU]`` bool, which drawn boutons enter the mask and label
        (default: all of them).

    Returns:
      ``image [H, W]`` (boutons and terminal branches, merged by maximum), ``clean [H, W]``
      (the same without noise), ``mask [H, W]`` bool bouton mask and ``label [H, W]``
      int32 (1 + bouton slot of the bouton covering a pixel, 0 elsewhere).
    """
    height, width = cfg.shape
    show = boutons.valid if visible is None else boutons.valid & visible
    bright = boutons.brightness if brightness is None else brightness

    # terminal branches through the shared window geometry, thickness r / 2, merged by maximum:
    # one scatter-max of profile(d) * (value + noise) over every window pixel of every point.
    # This equals drawing each branch from its nearest-point distance map and taking the
    # maximum over branches: the profile falls with the distance, so the nearest point
    # gives the largest value wherever value + noise > 0, and where it is <= 0 the branch
    # does not show (the images start at 0), whichever point is used.
    terminal = show & (boutons.kind == TERMINAL)
    value = scene.variation[boutons.slot, boutons.point]
    noise = cfg.sigma_noise_axon * pixel_noise
    n_pix = height * width
    n_tp = boutons.branch_points.shape[1]
    half = bouton_halfsize(cfg)
    branch_half = max(cfg.raster_halfwidth, math.ceil(half / 2) + 1)  # terminal branch thickness r / 2
    flat_b, in_b, dist_b = point_windows(
        boutons.branch_points.reshape(-1, 2), jnp.repeat(terminal, n_tp),
        jnp.repeat(boutons.radius.astype(jnp.float32) / 2, n_tp), height, width, branch_half, bounds,
    )  # fmt: skip
    profile_b = gaussian_profile(jnp.where(in_b, dist_b, jnp.inf), 0.75 * cfg.sigma_spread)  # [NBOU * TP, W2]
    value_b = jnp.repeat(value, n_tp)[:, None]
    noise_b = noise.ravel().at[flat_b].get(mode="fill", fill_value=0.0)
    flat_b = flat_b.ravel()
    branch_img = jnp.zeros((n_pix,), jnp.float32).at[flat_b].max((profile_b * (value_b + noise_b)).ravel(), mode="drop")
    branch_clean = jnp.zeros((n_pix,), jnp.float32).at[flat_b].max((profile_b * value_b).ravel(), mode="drop")
    branch_img, branch_clean = branch_img.reshape(height, width), branch_clean.reshape(height, width)

    # bouton discs, scatter-max of a static (2R+1)^2 window per bouton
    span = jnp.arange(-half, half + 1)
    offsets = jnp.stack(jnp.meshgrid(span, span, indexing="ij"), -1).reshape(-1, 2)  # [W2, 2]
    pix = boutons.centre.astype(jnp.int32)[:, None, :] + offsets[None]  # [NBOU, W2, 2]
    radius = boutons.radius.astype(jnp.float32)[:, None]
    true_dist = jnp.linalg.norm(offsets.astype(jnp.float32), axis=-1)[None, :]
    inside = (jnp.abs(offsets).max(-1)[None, :] <= radius) & (true_dist < radius) & show[:, None]
    inside &= (pix[..., 0] >= 0) & (pix[..., 0] < height) & (pix[..., 1] >= 0) & (pix[..., 1] < width)
    noisy_dist = true_dist + cfg.sigma_noise_bouton * rng.normal(key, inside.shape)
    v = bouton_sigma(boutons.radius, bright)[:, None]
    b = bright[:, None]
    intensity = jnp.where(inside, b * jnp.exp(-(noisy_dist**2) / (2 * v**2)), 0.0)
    intensity_clean = jnp.where(inside, b * jnp.exp(-(true_dist**2) / (2 * v**2)), 0.0)
    flat = jnp.where(inside, pix[..., 0] * width + pix[..., 1], height * width).ravel()
    bouton_img = jnp.zeros((n_pix,), jnp.float32).at[flat].max(intensity.ravel(), mode="drop")
    bouton_clean = jnp.zeros((n_pix,), jnp.float32).at[flat].max(intensity_clean.ravel(), mode="drop")
    slot_id = jnp.broadcast_to(jnp.arange(1, boutons.valid.shape[0] + 1, dtype=jnp.int32)[:, None], inside.shape)
    in_label = inside if labelled is None else inside & labelled[:, None]
    label = jnp.zeros((n_pix,), jnp.int32).at[flat].max(jnp.where(in_label, slot_id, 0).ravel(), mode="drop")
    shape = (height, width)
    image = jnp.maximum(branch_img, bouton_img.reshape(shape))
    clean = jnp.maximum(branch_clean, bouton_clean.reshape(shape))
    return image, clean, label.reshape(shape) > 0, label.reshape(shape)
