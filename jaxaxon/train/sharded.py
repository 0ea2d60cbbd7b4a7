"""Data-parallel training over a device mesh (all devices of all processes).

The batch is sharded over the mesh's ``data`` axis; parameters, optimiser state and the
metric sums are replicated. Each device generates only its slice of the step's images
inside the jitted step (`jax.shard_map` over `jaxaxon.train.step.training_batch`), from
the same per-example keys as a single-device step (``fold_in(step_key, global_index)``),
so the data, and within float tolerance the loss trajectory, do not depend on the number
of devices or processes. The gradient all-reduce is left to XLA (GSPMD): the model and
the loss see the global batch, as on one device (batch-global Dice, batch statistics).

`DataParallel` is what `jaxaxon.train.loop.train` uses when more than one device is present.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from jaxaxon.parallel import DATA_AXIS, make_mesh, replicate, replicated_sharding, shard_map
from jaxaxon.train.config import RunConfigError
from jaxaxon.train.step import Program, training_batch

__all__ = ["DataParallel", "sharded_train_step"]


@functools.lru_cache(maxsize=8)
def sharded_train_step(program: Program, mesh: Mesh):
    """The data-parallel version of ``program.train_step``.

    Returns:
      jitted ``(model_state, opt_state, acc, data_key_data, dropout_key_data, step) ->
      (model_state, opt_state, acc)``: the states replicated over ``mesh`` (donated), the keys
      as raw key data (``jax.random.key_data``, uint32; plain NumPy arrays are accepted in
      multi-process runs), the step an int.
    """
    rc = program.rc
    n = mesh.shape[DATA_AXIS]
    if rc.images_per_step % n:
        raise RunConfigError(
            f"the {rc.images_per_step} images of a training step do not split over {n} devices; "
            f"choose a batch of a multiple of {n} images (--batch {n * rc.tiles_per_image}, "
            f"{2 * n * rc.tiles_per_image}, ...)"
        )
    local = rc.images_per_step // n

    def per_device(data_key, step):
        first = jax.lax.axis_index(DATA_AXIS).astype(np.uint32) * np.uint32(local)
        return training_batch(rc, data_key, step, first=first, count=local)

    batch = shard_map(per_device, mesh, in_specs=(PartitionSpec(), PartitionSpec()), out_specs=PartitionSpec(DATA_AXIS))

    def step_fn(model_state, opt_state, acc, data_key_data, dropout_key_data, step):
        data_key = jax.random.wrap_key_data(data_key_data)
        dropout_key = jax.random.wrap_key_data(dropout_key_data)
        step = jax.numpy.asarray(step, np.uint32)
        x, y = batch(data_key, step)
        return program.train_step_on_batch(model_state, opt_state, acc, x, y, dropout_key, step)

    repl = replicated_sharding(mesh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CPU backends cannot donate
        return jax.jit(step_fn, out_shardings=(repl, repl, repl), donate_argnums=(0, 1, 2))


class DataParallel:
    """Runs a `Program` data-parallel over a mesh.

    Attributes:
      mesh: the device mesh (default: all devices of all processes).
      sharding: the replicated sharding of states (and checkpoint restore targets).
    """

    def __init__(self, program: Program, mesh: Mesh | None = None):
        self.program = program
        self.mesh = make_mesh() if mesh is None else mesh
        self.sharding = replicated_sharding(self.mesh)
        self._step = sharded_train_step(program, self.mesh)
        self._keys: tuple = (None, None, None)  # (data key, dropout key, their key data on the host)

    def place(self, tree: Any) -> Any:
        """``tree`` replicated over the mesh (states, metric sums, validation images)."""
        return replicate(tree, self.mesh)

    def train_step(self, model_state, opt_state, acc, data_key, dropout_key, step):
        """Same arguments and results as ``Program.train_step`` (typed keys, int step)."""
        if self._keys[0] is not data_key or self._keys[1] is not dropout_key:  # once per run, not per step
            host = tuple(np.asarray(jax.random.key_data(k)) for k in (data_key, dropout_key))
            self._keys = (data_key, dropout_key, host)
        kd, dd = self._keys[2]
        return self._step(model_state, opt_state, acc, kd, dd, int(step))
