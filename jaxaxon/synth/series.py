"""Time series of surrogate images (docs/original.md, time series, the original's getSeries).

The axons are drawn once on a padded canvas; frame ``t`` rotates every centreline point
about the canvas centre by its own integer angle (frame 0: no rotation) and re-renders
axons, terminal branches and boutons through the single-image stages. Boutons are chosen
once, follow the rotated axon, stay inside every frame's crop window, and each shows in a
run of frames with a linear brightness ramp. Cells are placed once and do not rotate. The
imaging model (`GeneratorConfig.noise_model`) images every frame with the same acquisition
parameters, drawn once per series, and the series' maximum signal as full scale; each frame
gets its own noise, is cut at its own random offset and scaled to the output on its own.
In depth modes one defocused population (`jaxaxon.synth.depth`) is drawn per series and
rotates with the frames like the scene.

Coordinates: the padded canvas (side ``view + 2 p``) holds the scene; the "view" is the
canvas without its padding (side ``H + rowshift - 1`` by ``W + colshift - 1``), where noise
is added; a frame is the ``H x W`` crop of the view at offset ``shift - 1``. Rendering
works on the view directly, with the canvas as the image box, so points in the padding
still contribute their windows.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth import rng
from jaxaxon.synth.axons import render_axons
from jaxaxon.synth.boutons import Boutons, bouton_contrast, place_boutons, render_boutons
from jaxaxon.synth.cells import place_cells, render_cells
from jaxaxon.synth.depth import draw_defocused, project, render_lines
from jaxaxon.synth.draws import uniform_int
from jaxaxon.synth.image import ImageFields, as_key, example_keys, scene_fields, start_index_array
from jaxaxon.synth.imaging import imaging_model
from jaxaxon.synth.imaging.output import to_output
from jaxaxon.synth.scene import draw_scene

__all__ = ["SeriesBatch", "generate_series", "padding_table", "series_geometry"]

COMPAT_SERIES_THICKNESS = 3.0  # bug B6: the original redraws frames 2..T with thickness 3


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SeriesBatch(ImageFields):
    """A batch of time series: ``[B, T, H, W]`` unless said otherwise (T = NbImages).

    Attributes:
      image: float32 frames, integer-valued in 0..maxIntensity.
      axon_mask: bool axon mask of each frame.
      bouton_mask: bool bouton mask of each frame (only boutons shown in that frame).
      bouton_label: int32 persistent bouton id + 1 at bouton pixels (0 elsewhere): the
        same bouton has the same label in every frame it shows in.
      clean: float32 noise-free frames (axons, terminal branches, shown boutons).
      cell_mask: bool pixels covered by a cell (cells are static in the view, so they move
        only with the frames' crop offsets).
      centerlines: ``[B, T, NB, NSP, 2]`` float32 centreline points in frame coordinates.
      centerline_valid: ``[B, T, NB, NSP]`` bool.
      point_axon_id: ``[B, NB, NSP]`` int32; point_branch_id: ``[B, NB, NSP]`` int32.
      gap: ``[B, NB, NSP]`` bool; variation: ``[B, NB, NSP]``; thickness: ``[B, NB]``.
      bouton_centers: ``[B, T, NBOU, 2]`` float32 bouton centres in frame coordinates.
      bouton_valid: ``[B, NBOU]`` bool, the bouton exists (placed).
      bouton_kind: ``[B, NBOU]`` int32, 0 en passant, 1 terminal.
      bouton_radius: ``[B, NBOU]`` int32.
      bouton_first_frame: ``[B, NBOU]`` int32 first frame it shows in (0-based).
      bouton_duration: ``[B, NBOU]`` int32 number of frames it shows in.
      bouton_visible: ``[B, NBOU, T]`` bool, shown in frame t (appearance: visible[t] and
        not visible[t-1]; disappearance: the reverse).
      bouton_brightness: ``[B, NBOU, T]`` float32 peak brightness per frame (0 when hidden).
      rotation_deg: ``[B, T]`` int32 rotation of each frame (0 for frame 0).
      shift: ``[B, T, 2]`` int32 crop offset of each frame in the view, ``0..rowshift-1``
        and ``0..colshift-1`` (the original's 1-based offsets minus one).
      padding: ``[B]`` int32 canvas padding ``p``.
      scene_attempts, failed_branches, failed_boutons, failed_cells: ``[B]`` int32.
    """

    bouton_centers: jax.Array
    bouton_valid: jax.Array
    bouton_kind: jax.Array
    bouton_radius: jax.Array
    bouton_first_frame: jax.Array
    bouton_duration: jax.Array
    bouton_visible: jax.Array
    bouton_brightness: jax.Array
    rotation_deg: jax.Array
    shift: jax.Array
    padding: jax.Array
    scene_attempts: jax.Array
    failed_branches: jax.Array
    failed_boutons: jax.Array
    failed_cells: jax.Array


def padding_table(cfg: GeneratorConfig) -> np.ndarray:
    """``p(m) = round(max(W, H) * (sqrt(2) - 1 / cos(45 deg - m deg)))`` for the largest
    drawn angle ``m = 0..maxRotAngle`` (docs/original.md, time series)."""
    side = max(cfg.width, cfg.height)
    m = np.arange(cfg.maxRotAngle + 1, dtype=np.float64)
    return np.round(side * (np.sqrt(2.0) - 1.0 / np.cos(np.radians(45.0 - m)))).astype(np.int32)


@functools.lru_cache(maxsize=32)
def series_geometry(cfg: GeneratorConfig) -> tuple[GeneratorConfig, GeneratorConfig, int]:
    """Static configs of a series: the largest padded canvas, the view, and ``p_max``."""
    p_max = int(padding_table(cfg).max())
    view_h, view_w = cfg.height + cfg.rowshift - 1, cfg.width + cfg.colshift - 1
    canvas = cfg.replace(height=view_h + 2 * p_max, width=view_w + 2 * p_max)
    view = cfg.replace(height=view_h, width=view_w)
    return canvas, view, p_max


def _rotate(points: jax.Array, degrees: jax.Array, centre: jax.Array) -> jax.Array:
    """Rotates ``[..., 2]`` (row, col) points about ``centre`` by ``degrees``."""
    theta = jnp.deg2rad(degrees.astype(jnp.float32))
    c, s = jnp.cos(theta), jnp.sin(theta)
    d = points - centre
    return jnp.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], -1) + centre


def _bouton_timing(u: jax.Array, boutons: Boutons, cfg: GeneratorConfig):
    """First frame, duration, per-frame visibility and brightness ramp of every bouton."""
    n_frames = cfg.NbImages
    first = jnp.where(u[:, 0] < cfg.probBoutonInFirstImage, 0, uniform_int(u[:, 1], 1, max(n_frames - 1, 1)))
    first = jnp.minimum(first, n_frames - 1)
    if not cfg.fixed:  # bug B7: the first bouton only shows in the last frame
        first = first.at[0].set(n_frames - 1)
    room = n_frames - first
    duration = uniform_int(u[:, 2], jnp.minimum(2, room), room)
    if not cfg.fixed:
        duration = duration.at[0].set(1)
    end_pct = uniform_int(u[:, 3], cfg.MinBrightnessBouton + 1, cfg.MaxBrightnessBouton - 1)
    end = end_pct.astype(jnp.float32) / 100.0
    t = jnp.arange(n_frames)[None, :]
    visible = boutons.valid[:, None] & (t >= first[:, None]) & (t < (first + duration)[:, None])
    ramp = (t - first[:, None]) / jnp.maximum(duration - 1, 1)[:, None]
    brightness = boutons.brightness[:, None] + (end - boutons.brightness)[:, None] * ramp
    return first, duration, visible, jnp.where(visible, brightness, 0.0)


def _series_one(key: jax.Array, cfg: GeneratorConfig) -> dict:
    n_frames, (height, width) = cfg.NbImages, cfg.shape
    canvas_cfg, view_cfg, _ = series_geometry(cfg)
    view_h, view_w = view_cfg.shape
    keys = jax.random.split(key, 8)
    k_geom, k_scene, k_place, k_time, k_cells, k_params = keys[:6]
    k_pixel, k_frames = keys[6], keys[7]

    # per-frame rotation (frame 0: none) and crop offsets; padding from the largest angle
    u = rng.uniform(k_geom, (n_frames, 3))
    angles = jnp.where(jnp.arange(n_frames) == 0, 0, uniform_int(u[:, 0], -cfg.maxRotAngle, cfg.maxRotAngle))
    shift = jnp.stack([uniform_int(u[:, 1], 0, cfg.rowshift - 1), uniform_int(u[:, 2], 0, cfg.colshift - 1)], -1)
    pad = jnp.asarray(padding_table(cfg))[jnp.max(jnp.abs(angles))]
    canvas_h, canvas_w = view_h + 2 * pad, view_w + 2 * pad
    centre = jnp.stack([canvas_h - 1, canvas_w - 1]).astype(jnp.float32) / 2.0

    def to_view(points, t):  # canvas -> view coordinates of frame t
        return _rotate(points, angles[t], centre) - pad.astype(jnp.float32)

    def to_frame(points, t):  # canvas -> frame coordinates
        return to_view(points, t) - shift[t].astype(jnp.float32)

    scene = draw_scene(k_scene, canvas_cfg, bounds=(canvas_h, canvas_w))

    def inside_every_frame(centres):  # [P, 2] canvas centres -> [P]
        frames = jnp.round(jax.vmap(lambda t: to_frame(centres, t))(jnp.arange(n_frames)))  # [T, P, 2]
        ok = (frames[..., 0] >= 0) & (frames[..., 0] <= height - 1) & (frames[..., 1] >= 0) & (frames[..., 1] <= width - 1)
        return jnp.all(ok, axis=0)

    boutons = place_boutons(k_place, scene, canvas_cfg, bounds=(canvas_h, canvas_w), accept=inside_every_frame)
    first, duration, visible, brightness = _bouton_timing(
        rng.uniform(k_time, (cfg.MaxNbBouton, 4)), boutons, cfg
    )
    view_box = (-pad, -pad, canvas_h - pad, canvas_w - pad)  # the canvas, in view coordinates
    thick_frames = jnp.where(
        (jnp.arange(n_frames) > 0)[:, None] & (not cfg.fixed), COMPAT_SERIES_THICKNESS, scene.thickness[None, :]
    )
    halfwidth = view_cfg.raster_halfwidth if cfg.fixed else max(view_cfg.raster_halfwidth, 4)
    pixel_noise = rng.normal(k_pixel, (n_frames, view_h, view_w))
    frame_keys = jax.random.split(k_frames, n_frames)

    def render_frame(t):
        frame_scene = dataclasses.replace(scene, points=to_view(scene.points, t), thickness=thick_frames[t])
        axons = render_axons(pixel_noise[t], frame_scene, view_cfg, view_box, halfwidth)
        frame_boutons = dataclasses.replace(
            boutons,
            centre=jnp.round(to_view(boutons.centre, t)),
            branch_points=to_view(boutons.branch_points, t),
        )
        labelled = None
        if cfg.bouton_label_contrast > 0:  # faint boutons drawn, not labelled
            contrast = bouton_contrast(frame_boutons, frame_scene, view_cfg, brightness[:, t])
            labelled = contrast >= cfg.bouton_label_contrast
        bouton_img, bouton_clean, bouton_mask, bouton_label = render_boutons(
            jax.random.fold_in(frame_keys[t], 0), frame_boutons, frame_scene, pixel_noise[t], view_cfg,
            visible=visible[:, t], brightness=brightness[:, t], bounds=view_box, labelled=labelled,
        )  # fmt: skip
        return dict(
            signal=jnp.maximum(axons.image, bouton_img),
            clean=jnp.maximum(axons.clean, bouton_clean),
            axon_mask=axons.mask,
            bouton_mask=bouton_mask,
            bouton_label=bouton_label,
        )

    frames = jax.vmap(render_frame)(jnp.arange(n_frames))
    cells = place_cells(k_cells, frames["signal"][0] != 0, view_cfg)  # placed once, on frame 0
    cell_img = render_cells(cells, view_cfg)
    signal = jnp.maximum(frames["signal"], cell_img[None])
    if cfg.depth_mode != "off":  # one defocused population, rotated with the frames (jaxaxon.synth.depth)
        signal, frames = _defocus_frames(jax.random.fold_in(k_params, 3), signal, frames, angles, view_cfg)
    peak = jnp.max(signal)  # one intensity scale for the whole series
    model = imaging_model(cfg.noise_model)
    params = model.draw_params(k_params, cfg)  # one microscope for the whole series

    def finish(t):
        detector = model.apply(jax.random.fold_in(frame_keys[t], 1), signal[t], params, view_cfg, peak)

        def crop(x):
            return jax.lax.dynamic_slice(x, (shift[t, 0], shift[t, 1]), (height, width))

        return dict(
            image=model.to_output(crop(detector), cfg),
            clean=to_output(crop(frames["clean"][t]), cfg),
            axon_mask=crop(frames["axon_mask"][t]),
            bouton_mask=crop(frames["bouton_mask"][t]),
            bouton_label=crop(frames["bouton_label"][t]),
            cell_mask=crop(cell_img > 0),
            centerlines=to_frame(scene.points, t),
            bouton_centers=jnp.round(to_frame(boutons.centre, t)),
        )

    out = jax.vmap(finish)(jnp.arange(n_frames))
    return dict(
        **out,
        scene=scene,
        boutons=boutons,
        bouton_first_frame=first,
        bouton_duration=duration,
        bouton_visible=visible,
        bouton_brightness=brightness,
        rotation_deg=angles,
        shift=shift,
        padding=pad,
        failed_cells=cells.failed,
    )


def _defocus_frames(key: jax.Array, signal: jax.Array, frames: dict, angles: jax.Array, view_cfg: GeneratorConfig):
    """Depth modes in a series: the defocused axons are drawn once in the view and rotated
    with each frame about the view's centre (the canvas centre, which the scene rotates
    about); each frame's signal and clean image are projected with them, and with
    ``depth_labels='all'`` its axon mask covers them.

    Returns:
      ``signal [T, Hv, Wv]`` and ``frames`` with ``clean`` and ``axon_mask`` replaced.
    """
    axons = draw_defocused(key, view_cfg)
    centre = jnp.array([view_cfg.height - 1, view_cfg.width - 1], jnp.float32) / 2.0

    def one(t):
        layer = render_lines(dataclasses.replace(axons, points=_rotate(axons.points, angles[t], centre)), view_cfg)
        return project(signal[t], layer, view_cfg), project(frames["clean"][t], layer, view_cfg), layer.mask

    signal, clean, mask = jax.vmap(one)(jnp.arange(angles.shape[0]))
    return signal, dict(frames, clean=clean, axon_mask=frames["axon_mask"] | mask)


def generate_series(key: jax.Array, config: GeneratorConfig, batch_size: int, start_index: jax.Array | int = 0) -> SeriesBatch:
    """Generates a batch of ``batch_size`` time series of ``NbImages`` frames (the original's
    getSeries): a `SeriesBatch`. Arguments, keys and compilation as in `jaxaxon.generate`,
    series ``i`` using the key ``fold_in(key, start_index + i)``. Depth modes: one
    defocused population per series, rotated with the frames (`_defocus_frames`)."""
    return _generate_series_jit(as_key(key), config, batch_size, start_index_array(start_index))


@functools.partial(jax.jit, static_argnames=("config", "batch_size"))
def _generate_series_jit(key: jax.Array, config: GeneratorConfig, batch_size: int, start_index: jax.Array) -> SeriesBatch:
    keys = example_keys(key, batch_size, start_index)
    parts = jax.vmap(lambda k: _series_one(k, config))(keys)
    scene, boutons = parts.pop("scene"), parts.pop("boutons")  # the rest are SeriesBatch fields
    fields = scene_fields(scene, config)
    per_frame = (batch_size, config.NbImages, config.max_branches, config.NSplinePoints)
    return SeriesBatch(
        **parts,
        **dict(fields, centerline_valid=jnp.broadcast_to(fields["centerline_valid"][:, None], per_frame)),
        bouton_valid=boutons.valid,
        bouton_kind=boutons.kind,
        bouton_radius=boutons.radius,
        failed_boutons=boutons.failed,
    )
