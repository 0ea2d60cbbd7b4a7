"""The jitted training step (generation + model + loss + optax) and the validation step.

Data depend only on the run's seed and the step number: step ``s`` generates images
``s * n .. s * n + n - 1`` (``n = images_per_step``) of the stream whose example ``i`` has
the key ``fold_in(fold_in(data_key, s), i)`` (`jaxaxon.generate` with ``start_index``), so
a resumed run sees exactly the batches of an uninterrupted one, and a sharded step can
generate any device's slice from global indices (`training_batch`'s ``first``/``count``).

The model and optimizer travel through `jax.jit` as `nnx.State` pytrees (split once, merged
inside the step); their buffers are donated so the step updates them in place.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxaxon.models import build_model
from jaxaxon.synth.image import Batch, generate
from jaxaxon.train.config import RunConfig
from jaxaxon.train.losses import hard_dice_per_image, mse_loss, segmentation_loss
from jaxaxon.train.normalise import normalise

__all__ = [
    "Program",
    "get_program",
    "make_optimizer",
    "inputs_and_targets",
    "to_tiles",
    "training_batch",
    "validation_chunk",
    "run_keys",
    "zero_metrics",
    "committed",
]

_ACC_KEYS = ("loss", "dice", "bce", "grad_norm", "count")
# optax.tree.norm (optax >= 0.2.5) replaces the deprecated optax.global_norm
_tree_norm = getattr(getattr(optax, "tree", None), "norm", None) or optax.global_norm


def run_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The run's independent key streams: (parameters, data, dropout)."""
    root = jax.random.key(seed)
    return jax.random.fold_in(root, 1), jax.random.fold_in(root, 0), jax.random.fold_in(root, 2)


def validation_key(rc: RunConfig) -> jax.Array:
    """Key of the fixed validation stream (its own seed; disjoint from every training stream,
    whose keys derive from ``key(seed)`` through other fold-ins)."""
    return jax.random.fold_in(jax.random.key(rc.val_seed), 7)


def inputs_and_targets(batch: Batch, rc: RunConfig) -> tuple[jax.Array, jax.Array]:
    """Network inputs and targets of generated images.

    Returns:
      ``x [B, H, W]`` float32 normalised images and ``y [B, H, W, C]`` float32 targets:
      the heads' masks for a U-Net; for the autoencoder the clean (noise-free) image
      normalised like the input (denoising), or the input itself.
    """
    x = normalise(batch.image, rc.normalise)
    if rc.segmentation:
        masks = {"axon": batch.axon_mask, "bouton": batch.bouton_mask}
        y = jnp.stack([masks[h] for h in rc.model.heads], axis=-1).astype(jnp.float32)
    else:
        y = x if rc.ae_target == "image" else normalise(batch.clean, rc.normalise)
        y = y[..., None]
    return x, y


def to_tiles(a: jax.Array, tile: int) -> jax.Array:
    """All non-overlapping ``tile x tile`` tiles of ``[B, H, W, ...]`` (image-major order):
    ``[B * (H // tile) * (W // tile), tile, tile, ...]``; leftover rows/columns are dropped."""
    b, h, w = a.shape[:3]
    rest = a.shape[3:]
    nh, nw = h // tile, w // tile
    a = a[:, : nh * tile, : nw * tile]
    a = a.reshape(b, nh, tile, nw, tile, *rest)
    a = jnp.moveaxis(a, 3, 2)  # [B, nh, nw, tile, tile, ...]
    return a.reshape(b * nh * nw, tile, tile, *rest)


