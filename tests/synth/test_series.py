"""Time series (docs/original.md, time series): shapes, determinism, jit/vmap, geometry and bouton life cycles."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

import jaxaxon
from jaxaxon.synth.series import generate_series, padding_table, series_geometry

from ..conftest import SMALL

# one series config for the whole module (each distinct config is one compilation)
SERIES = SMALL.replace(NbImages=4, maxRotAngle=4, probBoutonInFirstImage=0.3)
COMPAT = SERIES.replace(compat="original")
BATCH = 3


@pytest.fixture(scope="module")
def series() -> jaxaxon.SeriesBatch:
    return generate_series(jax.random.key(42), SERIES, BATCH)


def test_shapes_and_dtypes(series):
    t, h, w = SERIES.NbImages, SERIES.height, SERIES.width
    nb, nsp, nbou = SERIES.max_branches, SERIES.NSplinePoints, SERIES.MaxNbBouton
    assert series.image.shape == (BATCH, t, h, w) and series.image.dtype == jnp.float32
    for name in ("axon_mask", "bouton_mask"):
        assert getattr(series, name).shape == (BATCH, t, h, w) and getattr(series, name).dtype == jnp.bool_
    assert series.bouton_label.shape == (BATCH, t, h, w)
    assert series.clean.shape == (BATCH, t, h, w)
    assert series.centerlines.shape == (BATCH, t, nb, nsp, 2)
    assert series.centerline_valid.shape == (BATCH, t, nb, nsp)
    assert series.bouton_centers.shape == (BATCH, t, nbou, 2)
    assert series.bouton_visible.shape == (BATCH, nbou, t)
    assert series.bouton_brightness.shape == (BATCH, nbou, t)
    assert series.rotation_deg.shape == (BATCH, t) and series.shift.shape == (BATCH, t, 2)


def test_images_integer_valued_in_range(series):
    img = np.asarray(series.image)
    assert np.all(np.isfinite(img)) and np.all(img == np.round(img))
    assert img.min() >= 0 and img.max() <= SERIES.maxIntensity
    # every frame is normalised to maxIntensity by its own maximum
    assert np.all(img.reshape(BATCH, SERIES.NbImages, -1).max(-1) == SERIES.maxIntensity)


def test_determinism_and_per_example_keys(series):
    again = generate_series(jax.random.key(42), SERIES, BATCH)
    assert np.array_equal(np.asarray(again.image), np.asarray(series.image))
    # series i depends only on (key, start_index + i)
    tail = generate_series(jax.random.key(42), SERIES, BATCH, start_index=1)
    assert np.array_equal(np.asarray(tail.image[0]), np.asarray(series.image[1]))
    assert np.array_equal(np.asarray(tail.axon_mask[1]), np.asarray(series.axon_mask[2]))


def test_under_outer_jit_and_vmap(series):
    jitted = jax.jit(lambda k: generate_series(k, SERIES, BATCH).image)(jax.random.key(42))
    assert np.array_equal(np.asarray(jitted), np.asarray(series.image))
    keys = jax.random.split(jax.random.key(5), 2)
    stacked = jax.vmap(lambda k: generate_series(k, SERIES, BATCH).axon_mask)(keys)
    assert stacked.shape == (2, BATCH, SERIES.NbImages, SERIES.height, SERIES.width)
    single = generate_series(keys[1], SERIES, BATCH).axon_mask
    assert np.array_equal(np.asarray(stacked[1]), np.asarray(single))


def test_rotation_angles_and_offsets_within_bounds(series):
    angles = np.asarray(series.rotation_deg)
    assert np.all(angles[:, 0] == 0)
    assert np.all(np.abs(angles) <= SERIES.maxRotAngle)
    shift = np.asarray(series.shift)
    assert np.all(shift >= 0)
    assert np.all(shift[..., 0] <= SERIES.rowshift - 1) and np.all(shift[..., 1] <= SERIES.colshift - 1)
    pad = np.asarray(series.padding)
    table = padding_table(SERIES)
    assert np.array_equal(pad, table[np.abs(angles).max(axis=1)])


def test_padding_formula():
    cfg = jaxaxon.GeneratorConfig()
    m = np.arange(cfg.maxRotAngle + 1)
    expected = np.round(256 * (np.sqrt(2) - 1 / np.cos(np.radians(45 - m))))
    assert np.array_equal(padding_table(cfg), expected)
    assert padding_table(cfg)[0] == 0


def test_centrelines_follow_the_rotation(series):
    """Frame t's centreline is frame 0's rotated about the canvas centre by the frame's angle
    (minus the padding and the crop offsets)."""
    _, view, _ = series_geometry(SERIES)
    for b in range(BATCH):
        pad = int(series.padding[b])
        canvas = np.array(view.shape) + 2 * pad
        centre = (canvas - 1) / 2.0
        pts0 = np.asarray(series.centerlines[b, 0]) + np.asarray(series.shift[b, 0]) + pad  # canvas coordinates
        for t in range(1, SERIES.NbImages):
            theta = np.radians(float(series.rotation_deg[b, t]))
            rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            expected = (pts0 - centre) @ rot.T + centre - pad - np.asarray(series.shift[b, t])
            assert np.allclose(np.asarray(series.centerlines[b, t]), expected, atol=1e-3)


def test_axon_mask_is_the_rasterised_rotated_centreline(series):
    """The axon mask of frame t equals the pixels closer than SegmentationThreshold to the
    frame's centreline points within their windows, within one pixel (brute force)."""
    for b in range(BATCH):
        valid = np.asarray(series.centerline_valid[b, 0, :, 0])
        thickness = np.asarray(series.thickness[b])
        for t in range(SERIES.NbImages):
            pts = np.asarray(series.centerlines[b, t])
            h, w = SERIES.shape
            rows, cols = np.mgrid[0:h, 0:w]
            dist = np.full((h, w), np.inf)
            for slot in np.flatnonzero(valid):
                for r, c in pts[slot]:
                    tt = thickness[slot]
                    win = (np.abs(rows - r) < tt + 1) & (np.abs(cols - c) < tt + 1)
                    d = np.hypot(rows - r, cols - c)
                    dist = np.where(win, np.minimum(dist, d), dist)
            expected = dist < SERIES.SegmentationThreshold
            got = np.asarray(series.axon_mask[b, t])
            grown = ndimage.binary_dilation(expected, np.ones((3, 3), bool))
            shrunk = ndimage.binary_erosion(expected, np.ones((3, 3), bool))
            assert np.all(got <= grown), "mask pixels more than one pixel away from the centreline"
            assert np.all(shrunk <= got), "centreline pixels missing from the mask"


