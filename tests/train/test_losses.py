"""Losses and the validation Dice."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxaxon.train.losses import bce_loss, dice_loss, hard_dice_per_image, segmentation_loss, soft_dice


def test_soft_dice_is_the_original_batch_global_formula():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(2, 8, 8, 1)).astype(np.float32)
    y = (rng.uniform(size=(2, 8, 8, 1)) > 0.7).astype(np.float32)
    expected = (2 * np.sum(p * y) + 1) / (np.sum(p) + np.sum(y) + 1)
    assert float(soft_dice(jnp.asarray(p), jnp.asarray(y))[0]) == pytest.approx(expected, rel=1e-6)
    assert float(soft_dice(jnp.asarray(y), jnp.asarray(y))[0]) == pytest.approx(1.0)


def test_losses_fall_as_logits_approach_the_target():
    y = jnp.asarray((np.arange(64).reshape(1, 8, 8, 1) % 5 == 0).astype(np.float32))
    good, bad = (2 * y - 1) * 8.0, (1 - 2 * y) * 8.0
    for kind in ("dice", "bce", "dice+bce"):
        lg, _ = segmentation_loss(good, y, kind)
        lb, _ = segmentation_loss(bad, y, kind)
        assert float(lg) < 0.01 < 0.9 < float(lb)
    np.testing.assert_allclose(float(bce_loss(good, y)), float(optax.sigmoid_binary_cross_entropy(good, y).mean()))
    total, _ = segmentation_loss(bad, y, "dice+bce")
    assert float(total) == pytest.approx(float(dice_loss(bad, y)) + float(bce_loss(bad, y)), rel=1e-6)


def test_hard_dice_per_image_and_empty_masks():
    y = np.zeros((3, 4, 4, 1), np.float32)
    p = np.zeros((3, 4, 4, 1), np.float32)
    y[0, :2] = 1
    p[0, :1] = 0.9  # half of the mask: Dice 2*4/(4+8) = 2/3
    p[1, 0, 0] = 0.7  # false positive on an empty mask: Dice 0
    d = np.asarray(hard_dice_per_image(jnp.asarray(p), jnp.asarray(y)))
    np.testing.assert_allclose(d[:, 0], [2 / 3, 0.0, 1.0], rtol=1e-6)  # both empty: 1