def training_batch(rc: RunConfig, data_key: jax.Array, step: jax.Array | int, first: int = 0, count: int | None = None):
    """The training examples of one step (or the slice of its images ``first .. first +
    count - 1``, for a device of a sharded step).

    Returns:
      ``x [N, h, w]``, ``y [N, h, w, C]`` with ``N = count * tiles_per_image``.
    """
    n = rc.images_per_step
    count = n if count is None else count
    step = jnp.asarray(step, jnp.uint32)
    step_key = jax.random.fold_in(data_key, step)
    batch = generate(step_key, rc.generator, count, start_index=step * n + first)
    x, y = inputs_and_targets(batch, rc)
    if rc.crop:
        x, y = to_tiles(x, rc.crop), to_tiles(y, rc.crop)
    return x, y


def validation_chunk(rc: RunConfig, start: int) -> tuple[jax.Array, jax.Array]:
    """Validation images ``start .. start + val_batch - 1`` (whole images): ``x, y``.

    Only `generate` is compiled (shared by every run with the same generator config and
    ``val_batch``); the targets are computed once, eagerly."""
    batch = generate(validation_key(rc), rc.generator, rc.val_batch, start_index=start)
    return inputs_and_targets(batch, rc)


def make_optimizer(rc: RunConfig) -> optax.GradientTransformation:
    """Adam with the configured schedule, after optional global-norm clipping."""
    if rc.schedule == "warmup_cosine":
        lr = optax.warmup_cosine_decay_schedule(
            init_value=0.0,
            peak_value=rc.lr,
            warmup_steps=rc.warmup_steps,
            decay_steps=rc.steps,
            end_value=rc.lr * rc.end_lr_factor,
        )
    else:
        lr = optax.constant_schedule(rc.lr)
    parts = [optax.clip_by_global_norm(rc.clip_norm)] if rc.clip_norm > 0 else []
    parts.append(optax.adam(lr))
    return optax.chain(*parts), lr


def committed(tree: Any) -> Any:
    """``tree`` placed (committed) on the default device, as jitted outputs and restored
    checkpoints are: a jitted step then always sees the same input placements and
    compiles once, whether its state comes from `Program.init`, a checkpoint or itself.
    (This process's first device: in a multi-process run the global first one is another's.)"""
    return jax.device_put(tree, jax.local_devices()[0])


def zero_metrics() -> dict[str, jax.Array]:
    """Empty accumulator of per-step training metrics (sums since the last history record)."""
    return committed({k: jnp.zeros((), jnp.float32) for k in _ACC_KEYS})


def _static_key(rc: RunConfig) -> RunConfig:
    """The fields that shape the compiled programs (others are reset, so that runs differing
    only in seeds, logging or checkpointing share compilations)."""
    return dataclasses.replace(
        rc, preset="", seed=0, val_seed=0, val_images=1, eval_every=1, log_every=1, checkpoint_every=1,
        keep_checkpoints=1, init_from=None, real=None,
        steps=rc.steps if rc.schedule == "warmup_cosine" else 1,
    )  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False)
class Program:
    """The compiled pieces of a run configuration (build with `get_program`).

    Attributes:
      rc: the (static part of the) run configuration.
      tx: the optax transformation.
      schedule: learning rate as a function of the step.
      model_def, opt_def: graph definitions of the model and the `nnx.Optimizer`.
      train_step: jitted ``(model_state, opt_state, acc, data_key, dropout_key, step) ->
        (model_state, opt_state, acc)`` (the first three donated); generates its batch.
      train_step_on_batch: the same update fed a given batch ``x [N, h, w]``,
        ``y [N, h, w, C]``: ``(model_state, opt_state, acc, x, y, dropout_key, step,
        weights=None)``; optional ``weights [N, C]`` weigh each example's heads in the loss.
      eval_step: jitted ``(model_state, x, y) -> dict of per-image [B] metrics``.
      forward: jitted ``(model_state, x) -> logits`` (inference mode).
    """

    rc: RunConfig
    tx: Any
    schedule: Any
    model_def: Any
    opt_def: Any
    train_step: Any
    train_step_on_batch: Any
    eval_step: Any
    forward: Any

    def init(self, seed: int) -> tuple[nnx.State, nnx.State]:
        """Fresh model and optimizer states (parameters from ``seed``)."""
        model = build_model(self.rc.model, seed=run_keys(seed)[0])
        opt = nnx.Optimizer(model, self.tx, wrt=nnx.Param)
        return committed((nnx.state(model), nnx.state(opt)))

    def abstract(self) -> tuple[nnx.State, nnx.State]:
        """Shape/dtype-only model and optimizer states (targets of a checkpoint restore)."""

        def make():
            model = build_model(self.rc.model)
            return model, nnx.Optimizer(model, self.tx, wrt=nnx.Param)

        model, opt = nnx.eval_shape(make)
        return nnx.state(model), nnx.state(opt)

    def model(self, model_state: nnx.State):
        """An `nnx.Module` holding ``model_state``."""
        return nnx.merge(self.model_def, model_state)