def test_bouton_in_mask_exactly_in_its_frames(series):
    visible = np.asarray(series.bouton_visible)
    first = np.asarray(series.bouton_first_frame)
    duration = np.asarray(series.bouton_duration)
    valid = np.asarray(series.bouton_valid)
    t = np.arange(SERIES.NbImages)
    expected = valid[..., None] & (t >= first[..., None]) & (t < (first + duration)[..., None])
    assert np.array_equal(visible, expected)
    labels = np.asarray(series.bouton_label)
    for b in range(BATCH):
        for slot in range(SERIES.MaxNbBouton):
            for f in range(SERIES.NbImages):
                present = np.any(labels[b, f] == slot + 1)
                assert present == visible[b, slot, f], (b, slot, f)
    # the mask is exactly the union of the labelled pixels
    assert np.array_equal(np.asarray(series.bouton_mask), labels > 0)
    # hidden boutons have zero brightness; shown ones stay in the allowed range
    bright = np.asarray(series.bouton_brightness)
    assert np.all(bright[~visible] == 0)
    lo, hi = (SERIES.MinBrightnessBouton + 1) / 100, (SERIES.MaxBrightnessBouton - 1) / 100
    assert np.all((bright[visible] >= lo - 1e-6) & (bright[visible] <= hi + 1e-6))


def test_boutons_inside_every_frame_and_follow_the_axon(series):
    centres = np.asarray(series.bouton_centers)  # [B, T, NBOU, 2]
    valid = np.asarray(series.bouton_valid)
    h, w = SERIES.shape
    for b in range(BATCH):
        c = centres[b][:, valid[b]]
        assert np.all((c[..., 0] >= 0) & (c[..., 0] <= h - 1) & (c[..., 1] >= 0) & (c[..., 1] <= w - 1))


def test_durations_at_least_two_frames_where_room_allows(series):
    first = np.asarray(series.bouton_first_frame)
    duration = np.asarray(series.bouton_duration)
    room = SERIES.NbImages - first
    assert np.all(duration >= np.minimum(2, room))
    assert np.all(first + duration <= SERIES.NbImages)


def test_cells_are_static_in_the_view(series):
    """Cells do not rotate: every frame's cell mask is the same view mask, cut at the frame's
    own crop offset, so two frames agree wherever their crops overlap."""
    cells = np.asarray(series.cell_mask)
    shift = np.asarray(series.shift)
    h, w = SERIES.shape
    checked = 0
    for b in range(BATCH):
        assert cells[b].any(), "no cell in the series"
        for t in range(1, SERIES.NbImages):
            dr, dc = shift[b, t] - shift[b, 0]
            # view pixel (r, c) is frame-0 pixel (r - s0) and frame-t pixel (r - st)
            r0, r1 = max(0, dr), min(h, h + dr)
            c0, c1 = max(0, dc), min(w, w + dc)
            a = cells[b, 0, r0:r1, c0:c1]
            other = cells[b, t, r0 - dr : r1 - dr, c0 - dc : c1 - dc]
            assert np.array_equal(a, other)
            checked += 1
    assert checked == BATCH * (SERIES.NbImages - 1)


def test_compat_mode_runs_and_reproduces_b7():
    s = generate_series(jax.random.key(3), COMPAT, 2)
    first = np.asarray(s.bouton_first_frame)
    duration = np.asarray(s.bouton_duration)
    valid = np.asarray(s.bouton_valid)
    assert np.all(first[valid[:, 0], 0] == COMPAT.NbImages - 1)
    assert np.all(duration[valid[:, 0], 0] == 1)
    img = np.asarray(s.image)
    assert np.all(np.isfinite(img)) and img.max() <= COMPAT.maxIntensity


def test_every_field_is_a_leaf_with_the_series_axis_first(series):
    """SeriesBatch flattens to its fields, by name, and series ``i`` of every field (not just the
    image) depends only on ``(key, start_index + i)``: slicing any field by series is safe."""
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(series)[0]]
    assert paths == [f".{f.name}" for f in dataclasses.fields(series)]
    tail = generate_series(jax.random.key(42), SERIES, BATCH, start_index=1)
    for f in dataclasses.fields(series):
        head, rest = np.asarray(getattr(series, f.name)), np.asarray(getattr(tail, f.name))
        assert head.shape[0] == BATCH, f.name
        np.testing.assert_array_equal(rest[: BATCH - 1], head[1:], err_msg=f.name)
