"""Tests of jaxaxon/synth/image.py: the public `generate` (docs/original.md, steps 1-6 composed)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxaxon
from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.image import generate_axons

from .helpers import GEN_BATCH, footprint_np, generated

B = GEN_BATCH


def _assert_batches_equal(a, b):
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a, b)


def _slice(batch, sl):
    return jax.tree.map(lambda x: np.asarray(x)[sl], batch)


def test_shapes_and_dtypes(small_cfg):
    cfg = small_cfg
    batch = jaxaxon.generate(jax.random.key(0), cfg, B, 0)
    assert isinstance(batch, jaxaxon.Batch)
    h, w = cfg.shape
    nb, nsp, nbou = cfg.max_branches, cfg.NSplinePoints, cfg.MaxNbBouton
    expected = dict(
        image=((B, h, w), jnp.float32), axon_mask=((B, h, w), jnp.bool_), bouton_mask=((B, h, w), jnp.bool_),
        bouton_label=((B, h, w), jnp.int32), clean=((B, h, w), jnp.float32), cell_mask=((B, h, w), jnp.bool_),
        centerlines=((B, nb, nsp, 2), jnp.float32),
        centerline_valid=((B, nb, nsp), jnp.bool_), point_axon_id=((B, nb, nsp), jnp.int32),
        point_branch_id=((B, nb, nsp), jnp.int32), gap=((B, nb, nsp), jnp.bool_), variation=((B, nb, nsp), jnp.float32),
        thickness=((B, nb), jnp.float32), parent_slot=((B, nb), jnp.int32), parent_index=((B, nb), jnp.int32),
        bouton_centers=((B, nbou, 2), jnp.float32), bouton_valid=((B, nbou), jnp.bool_), bouton_kind=((B, nbou), jnp.int32),
        bouton_radius=((B, nbou), jnp.int32), bouton_brightness=((B, nbou), jnp.float32),
        terminal_branches=((B, nbou, 20, 2), jnp.float32), scene_attempts=((B,), jnp.int32),
        failed_branches=((B,), jnp.int32), failed_boutons=((B,), jnp.int32), failed_cells=((B,), jnp.int32),
    )  # fmt: skip
    for name, (shape, dtype) in expected.items():
        value = getattr(batch, name)
        assert value.shape == shape, name
        assert value.dtype == dtype, name
    # ids per point follow the slot layout (slot = axon * MaxBran + branch)
    slot = np.arange(nb)
    np.testing.assert_array_equal(batch.point_axon_id, np.broadcast_to((slot // cfg.MaxBran)[None, :, None], (B, nb, nsp)))
    np.testing.assert_array_equal(batch.point_branch_id, np.broadcast_to((slot % cfg.MaxBran)[None, :, None], (B, nb, nsp)))
    # Batch is a pytree
    assert len(jax.tree.leaves(batch)) == len(expected)


def test_deterministic_and_key_dependent(small_cfg):
    a = generated(small_cfg, 0)
    _assert_batches_equal(a, jaxaxon.generate(jax.random.key(0), small_cfg, B, 0))
    b = generated(small_cfg, 1)
    assert not np.array_equal(a.image, b.image)
    # the examples of one batch differ from each other
    assert len({a.image[i].tobytes() for i in range(B)}) == B


def test_per_example_keys_do_not_depend_on_batch_size(small_cfg):
    big = jaxaxon.generate(jax.random.key(0), small_cfg, 2 * B, 0)
    _assert_batches_equal(_slice(big, slice(0, B)), generated(small_cfg, 0))
    _assert_batches_equal(_slice(big, slice(B, 2 * B)), generated(small_cfg, 0, B))


def test_start_index_shifts_the_stream(small_cfg):
    a, b = generated(small_cfg, 0, 0), generated(small_cfg, 0, 4)
    _assert_batches_equal(_slice(a, slice(4, B)), _slice(b, slice(0, B - 4)))
    assert not np.array_equal(a.image[0], b.image[0])


def test_under_outer_jit_and_vmap_over_keys_and_start_indices(small_cfg):
    """`generate` composes with an outer jit and vmap (one compilation for both: the outer jit
    traces the vmap; the start index is a traced value)."""
    keys = jnp.stack([jax.random.key(0), jax.random.key(1)])
    starts = jnp.array([4, 0], jnp.int32)
    out = jax.jit(jax.vmap(lambda k, s: jaxaxon.generate(k, small_cfg, B, s)))(keys, starts)
    assert out.image.shape == (2, B, *small_cfg.shape)
    _assert_batches_equal(_slice(out, 0), generated(small_cfg, 0, 4))
    _assert_batches_equal(_slice(out, 1), generated(small_cfg, 1))


def test_no_recompilation_for_an_equal_config(small_cfg):
    generated(small_cfg, 0)  # compiled (and cached) once
    keys = [jax.random.key(i) for i in (5, 6, 7)]  # made outside the watched block (eager ops compile)
    jax_start = jnp.int32(3)
    events: list[str] = []

    def listener(name, *args, **kwargs):
        events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    size_before = jaxaxon.generate._cache_size() if hasattr(jaxaxon.generate, "_cache_size") else None
    try:
        equal = GeneratorConfig.from_dict(small_cfg.to_dict())  # a distinct but equal object
        assert equal is not small_cfg and equal == small_cfg
        jax.block_until_ready(jaxaxon.generate(keys[0], equal, B, 0))
        jax.block_until_ready(jaxaxon.generate(keys[1], small_cfg.replace(), B, 17))
        # however the start index is spelled (default, keyword, NumPy or JAX scalar)
        jax.block_until_ready(jaxaxon.generate(keys[2], small_cfg, B))
        jax.block_until_ready(jaxaxon.generate(keys[2], small_cfg, B, start_index=3))
        jax.block_until_ready(jaxaxon.generate(keys[2], small_cfg, B, np.int64(3)))
        jax.block_until_ready(jaxaxon.generate(keys[2], small_cfg, B, jax_start))
    finally:
        unregister = getattr(jax.monitoring, "unregister_event_duration_listener", None)
        if unregister is not None:
            unregister(listener)
    compiles = [e for e in events if "compile" in e or "trace" in e]
    assert compiles == [], compiles
    if size_before is not None:
        assert jaxaxon.generate._cache_size() == size_before


def _check_batch_values(b, cfg):
    for name in ("image", "clean", "centerlines", "variation", "thickness", "bouton_centers", "bouton_brightness", "terminal_branches"):
        assert not np.isnan(getattr(b, name)).any(), name
    for name in ("image", "clean"):
        img = getattr(b, name)
        np.testing.assert_array_equal(img, np.floor(img))
        assert img.min() >= 0 and img.max() <= cfg.maxIntensity
    if not cfg.negative_image:
        np.testing.assert_array_equal(b.image.max(axis=(1, 2)), cfg.maxIntensity)
    for name in ("axon_mask", "bouton_mask", "centerline_valid", "gap", "bouton_valid"):
        assert getattr(b, name).dtype == bool
    np.testing.assert_array_equal(b.bouton_mask, b.bouton_label > 0)


def test_values_masks_and_clean_image(small_cfg):
    cfg = small_cfg
    b = generated(cfg, 0)
    _check_batch_values(b, cfg)
    h, w = cfg.shape
    rows, cols = np.mgrid[:h, :w]
    for i in range(B):
        assert b.axon_mask[i].any() and b.bouton_mask[i].any()
        np.testing.assert_array_equal(b.clean[i].max(), cfg.maxIntensity)
        # the clean image is zero wherever no axon window, terminal branch window or bouton disc reaches
        support = np.zeros((h, w), bool)
        for s in np.flatnonzero(b.centerline_valid[i, :, 0]):
            support |= footprint_np(b.centerlines[i, s], float(b.thickness[i, s]), h, w)
        for j in np.flatnonzero(b.bouton_valid[i]):
            r = int(b.bouton_radius[i, j])
            support |= np.hypot(rows - b.bouton_centers[i, j, 0], cols - b.bouton_centers[i, j, 1]) < r
            if b.bouton_kind[i, j] == 1:
                support |= footprint_np(b.terminal_branches[i, j], r / 2, h, w)
        assert not np.any(b.clean[i][~support]), i
        # ... and bright on the axons: the clean image is the signal the mask describes
        assert b.clean[i][b.axon_mask[i] | b.bouton_mask[i]].mean() > 5 * max(b.clean[i][~support].mean(), 1e-9)
        # bouton mask pixels lie within the radius of a valid bouton
        near = np.zeros((h, w), bool)
        for j in np.flatnonzero(b.bouton_valid[i]):
            near |= np.hypot(rows - b.bouton_centers[i, j, 0], cols - b.bouton_centers[i, j, 1]) < b.bouton_radius[i, j]
        np.testing.assert_array_equal(b.bouton_mask[i], near)
        assert int(b.bouton_valid[i].sum()) + int(b.failed_boutons[i]) in range(cfg.MinNbBouton, cfg.MaxNbBouton + 1)
    # the image is brighter on the axons than off them (through noise and cells)
    assert np.mean(b.image[b.axon_mask]) > np.mean(b.image[~b.axon_mask & ~b.bouton_mask])


def test_generate_axons_matches_generate(small_cfg):
    full = generated(small_cfg, 0)
    axons = jax.tree.map(np.asarray, generate_axons(jax.random.key(0), small_cfg, B))
    for name in ("axon_mask", "centerlines", "centerline_valid", "point_axon_id", "point_branch_id", "gap", "variation", "thickness", "failed_branches"):
        np.testing.assert_array_equal(axons[name], getattr(full, name), err_msg=name)
    np.testing.assert_array_equal(axons["scene_attempts"], full.scene_attempts)
    assert axons["image"].shape == (B, *small_cfg.shape) and not np.isnan(axons["image"]).any()
    np.testing.assert_array_equal(axons["axon_mask"], axons["distance"] < small_cfg.SegmentationThreshold)
    assert np.all(axons["image"][np.isinf(axons["distance"])] == 0)


def test_compat_original_runs(original_cfg):
    b = generated(original_cfg, 0)
    _check_batch_values(b, original_cfg)
    assert b.axon_mask.any(axis=(1, 2)).all()
    assert np.all(b.scene_attempts >= 1) and np.all(b.scene_attempts <= original_cfg.n_scene_attempts)



def test_no_bouton_and_no_cell_slots(small_cfg):
    """MaxNbBouton = 0 and MaxNbCircles = 0 are valid parameters: the stages have no slots."""
    from jaxaxon.synth.boutons import place_boutons
    from jaxaxon.synth.cells import place_cells
    from jaxaxon.synth.scene import draw_scene

    cfg = small_cfg.replace(MinNbBouton=0, MaxNbBouton=0, MinNbCircles=0, MaxNbCircles=0)
    scene = jax.jit(lambda k: draw_scene(k, cfg))(jax.random.key(0))
    assert place_boutons(jax.random.key(1), scene, cfg).centre.shape == (0, 2)
    assert place_cells(jax.random.key(2), jnp.zeros(cfg.shape, bool), cfg).canvas.shape[0] == 0
    batch = jaxaxon.generate(jax.random.key(3), cfg, B, 0)
    assert not np.asarray(batch.bouton_mask).any() and not np.asarray(batch.cell_mask).any()
    assert np.asarray(batch.axon_mask).any()
    assert np.asarray(batch.image).max() == cfg.maxIntensity