@functools.lru_cache(maxsize=16)
def _program(rc: RunConfig) -> Program:
    tx, schedule = make_optimizer(rc)
    model = nnx.eval_shape(lambda: build_model(rc.model))
    model_def, _ = nnx.split(model)
    opt_def, _ = nnx.split(nnx.eval_shape(lambda: nnx.Optimizer(build_model(rc.model), tx, wrt=nnx.Param)))

    def train_step_on_batch(model_state, opt_state, acc, x, y, dropout_key, step, weights=None):
        model = nnx.merge(model_def, model_state)
        opt = nnx.merge(opt_def, opt_state)
        drop_key = jax.random.fold_in(dropout_key, jnp.asarray(step, jnp.uint32))

        def loss_fn(model):
            logits = model(x, train=True, rngs=drop_key)
            if rc.segmentation:  # weights [N, C]: per-example, per-head loss weights (real images)
                return segmentation_loss(logits, y, rc.loss, rc.dice_smooth, weights)
            loss = mse_loss(logits, y)
            return loss, {"dice": jnp.zeros(()), "bce": jnp.zeros(())}

        (loss, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        opt.update(model, grads)
        new = {
            "loss": loss,
            "dice": metrics["dice"],
            "bce": metrics["bce"],
            "grad_norm": _tree_norm(grads),
            "count": 1.0,
        }
        acc = {k: acc[k] + jnp.asarray(new[k], jnp.float32) for k in _ACC_KEYS}
        return nnx.state(model), nnx.state(opt), acc

    def train_step(model_state, opt_state, acc, data_key, dropout_key, step):
        x, y = training_batch(rc, data_key, step)
        return train_step_on_batch(model_state, opt_state, acc, x, y, dropout_key, step)

    def forward(model_state, x):
        return nnx.merge(model_def, model_state)(x, train=False)

    def eval_step(model_state, x, y):
        logits = forward(model_state, x)
        if not rc.segmentation:
            return {"loss": jax.vmap(lambda o, t: mse_loss(o[None], t[None]))(logits, y)}
        per_image = jax.vmap(lambda o, t: segmentation_loss(o[None], t[None], rc.loss, rc.dice_smooth))
        loss, metrics = per_image(logits, y)
        return {"loss": loss, "soft_dice": metrics["dice"], "dice": hard_dice_per_image(jax.nn.sigmoid(logits), y)}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CPU backends cannot donate; that is harmless
        jitted = jax.jit(train_step, donate_argnums=(0, 1, 2))
        jitted_on_batch = jax.jit(train_step_on_batch, donate_argnums=(0, 1, 2))
    return Program(
        rc=rc,
        tx=tx,
        schedule=schedule,
        model_def=model_def,
        opt_def=opt_def,
        train_step=jitted,
        train_step_on_batch=jitted_on_batch,
        eval_step=jax.jit(eval_step),
        forward=jax.jit(forward),
    )


def get_program(rc: RunConfig) -> Program:
    """The compiled programs of a run configuration (cached: equal static parts share one)."""
    return _program(_static_key(rc))
