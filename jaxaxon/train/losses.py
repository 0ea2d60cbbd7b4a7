"""Losses and segmentation metrics (pure JAX).

Shapes: logits, probabilities and targets are ``[B, H, W, C]`` with one channel per head.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["soft_dice", "dice_loss", "bce_loss", "segmentation_loss", "mse_loss", "hard_dice_per_image"]


def soft_dice(probs: jax.Array, target: jax.Array, smooth: float = 1.0) -> jax.Array:
    """Soft Dice per channel over the whole batch (the original's Keras ``K.flatten``
    form): ``(2 sum(y p) + s) / (sum(y) + sum(p) + s)``.

    Returns:
      ``[C]`` float32.
    """
    probs = probs.astype(jnp.float32)
    target = target.astype(jnp.float32)
    axes = tuple(range(probs.ndim - 1))
    inter = jnp.sum(probs * target, axis=axes)
    total = jnp.sum(probs, axis=axes) + jnp.sum(target, axis=axes)
    return (2.0 * inter + smooth) / (total + smooth)


def dice_loss(logits: jax.Array, target: jax.Array, smooth: float = 1.0) -> jax.Array:
    """``1 - soft Dice`` averaged over channels (gradients equal the original's negative
    soft Dice; the offset keeps the loss non-negative)."""
    return 1.0 - jnp.mean(soft_dice(jax.nn.sigmoid(logits), target, smooth))


def bce_loss(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Mean binary cross-entropy on logits (`optax.sigmoid_binary_cross_entropy`)."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), target.astype(jnp.float32)))


def segmentation_loss(logits: jax.Array, target: jax.Array, kind: str, smooth: float = 1.0) -> tuple[jax.Array, dict]:
    """The configured loss (``dice``, ``bce`` or ``dice+bce``) and per-step metrics.

    Returns:
      ``(loss, {"dice": soft Dice mean over channels, "bce": ...})`` (float32 scalars).
    """
    dl = dice_loss(logits, target, smooth)
    bl = bce_loss(logits, target)
    loss = {"dice": dl, "bce": bl, "dice+bce": dl + bl}[kind]
    return loss, {"dice": 1.0 - dl, "bce": bl}


def mse_loss(output: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error of the autoencoder's linear output (targets are normalised images,
    0..1 with percentile scaling, unbounded with z-scores)."""
    return jnp.mean(jnp.square(output.astype(jnp.float32) - target.astype(jnp.float32)))


def hard_dice_per_image(probs: jax.Array, target: jax.Array, threshold: float = 0.5) -> jax.Array:
    """Dice of the thresholded prediction, per image and channel.

    An image whose mask and prediction are both empty scores 1.

    Returns:
      ``[B, C]`` float32.
    """
    pred = probs >= threshold
    truth = target > 0.5
    axes = (1, 2)
    inter = jnp.sum(pred & truth, axis=axes).astype(jnp.float32)
    total = (jnp.sum(pred, axis=axes) + jnp.sum(truth, axis=axes)).astype(jnp.float32)
    return jnp.where(total > 0, 2.0 * inter / jnp.maximum(total, 1.0), 1.0)
