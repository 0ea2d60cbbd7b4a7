"""The training step: one jitted program over a device mesh that makes its batch and updates the model.

Data depend only on the run's seed, the step and the global example index: example ``i`` of
step ``s`` is a tile of generated image ``s * n + i // t`` (``n`` images of ``t`` tiles per
step), keyed ``fold_in(fold_in(data_key, s), s * n + i // t)``, or real crop ``j`` keyed
``fold_in(fold_in(fold_in(data_key, s), REAL_STREAM), j)``. Each device makes only its slice
of the batch, so resumed runs, and runs on any number of devices and hosts, see the same data.

A run on a dataset on disk (``rc.data``, `jaxaxon.train.data_loader`) is fed the step's
images as arguments of the same step instead (sharded over the ``data`` axis); their
normalisation, tiles and targets are computed in the step by the same code.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from jaxaxon.models import build_model
from jaxaxon.parallel import (
    DATA_AXIS,
    by_global_index,
    data_sharding,
    items_per_device,
    make_mesh,
    replicate,
    replicated_sharding,
)
from jaxaxon.synth.image import Batch, generate
from jaxaxon.train.config import RunConfig, RunConfigError
from jaxaxon.train.losses import hard_dice_per_image, mse_loss, segmentation_loss
from jaxaxon.train.mixing import REAL_STREAM, RealBank, crop_size, real_crops, transform_codes
from jaxaxon.train.normalise import normalise

__all__ = [
    "Program",
    "TrainStep",
    "get_program",
    "make_train_step",
    "step_batch",
    "make_optimizer",
    "inputs_and_targets",
    "dataset_examples",
    "to_tiles",
    "training_batch",
    "validation_chunk",
    "run_keys",
    "zero_metrics",
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
    """The synthetic training examples of one step (or the tiles of its images ``first ..
    first + count - 1``: one device's slice).

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


def dataset_examples(fed: dict[str, jax.Array], rc: RunConfig) -> tuple[jax.Array, jax.Array]:
    """Network inputs and targets (tiles when ``rc.crop``) of images read from a dataset.

    Args:
      fed: dataset arrays (`jaxaxon.train.data_loader.array_names`): ``images [B, H, W]``
        (integer grey values), masks ``axon_masks`` / ``bouton_masks`` (0/1) or
        ``clean_images`` ``[B, H, W]``.
      rc: the run.

    Returns:
      ``x [N, h, w]``, ``y [N, h, w, C]`` as `training_batch` (``N = B * tiles_per_image``);
      equal to `inputs_and_targets` of the generated images the dataset stores.
    """
    batch = types.SimpleNamespace(
        image=fed["images"], axon_mask=fed.get("axon_masks"), bouton_mask=fed.get("bouton_masks"),
        clean=fed.get("clean_images"),
    )  # fmt: skip
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


def zero_metrics() -> dict[str, jax.Array]:
    """Empty accumulator of per-step training metrics (sums since the last history record)."""
    return {k: jnp.zeros((), jnp.float32) for k in _ACC_KEYS}


def _static_key(rc: RunConfig) -> RunConfig:
    """The fields that shape the compiled programs (others are reset, so that runs differing
    only in seeds, logging or checkpointing share compilations)."""
    return dataclasses.replace(
        rc, preset="", seed=0, val_seed=0, val_images=1, eval_every=1, log_every=1, checkpoint_every=1,
        keep_checkpoints=1, init_from=None, real=None, data=None,
        steps=rc.steps if rc.schedule == "warmup_cosine" else 1,
    )  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False)
class Program:
    """The model, optimizer and compiled evaluation of a run configuration (`get_program`).

    Attributes:
      rc: the (static part of the) run configuration.
      tx: the optax transformation.
      schedule: learning rate as a function of the step.
      model_def, opt_def: graph definitions of the model and the `nnx.Optimizer`.
      update: the (unjitted) update on a given batch: ``(model_state, opt_state, acc, x, y,
        dropout_key, step, weights=None) -> (model_state, opt_state, acc)`` with ``x [N, h,
        w]``, ``y [N, h, w, C]`` and optional per-example, per-head loss weights ``[N, C]``.
      eval_step: jitted ``(model_state, x, y) -> dict of per-image [B] metrics``.
      forward: jitted ``(model_state, x) -> logits`` (inference mode).
    """

    rc: RunConfig
    tx: Any
    schedule: Any
    model_def: Any
    opt_def: Any
    update: Any
    eval_step: Any
    forward: Any

    def init(self, seed: int) -> tuple[nnx.State, nnx.State]:
        """Fresh model and optimizer states (parameters from ``seed``)."""
        model = build_model(self.rc.model, seed=run_keys(seed)[0])
        opt = nnx.Optimizer(model, self.tx, wrt=nnx.Param)
        return nnx.state(model), nnx.state(opt)

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

    def update(model_state, opt_state, acc, x, y, dropout_key, step, weights=None):
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

    def forward(model_state, x):
        return nnx.merge(model_def, model_state)(x, train=False)

    def eval_step(model_state, x, y):
        logits = forward(model_state, x)
        if not rc.segmentation:
            return {"loss": jax.vmap(lambda o, t: mse_loss(o[None], t[None]))(logits, y)}
        per_image = jax.vmap(lambda o, t: segmentation_loss(o[None], t[None], rc.loss, rc.dice_smooth))
        loss, metrics = per_image(logits, y)
        return {"loss": loss, "soft_dice": metrics["dice"], "dice": hard_dice_per_image(jax.nn.sigmoid(logits), y)}

    return Program(rc, tx, schedule, model_def, opt_def, update, jax.jit(eval_step), jax.jit(forward))


