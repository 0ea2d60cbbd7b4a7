"""Property tests of `generate` with hypothesis: over keys and stream positions (traced values)
for three fixed configs (each distinct config is one compilation, shared with the other tests):
SMALL, a variant (crossings allowed, variable counts, linear profiles, no gaps) and
compat='original'."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxaxon

from .helpers import GEN_BATCH

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@pytest.fixture(scope="session")
def property_configs(small_cfg, variant_cfg, original_cfg):
    return {"small": small_cfg, "variant": variant_cfg, "original": original_cfg}


@pytest.mark.parametrize("name", ["small", "variant", "original"])
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), start=st.integers(0, 2**31 - 1 - GEN_BATCH))
def test_generated_batches_are_valid(property_configs, name, seed, start):
    cfg = property_configs[name]
    b = jax.tree.map(np.asarray, jaxaxon.generate(jax.random.key(seed), cfg, GEN_BATCH, start))
    for leaf in jax.tree.leaves(b):
        if leaf.dtype.kind == "f":
            assert not np.isnan(leaf).any()
    # images integer-valued in 0..maxIntensity, the maximum reached
    for img in (b.image, b.clean):
        np.testing.assert_array_equal(img, np.floor(img))
        assert img.min() >= 0 and img.max() <= cfg.maxIntensity
    np.testing.assert_array_equal(b.image.max(axis=(1, 2)), cfg.maxIntensity)
    # masks binary and consistent
    assert b.axon_mask.dtype == bool and b.bouton_mask.dtype == bool
    np.testing.assert_array_equal(b.bouton_mask, b.bouton_label > 0)
    assert b.bouton_label.max() <= cfg.MaxNbBouton
    # bouton count within range (placed plus reported failures)
    placed = b.bouton_valid.sum(axis=1)
    assert np.all(placed <= cfg.MaxNbBouton)
    assert np.all((placed + b.failed_boutons >= cfg.MinNbBouton) & (placed + b.failed_boutons <= cfg.MaxNbBouton))
    assert np.all(b.bouton_mask.any(axis=(1, 2)) == (placed > 0))
    # branch counts and the axon mask
    valid = b.centerline_valid[:, :, 0]
    assert np.all(valid.sum(axis=1) + b.failed_branches <= cfg.max_branches)
    assert np.all(b.axon_mask.any(axis=(1, 2)) == valid.any(axis=1))
    assert np.all(b.thickness[valid] >= cfg.MinThickness - 1e-6) and np.all(b.thickness[valid] <= cfg.MaxThickness + 1e-6)
    h, w = cfg.shape
    pts = b.centerlines[b.centerline_valid]
    assert np.all((pts > -2.0) & (pts < np.array([h + 1, w + 1])))  # near the image (spec: may slightly leave it)
    if cfg.MaxGapSize == 0:
        assert not b.gap.any()
    if cfg.AxonProfile == cfg.BranchProfile == "linear":  # straight-line profiles along every branch
        var = b.variation[valid]
        s = np.linspace(0, 1, cfg.NSplinePoints)
        np.testing.assert_allclose(var, var[:, :1] + (var[:, -1:] - var[:, :1]) * s, atol=1e-5)
    assert np.all(b.failed_cells >= 0) and np.all(b.scene_attempts >= 1)
