"""Losses and segmentation metrics (pure JAX).

Shapes: logits, probabilities and targets are ``[B, H, W, C]`` with one channel per head.
Optional loss weights ``[B, C]`` (per example and head, 0 or 1) leave out the heads an
example has no labels for, e.g. the axon head of a real image labelled with bouton boxes
only (`jaxaxon.train.mixing`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "soft_dice",
    "dice_loss",
    "bce_loss",
    "segmentation_loss",
    "weighted_segmentation_loss",
    "mse_loss",
    "hard_dice_per_image",
]


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


def segmentation_loss(
    logits: jax.Array, target: jax.Array, kind: str, smooth: float = 1.0, weights: jax.Array | None = None
) -> tuple[jax.Array, dict]:
    """The configured loss (``dice``, ``bce`` or ``dice+bce``) and per-step metrics.

    Args:
      logits, target: ``[B, H, W, C]``.
      kind: ``dice``, ``bce`` or ``dice+bce``.
      smooth: the soft Dice's smoothing constant.
      weights: optional ``[B, C]`` per-example, per-head weights (`weighted_segmentation_loss`);
        None weighs everything 1 (this function's own, unchanged arithmetic).

    Returns:
      ``(loss, {"dice": soft Dice mean over channels, "bce": ...})`` (float32 scalars).
    """
    if weights is not None:
        return weighted_segmentation_loss(logits, target, weights, kind, smooth)
    dl = dice_loss(logits, target, smooth)
    bl = bce_loss(logits, target)
    loss = {"dice": dl, "bce": bl, "dice+bce": dl + bl}[kind]
    return loss, {"dice": 1.0 - dl, "bce": bl}


def weighted_segmentation_loss(
    logits: jax.Array, target: jax.Array, weights: jax.Array, kind: str, smooth: float = 1.0
) -> tuple[jax.Array, dict]:
    """`segmentation_loss` with per-example, per-head weights.

    Example ``b`` contributes to head ``c`` in proportion to ``weights[b, c]``:

    - soft Dice per head over the batch, ``(2 sum_b w_bc I_bc + s) / (sum_b w_bc T_bc + s)``
      (``I`` the example's intersection, ``T`` the sum of its prediction and target), averaged
      over the heads that have any weight in the batch (a head without labels in this batch
      adds neither loss nor gradient);
    - binary cross-entropy: the pixel mean of each example and head, averaged with the weights.

    With all weights 1 this equals `segmentation_loss` (up to summation order); an example
    with weight 0 for a head has no influence on that head's loss or gradient.

    Args:
      logits, target: ``[B, H, W, C]``.
      weights: ``[B, C]`` non-negative.
      kind: ``dice``, ``bce`` or ``dice+bce``.
      smooth: the soft Dice's smoothing constant.

    Returns:
      ``(loss, {"dice": soft Dice mean over the weighted heads, "bce": ...})``.
    """
    probs = jax.nn.sigmoid(logits.astype(jnp.float32))
    target = target.astype(jnp.float32)
    w = weights.astype(jnp.float32)  # [B, C]
    inter = jnp.sum(probs * target, axis=(1, 2))  # [B, C]
    total = jnp.sum(probs, axis=(1, 2)) + jnp.sum(target, axis=(1, 2))
    dice = (2.0 * jnp.sum(w * inter, axis=0) + smooth) / (jnp.sum(w * total, axis=0) + smooth)  # [C]
    head_w = jnp.sum(w, axis=0)  # [C]
    active = (head_w > 0).astype(jnp.float32)
    n_active = jnp.maximum(jnp.sum(active), 1.0)
    mean_dice = jnp.sum(active * dice) / n_active
    dl = jnp.sum(active * (1.0 - dice)) / n_active
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), target), axis=(1, 2))  # [B, C]
    bl = jnp.sum(w * bce) / jnp.maximum(jnp.sum(w), 1e-12)
    loss = {"dice": dl, "bce": bl, "dice+bce": dl + bl}[kind]
    return loss, {"dice": mean_dice, "bce": bl}


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
