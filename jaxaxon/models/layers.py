"""Building blocks shared by the U-Net and the autoencoder (Flax NNX modules only)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from jaxaxon.models.config import ModelConfig

__all__ = ["ConvBlock", "Encoder", "EncoderDecoder", "max_pool2", "upsample2", "module_list", "compute_dtype"]

# nnx.List (flax >= 0.12) marks a list of sub-modules as pytree data; older flax takes plain lists.
module_list = getattr(nnx, "List", list)


def compute_dtype(cfg: ModelConfig) -> jnp.dtype:
    """The compute dtype of a model (parameters always stay float32)."""
    return jnp.bfloat16 if cfg.dtype == "bfloat16" else jnp.float32


def _kernel_init(cfg: ModelConfig):
    if cfg.kernel_init == "he_normal":
        return nnx.initializers.he_normal()
    return nnx.initializers.glorot_uniform()


def max_pool2(x: jax.Array) -> jax.Array:
    """2x2 max pooling with stride 2 of ``[B, H, W, C]`` (H and W even)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def upsample2(x: jax.Array) -> jax.Array:
    """2x nearest-neighbour upsampling of ``[B, H, W, C]`` (Keras ``UpSampling2D``)."""
    b, h, w, c = x.shape
    x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
    return x.reshape(b, 2 * h, 2 * w, c)


class _Norm(nnx.Module):
    """The configured normalisation of ``[B, H, W, C]`` features (or the identity)."""

    def __init__(self, cfg: ModelConfig, channels: int, *, rngs: nnx.Rngs):
        self.kind = cfg.norm
        dtype = compute_dtype(cfg)
        if cfg.norm == "batch":
            self.layer = nnx.BatchNorm(channels, momentum=0.99, epsilon=1e-3, dtype=dtype, rngs=rngs)
        elif cfg.norm == "group":
            self.layer = nnx.GroupNorm(channels, num_groups=math.gcd(cfg.groups, channels), dtype=dtype, rngs=rngs)
        elif cfg.norm == "layer":
            self.layer = nnx.LayerNorm(channels, dtype=dtype, rngs=rngs)
        else:
            self.layer = None

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        if self.kind == "batch":
            return self.layer(x, use_running_average=not train)
        if self.layer is not None:
            return self.layer(x)
        return x


class ConvBlock(nnx.Module):
    """``convs_per_level`` x (k x k 'same' convolution -> normalisation -> ReLU)."""

    def __init__(self, cfg: ModelConfig, in_channels: int, out_channels: int, *, rngs: nnx.Rngs):
        dtype = compute_dtype(cfg)
        convs, norms = [], []
        for i in range(cfg.convs_per_level):
            convs.append(
                nnx.Conv(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    kernel_size=(cfg.kernel_size, cfg.kernel_size),
                    padding="SAME",
                    use_bias=cfg.norm == "none",
                    kernel_init=_kernel_init(cfg),
                    dtype=dtype,
                    param_dtype=jnp.float32,
                    rngs=rngs,
                )
            )
            norms.append(_Norm(cfg, out_channels, rngs=rngs))
        self.convs = module_list(convs)
        self.norms = module_list(norms)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        for conv, norm in zip(self.convs, self.norms):
            x = jax.nn.relu(norm(conv(x), train))
        return x


class Encoder(nnx.Module):
    """The contracting path: ``depth + 1`` conv blocks with 2x2 max pooling between them.

    Shared by `UNet` and `Autoencoder`, so an autoencoder's encoder weights can initialise
    a U-Net's encoder. Dropout (rate ``cfg.dropout``) acts on the bottleneck in training.
    """

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        widths = cfg.widths()
        self.blocks = module_list(
            [
                ConvBlock(cfg, 1 if level == 0 else widths[level - 1], widths[level], rngs=rngs)
                for level in range(cfg.depth + 1)
            ]
        )
        self.dropout = nnx.Dropout(cfg.dropout)
        self.dtype = compute_dtype(cfg)

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: jax.Array | None = None) -> list[jax.Array]:
        """Encodes ``[B, H, W, 1]`` images.

        Args:
          x: ``[B, H, W, 1]`` normalised images; H and W divisible by ``2**depth``.
          train: dropout and batch statistics in training mode (needs ``rngs`` when the
            dropout rate is positive).
          rngs: PRNG key of the dropout.

        Returns:
          The features of every level, ``[B, H / 2**l, W / 2**l, base_width * 2**l]`` for
          ``l = 0..depth`` (the last is the bottleneck, after dropout).
        """
        x = x.astype(self.dtype)
        features = []
        for level, block in enumerate(self.blocks):
            if level:
                x = max_pool2(x)
            x = block(x, train)
            features.append(x)
        if train and self.dropout.rate > 0:
            features[-1] = self.dropout(features[-1], deterministic=False, rngs=rngs)
        return features


class EncoderDecoder(nnx.Module):
    """`Encoder`, a mirrored decoder (nearest upsampling, optional skip concatenation, a conv
    block per level) and a 1x1 convolution head returning float32 logits.

    The common body of `UNet` (with skips) and `Autoencoder` (without): both have the
    parameter paths ``encoder/...``, ``up_blocks/...`` and ``head/...``.
    """

    def __init__(self, cfg: ModelConfig, out_channels: int, skips: bool, *, rngs: nnx.Rngs):
        self.config = cfg
        self.skips = skips
        widths = cfg.widths()
        self.encoder = Encoder(cfg, rngs=rngs)
        self.up_blocks = module_list(
            [
                ConvBlock(cfg, widths[level + 1] + (widths[level] if skips else 0), widths[level], rngs=rngs)
                for level in reversed(range(cfg.depth))
            ]
        )
        self.head = nnx.Conv(
            widths[0], out_channels, kernel_size=(1, 1), dtype=compute_dtype(cfg), param_dtype=jnp.float32, rngs=rngs
        )

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: jax.Array | None = None) -> jax.Array:
        """Logits ``[B, H, W, out_channels]`` (float32) of ``[B, H, W]`` or ``[B, H, W, 1]``
        normalised images (H, W divisible by ``2**depth``); ``rngs``: the dropout key
        (needed when ``train`` and the dropout rate is positive)."""
        if x.ndim == 3:
            x = x[..., None]
        features = self.encoder(x, train=train, rngs=rngs)
        y = features[-1]
        for block, skip in zip(self.up_blocks, reversed(features[:-1])):
            y = upsample2(y)
            if self.skips:
                y = jnp.concatenate([y, skip], axis=-1)
            y = block(y, train)
        return self.head(y).astype(jnp.float32)
