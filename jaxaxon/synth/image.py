"""The single-image generator: composes the stages into `generate` (the original's getPatch)."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth import rng
from jaxaxon.synth.axons import render_axons
from jaxaxon.synth.boutons import bouton_contrast, place_boutons, render_boutons
from jaxaxon.synth.cells import place_cells, render_cells
from jaxaxon.synth.depth import project, render_defocused
from jaxaxon.synth.imaging import imaging_model
from jaxaxon.synth.imaging.output import to_output
from jaxaxon.synth.scene import AxonScene, draw_scenes, slot_axon_ids, slot_branch_ids

__all__ = ["Batch", "generate", "generate_axons", "example_keys", "as_key", "start_index_array"]


@dataclasses.dataclass(frozen=True)
class ImageFields:
    """The fields, in this order, that open both `Batch` and `jaxaxon.SeriesBatch` (each
    documents their shapes)."""

    image: jax.Array
    axon_mask: jax.Array
    bouton_mask: jax.Array
    bouton_label: jax.Array
    clean: jax.Array
    cell_mask: jax.Array
    centerlines: jax.Array
    centerline_valid: jax.Array
    point_axon_id: jax.Array
    point_branch_id: jax.Array
    gap: jax.Array
    variation: jax.Array
    thickness: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Batch(ImageFields):
    """A batch of generated images. Shapes ``[B, H, W]`` unless said otherwise; NB branch
    slots (``MaxAxons * MaxBran``), NSP centreline points, NBOU bouton slots.

    Attributes:
      image: float32 final image, integer-valued in 0..maxIntensity.
      axon_mask: bool ground-truth axon mask (continuous through gaps); with
        ``depth_labels='all'`` also the defocused axons.
      bouton_mask: bool bouton mask.
      bouton_label: int32, 1 + bouton slot at bouton pixels, 0 elsewhere.
      clean: float32 noise-free axons, terminal branches and boutons (no cells, background
        or pixel noise), scaled like the image to 0..maxIntensity; in depth modes with the
        defocused axons, projected like the image (`jaxaxon.synth.depth.project`).
      cell_mask: bool pixels covered by a cell (the distractors).
      centerlines: ``[B, NB, NSP, 2]`` float32 centreline points (row, col), 0-based.
      centerline_valid: ``[B, NB, NSP]`` bool.
      point_axon_id: ``[B, NB, NSP]`` int32 axon index of each point.
      point_branch_id: ``[B, NB, NSP]`` int32 branch index within its axon (0 = mother).
      gap: ``[B, NB, NSP]`` bool gap points.
      variation: ``[B, NB, NSP]`` float32 intensity profile along each branch.
      thickness: ``[B, NB]`` float32 branch thickness.
      parent_slot: ``[B, NB]`` int32 slot a daughter starts on (-1 for mothers).
      parent_index: ``[B, NB]`` int32 its start point index on the parent (-1 for mothers).
      bouton_centers: ``[B, NBOU, 2]`` float32 (row, col).
      bouton_valid: ``[B, NBOU]`` bool.
      bouton_kind: ``[B, NBOU]`` int32, 0 en passant, 1 terminal.
      bouton_radius: ``[B, NBOU]`` int32.
      bouton_brightness: ``[B, NBOU]`` float32.
      terminal_branches: ``[B, NBOU, 20, 2]`` float32 terminal-branch centrelines.
      scene_attempts: ``[B]`` int32 whole-scene draws used.
      failed_branches: ``[B]`` int32 branches left out (no acceptable candidate).
      failed_boutons: ``[B]`` int32 boutons left out.
      failed_cells: ``[B]`` int32 cells left out.
    """

    parent_slot: jax.Array
    parent_index: jax.Array
    bouton_centers: jax.Array
    bouton_valid: jax.Array
    bouton_kind: jax.Array
    bouton_radius: jax.Array
    bouton_brightness: jax.Array
    terminal_branches: jax.Array
    scene_attempts: jax.Array
    failed_branches: jax.Array
    failed_boutons: jax.Array
    failed_cells: jax.Array


def as_key(key: jax.Array | int) -> jax.Array:
    """A typed PRNG key from a typed key, a legacy ``uint32[2]`` key or an integer seed."""
    if isinstance(key, int):
        return jax.random.key(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(key)


def start_index_array(start_index: jax.Array | int) -> jax.Array | np.uint32:
    """The global index of a batch's first example as a uint32 scalar: one argument type
    whatever its spelling (Python int, NumPy or JAX scalar, or a traced value under an outer
    jit/vmap), so a jitted generator never compiles twice for the same config."""
    try:
        return np.uint32(int(start_index))  # concrete: converted on the host, no device op
    except (TypeError, jax.errors.ConcretizationTypeError):
        return jnp.asarray(start_index, jnp.uint32)  # traced


def example_keys(key: jax.Array, batch_size: int, start_index: jax.Array | int = 0) -> jax.Array:
    """``[B]`` per-example keys ``fold_in(key, start_index + i)``: example ``i`` of a stream
    depends only on the key and its global index, never on batch size or device layout."""
    index = jnp.asarray(start_index, jnp.uint32) + jnp.arange(batch_size, dtype=jnp.uint32)
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(index)


def _scene_keys(keys: jax.Array) -> jax.Array:
    """``[B]`` scene keys of the examples (the first of each example's 7 stage keys)."""
    return jax.vmap(lambda k: jax.random.split(k, 7)[0])(keys)


def _generate_one(key: jax.Array, scene: AxonScene, cfg: GeneratorConfig) -> dict:
    _, k_pixel, k_place, k_bouton, k_cells, k_params, k_noise = jax.random.split(key, 7)
    with jax.named_scope("render_axons"):
        pixel_noise = rng.normal(k_pixel, cfg.shape)
        axons = render_axons(pixel_noise, scene, cfg)
    scales = _brightness_scales(jax.random.fold_in(k_params, 1), cfg)
    with jax.named_scope("boutons"):
        boutons = place_boutons(k_place, scene, cfg)
        labelled = None
        if cfg.bouton_label_contrast > 0:  # faint boutons drawn, not labelled
            ratio = 1.0 if scales is None else scales[1] / scales[0]
            labelled = bouton_contrast(boutons, scene, cfg, scale=ratio) >= cfg.bouton_label_contrast
        bouton_img, bouton_clean, bouton_mask, bouton_label = render_boutons(
            k_bouton, boutons, scene, pixel_noise, cfg, labelled=labelled
        )
    axon_img, axon_clean = axons.image, axons.clean
    if scales is not None:  # domain randomisation of object brightness (never in 'original')
        axon_img, axon_clean = axon_img * scales[0], axon_clean * scales[0]
        bouton_img, bouton_clean = bouton_img * scales[1], bouton_clean * scales[1]
    before_cells = jnp.maximum(axon_img, bouton_img)
    with jax.named_scope("cells"):
        cells = place_cells(k_cells, before_cells != 0, cfg)
        cell_img = render_cells(cells, cfg)
    signal = jnp.maximum(before_cells, cell_img if scales is None else cell_img * scales[2])
    clean_signal = jnp.maximum(axon_clean, bouton_clean)
    axon_mask = axons.mask
    if cfg.depth_mode != "off":  # a 3-D slab: defocused axons and the projection (jaxaxon.synth.depth)
        with jax.named_scope("depth"):
            layer = render_defocused(jax.random.fold_in(k_params, 3), cfg)
            if scales is not None:
                layer = dataclasses.replace(layer, planes=layer.planes * scales[0])
            signal, clean_signal = project(signal, layer, cfg), project(clean_signal, layer, cfg)
            axon_mask = axon_mask | layer.mask
    with jax.named_scope("noise"):
        image = imaging_model(cfg.noise_model).image(k_params, k_noise, signal, cfg)
    clean = to_output(clean_signal, cfg)
    return dict(
        image=image,
        axon_mask=axon_mask,
        bouton_mask=bouton_mask,
        bouton_label=bouton_label,
        clean=clean,
        cell_mask=cell_img > 0,
        scene=scene,
        boutons=boutons,
        failed_cells=cells.failed,
    )


def _brightness_scales(key: jax.Array, cfg: GeneratorConfig) -> jax.Array | None:
    """Per-image factors ``[axon, bouton, cell]`` drawn from their ranges; None when every
    range is exactly 1 (the original behaviour, with no extra random draw)."""
    ranges = (cfg.axon_brightness, cfg.bouton_brightness, cfg.cell_brightness)
    if all(r == (1.0, 1.0) for r in ranges):
        return None
    lo = jnp.array([r[0] for r in ranges], jnp.float32)
    hi = jnp.array([r[1] for r in ranges], jnp.float32)
    return lo + rng.uniform(key, (3,)) * (hi - lo)


def scene_fields(scene: AxonScene, cfg: GeneratorConfig) -> dict:
    """The `Batch` fields of ``[B]`` scenes that every generator reports alike: per-point
    validity and ids ``[B, NB, NSP]``, gaps, profiles, thicknesses and the draw counts."""
    per_point = (scene.points.shape[0], cfg.max_branches, cfg.NSplinePoints)
    return dict(
        centerline_valid=jnp.broadcast_to(scene.branch_valid[:, :, None], per_point),
        point_axon_id=jnp.broadcast_to(slot_axon_ids(cfg)[None, :, None], per_point),
        point_branch_id=jnp.broadcast_to(slot_branch_ids(cfg)[None, :, None], per_point),
        gap=scene.gap,
        variation=scene.variation,
        thickness=scene.thickness,
        scene_attempts=scene.attempts,
        failed_branches=scene.failed_branches,
    )


def _to_batch(parts: dict, cfg: GeneratorConfig) -> Batch:
    scene, boutons = parts.pop("scene"), parts.pop("boutons")  # the rest are Batch fields
    return Batch(
        **parts,
        **scene_fields(scene, cfg),
        centerlines=scene.points,
        parent_slot=scene.parent_slot,
        parent_index=scene.parent_index,
        bouton_centers=boutons.centre,
        bouton_valid=boutons.valid,
        bouton_kind=boutons.kind,
        bouton_radius=boutons.radius,
        bouton_brightness=boutons.brightness,
        terminal_branches=boutons.branch_points,
        failed_boutons=boutons.failed,
    )


def generate(key: jax.Array, config: GeneratorConfig, batch_size: int, start_index: jax.Array | int = 0) -> Batch:
    """Generates a batch of complete surrogate two-photon images (the original's getPatch).

    Pure and jitted (``config`` and ``batch_size`` static, so equal configs never
    recompile); vmap and jit compose with it. Example ``i`` uses the key
    ``fold_in(key, start_index + i)``, so a dataset's image ``i`` depends only on the key
    and ``i``.

    Args:
      key: typed PRNG key (`jax.random.key`); legacy uint32 keys are accepted.
      config: `GeneratorConfig` (static).
      batch_size: number of images (static).
      start_index: global index of the first example (may be traced).

    Returns:
      A `Batch`.
    """
    # one compiled program per (config, batch_size): the start index is always a uint32 array
    return _generate_jit(as_key(key), config, batch_size, start_index_array(start_index))


@functools.partial(jax.jit, static_argnames=("config", "batch_size"))
def _generate_jit(key: jax.Array, config: GeneratorConfig, batch_size: int, start_index: jax.Array) -> Batch:
    keys = example_keys(key, batch_size, start_index)
    with jax.named_scope("scene"):  # named scopes label the ops in profiles (benchmarks/profile_generator.py)
        scenes = draw_scenes(_scene_keys(keys), config)
    parts = jax.vmap(lambda k, s: _generate_one(k, s, config))(keys, scenes)
    return _to_batch(parts, config)


generate._cache_size = _generate_jit._cache_size  # compiled programs (tests check no recompilation)


def generate_axons(key: jax.Array, config: GeneratorConfig, batch_size: int, start_index: jax.Array | int = 0) -> dict:
    """The axon part only (docs/original.md, steps 1-3): scene, axon image and axon mask.

    Uses the same per-example keys and scene as `generate`, so its centrelines and axon
    masks equal those of `generate` for the same key.

    Returns:
      A dict with ``image [B, H, W]`` (float32 axon intensity, docs/original.md, step 3, not rescaled),
      ``axon_mask [B, H, W]`` bool, ``distance [B, H, W]`` and the scene arrays
      ``centerlines``, ``centerline_valid``, ``point_axon_id``, ``point_branch_id``,
      ``gap``, ``variation``, ``thickness``, ``scene_attempts``, ``failed_branches``.
    """

    return _generate_axons_jit(as_key(key), config, batch_size, start_index_array(start_index))


@functools.partial(jax.jit, static_argnames=("config", "batch_size"))
def _generate_axons_jit(key: jax.Array, config: GeneratorConfig, batch_size: int, start_index: jax.Array) -> dict:
    def one(k, scene):
        k_pixel = jax.random.split(k, 7)[1]
        return render_axons(rng.normal(k_pixel, config.shape), scene, config)

    keys = example_keys(key, batch_size, start_index)
    scene = draw_scenes(_scene_keys(keys), config)
    axons = jax.vmap(one)(keys, scene)
    return dict(
        image=axons.image,
        axon_mask=axons.mask,
        distance=axons.distance,
        centerlines=scene.points,
        **scene_fields(scene, config),
    )