def get_program(rc: RunConfig) -> Program:
    """The compiled programs of a run configuration (cached: equal static parts share one)."""
    return _program(_static_key(rc))


# --------------------------------------------------------------------------- the step over a mesh


def step_batch(
    rc: RunConfig,
    data_key: jax.Array,
    step: jax.Array | int,
    mesh: Mesh,
    bank: RealBank | None = None,
    n_real: int = 0,
    codes: tuple[int, ...] = (0,),
    fed: dict[str, jax.Array] | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """The examples of one step, sharded over the mesh's ``data`` axis: the first
    ``batch_size - n_real`` tiles of the step's generated images (or of the dataset images
    ``fed``), then ``n_real`` real crops.

    Every device generates its share of the images and draws its share of the crops by
    global index (`by_global_index`; counts that do not split are rounded up and the extra
    items dropped), so the batch does not depend on the number of devices.

    Args:
      rc: the run (its static part suffices: generator, crop, batch size, normalisation).
      data_key: the run's data key; step: the step number.
      mesh: the device mesh.
      bank: the real images (`jaxaxon.train.mixing.prepare_real`), needed when ``n_real > 0``.
      n_real: real crops per step (``rc.real_per_step``; static).
      codes: allowed crop transforms (`jaxaxon.train.mixing.transform_codes`; static).
      fed: the step's dataset arrays (`dataset_examples`), sharded over ``data``; None
        generates the images.

    Returns:
      ``x [N, h, w]``, ``y [N, h, w, C]`` and loss weights ``w [N, C]`` (1 for synthetic
      tiles), or ``w = None`` without real crops; ``N = rc.batch_size``.
    """
    n_syn = rc.batch_size - n_real
    step = jnp.asarray(step, jnp.uint32)
    xs, ys, ws = [], [], []
    if n_syn > 0:
        if fed is None:
            local = items_per_device(-(-n_syn // rc.tiles_per_image), mesh)
            tiles = by_global_index(lambda first, k, s: training_batch(rc, k, s, first=first, count=local), mesh, local)
            x, y = tiles(data_key, step)
        else:
            x, y = dataset_examples(fed, rc)
        xs.append(x[:n_syn])
        ys.append(y[:n_syn])
        ws.append(jnp.ones((n_syn, y.shape[-1]), jnp.float32))
    if n_real > 0:
        local = items_per_device(n_real, mesh)
        real_key = jax.random.fold_in(jax.random.fold_in(data_key, step), REAL_STREAM)
        hw = crop_size(rc)
        crops = by_global_index(lambda first, b, k: real_crops(b, k, local, hw, codes, first=first), mesh, local)
        x, y, w = crops(bank, real_key)
        xs.append(x[:n_real])
        ys.append(y[:n_real])
        ws.append(w[:n_real])
    sharding = data_sharding(mesh)
    x, y = (jax.lax.with_sharding_constraint(jnp.concatenate(a), sharding) for a in (xs, ys))
    w = jax.lax.with_sharding_constraint(jnp.concatenate(ws), sharding) if n_real else None
    return x, y, w


@functools.lru_cache(maxsize=16)
def _jitted_step(program: Program, mesh: Mesh, n_real: int, codes: tuple[int, ...], fed: bool = False):
    rc = program.rc

    def step_fn(model_state, opt_state, acc, data_key_data, dropout_key_data, bank, step, fed_arrays=None):
        data_key = jax.random.wrap_key_data(data_key_data)
        dropout_key = jax.random.wrap_key_data(dropout_key_data)
        step = jnp.asarray(step, jnp.uint32)
        x, y, w = step_batch(rc, data_key, step, mesh, bank, n_real, codes, fed_arrays)
        return program.update(model_state, opt_state, acc, x, y, dropout_key, step, w)

    repl = replicated_sharding(mesh)
    shardings = (repl,) * 7 + (data_sharding(mesh),) if fed else repl  # fed images stay split over the devices
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CPU backends cannot donate; that is harmless
        return jax.jit(step_fn, in_shardings=shardings, out_shardings=repl, donate_argnums=(0, 1, 2))


@functools.lru_cache(maxsize=4)
def _jitted_batch(rc: RunConfig, mesh: Mesh, n_real: int, codes: tuple[int, ...]):
    return jax.jit(lambda key, bank, step, fed=None: step_batch(rc, key, step, mesh, bank, n_real, codes, fed))


@dataclasses.dataclass(frozen=True, eq=False)
class TrainStep:
    """A run's training step over a device mesh (build with `make_train_step`).

    ``step(model_state, opt_state, acc, s) -> (model_state, opt_state, acc)`` makes the
    batch of step ``s`` on the devices (`step_batch`), or reads it from the run's dataset
    (``feed``), and updates the states; the states are replicated over the mesh (`place`)
    and donated. The run's keys, real images and dataset are bound.

    Attributes:
      program: the run's `Program`.
      mesh: the device mesh (its ``data`` axis splits the batch).
      sharding: the replicated sharding of states (and checkpoint restore targets).
      n_real: real crops per step; codes: their allowed transforms.
      inputs: the bound inputs: data and dropout key data (host uint32), the replicated
        real bank (or None).
      feed: the dataset's batches (`jaxaxon.train.data_loader.DataFeed`), or None to
        generate the images in the step.
    """

    program: Program
    mesh: Mesh
    sharding: Any
    n_real: int
    codes: tuple[int, ...]
    inputs: tuple
    feed: Any = None

    def __call__(self, model_state: Any, opt_state: Any, acc: Any, step: int) -> tuple[Any, Any, Any]:
        fn = _jitted_step(self.program, self.mesh, self.n_real, self.codes, self.feed is not None)
        if self.feed is None:
            return fn(model_state, opt_state, acc, *self.inputs, int(step))
        return fn(model_state, opt_state, acc, *self.inputs, int(step), self.feed(step))

    def place(self, tree: Any) -> Any:
        """``tree`` replicated over the mesh (states, metric sums, validation images)."""
        return replicate(tree, self.mesh)

    def init(self, seed: int) -> tuple[Any, Any, Any]:
        """Fresh model and optimizer states (parameters from ``seed``) and empty metric sums, placed."""
        return self.place((*self.program.init(seed), zero_metrics()))

    def batch(self, step: int) -> tuple[jax.Array, jax.Array, jax.Array | None]:
        """The examples of step ``step`` as the step sees them (`step_batch`; for inspection)."""
        data, _, bank = self.inputs
        fn = _jitted_batch(self.program.rc, self.mesh, self.n_real, self.codes)
        fed = None if self.feed is None else self.feed.at(step)
        return fn(jax.random.wrap_key_data(data), bank, jnp.uint32(step), fed)


def make_train_step(
    rc: RunConfig, bank: RealBank | None = None, mesh: Mesh | None = None, *, dataset: Any = None
) -> TrainStep:
    """The training step of a run (keys from ``rc.seed``, ``rc.real_per_step`` crops of ``bank``).

    Args:
      rc: the run configuration.
      bank: its real images (`jaxaxon.train.mixing.prepare_real`; None without real crops).
      mesh: the device mesh (default: all devices of all processes; one device is a mesh of one).
      dataset: the open dataset of a run with ``rc.data``
        (`jaxaxon.train.data_loader.prepare_data`; default: ``rc.data.path``, checked).

    Raises:
      RunConfigError: the batch does not split over the mesh's devices; a bad dataset.
    """
    mesh = make_mesh() if mesh is None else mesh
    n = mesh.shape[DATA_AXIS]
    if rc.batch_size % n:
        m = math.lcm(n, rc.tiles_per_image)
        raise RunConfigError(
            f"the {rc.batch_size} examples of a training step do not split over {n} devices; "
            f"choose a batch of a multiple of {m} examples (--batch {m}, {2 * m}, ...)"
        )
    n_real = rc.real_per_step if bank is not None else 0
    if rc.real_per_step and bank is None:
        raise RunConfigError("make_train_step: the run mixes real crops; pass its RealBank (prepare_real)")
    codes = transform_codes(rc.real, crop_size(rc)[0] == crop_size(rc)[1]) if n_real else (0,)
    _, data_key, dropout_key = run_keys(rc.seed)
    keys = tuple(np.asarray(jax.random.key_data(k)) for k in (data_key, dropout_key))
    bank = None if bank is None else replicate(bank, mesh)
    feed = None
    if rc.data is not None:
        from jaxaxon.train.data_loader import make_feed, open_training_data

        if dataset is None:
            dataset, _ = open_training_data(rc.data.path, rc, rc.data)
        feed = make_feed(dataset, rc, mesh)
    return TrainStep(get_program(rc), mesh, replicated_sharding(mesh), n_real, codes, (*keys, bank), feed)
