"""Devices, meshes, shardings and multi-host start-up: the one place that builds them.

Data parallelism over a ``data`` mesh axis (all devices of all processes); a ``model`` axis
of size 1 is kept so that model parallelism can be added later without changing callers.
Batches are sharded over ``data``; parameters and optimiser state are replicated.

Data are made where they are used: every device computes only its slice of a global batch
(`by_global_index`), and every example's key is derived from its *global* index
(`jaxaxon.synth.image.example_keys`, the real crops' ``fold_in``), so the data (and a
training run's loss trajectory) are the same on 1, 2 or 8 devices and on any number of hosts.

Multi-host runs call `initialize_distributed` first (command-line flags or the
``JAXAXON_COORDINATOR`` / ``JAXAXON_NUM_PROCESSES`` / ``JAXAXON_PROCESS_ID`` environment
variables; on TPU pods and SLURM clusters JAX detects them itself).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "DATA_AXIS",
    "MODEL_AXIS",
    "DistributedConfig",
    "initialize_distributed",
    "make_mesh",
    "data_sharding",
    "replicated_sharding",
    "is_main_process",
    "shard_map",
    "by_global_index",
    "items_per_device",
    "generate_sharded",
    "local_batch_size",
    "local_mesh",
    "replicate",
    "sync_processes",
]

DATA_AXIS = "data"
MODEL_AXIS = "model"


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    """How to join a multi-process run (all None: a single process, or JAX auto-detection).

    Attributes:
      coordinator: ``host:port`` of process 0's coordinator service.
      num_processes: total number of processes.
      process_id: this process's index, ``0 .. num_processes - 1``.
      auto: let JAX detect the cluster (TPU pods, SLURM, Open MPI) when nothing is given
        and such an environment is found.
    """

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    auto: bool = True

    @classmethod
    def from_env(cls, **overrides) -> "DistributedConfig":
        """Values from ``JAXAXON_COORDINATOR``, ``JAXAXON_NUM_PROCESSES``, ``JAXAXON_PROCESS_ID``
        (explicit non-None overrides win)."""
        env = os.environ
        values = dict(
            coordinator=env.get("JAXAXON_COORDINATOR") or None,
            num_processes=int(env["JAXAXON_NUM_PROCESSES"]) if env.get("JAXAXON_NUM_PROCESSES") else None,
            process_id=int(env["JAXAXON_PROCESS_ID"]) if env.get("JAXAXON_PROCESS_ID") else None,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


_CLUSTER_ENV = ("SLURM_JOB_ID", "TPU_WORKER_HOSTNAMES", "TPU_WORKER_ID", "OMPI_COMM_WORLD_SIZE", "CLOUD_TPU_TASK_ID")


def initialize_distributed(config: DistributedConfig | None = None) -> bool:
    """Starts `jax.distributed` when a multi-process run is asked for or detected.

    Must run before any other JAX call in the process. Explicit settings need all three of
    coordinator, number of processes and process id (a clear error otherwise).

    Returns:
      True when `jax.distributed.initialize` was called.
    """
    config = DistributedConfig.from_env() if config is None else config
    explicit = (config.coordinator, config.num_processes, config.process_id)
    if any(v is not None for v in explicit):
        if not all(v is not None for v in explicit):
            raise ValueError(
                "multi-process run: give all of --coordinator, --num-processes and --process-id "
                "(or JAXAXON_COORDINATOR, JAXAXON_NUM_PROCESSES, JAXAXON_PROCESS_ID)"
            )
        if not 0 <= config.process_id < config.num_processes:
            raise ValueError(f"process id {config.process_id} is outside 0..{config.num_processes - 1}")
        _enable_cpu_collectives()
        jax.distributed.initialize(
            coordinator_address=config.coordinator, num_processes=config.num_processes, process_id=config.process_id
        )
        return True
    if config.auto and any(name in os.environ for name in _CLUSTER_ENV):
        _enable_cpu_collectives()
        jax.distributed.initialize()  # JAX's own cluster detection (TPU pods, SLURM, Open MPI)
        return True
    return False


def _enable_cpu_collectives() -> None:
    """Cross-process collectives on CPU devices (gloo; the default from JAX 0.5 on, ``none``
    before): without them a CPU-only multi-process run cannot all-reduce gradients."""
    try:
        if jax.config.jax_cpu_collectives_implementation in (None, "none"):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except AttributeError:  # pragma: no cover - a JAX without the option
        pass


def sync_processes(name: str) -> None:
    """Waits until every process reaches this point (no-op in a single-process run)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def local_mesh() -> Mesh:
    """A ``(data, model)`` mesh over this process's own devices (work that needs no
    cross-process communication, e.g. each process generating its own part of a dataset)."""
    return make_mesh(jax.local_devices())


def replicate(tree, mesh: Mesh):
    """``tree`` as arrays replicated over every device of ``mesh`` (parameters, optimiser
    state, metric sums, validation images).

    Every process must hold the same values (as all processes of a run do: same seed, same
    checkpoint). Works in multi-process runs, where a process cannot address all devices:
    each process fills its own devices' copies from its host values.
    """
    sharding = replicated_sharding(mesh)

    def one(x):
        if isinstance(x, jax.Array) and x.sharding == sharding:
            return x
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = replicate(jax.random.key_data(x), mesh)
            return jax.jit(lambda d: jax.random.wrap_key_data(d, impl=jax.random.key_impl(x)), out_shardings=sharding)(data)
        if jax.process_count() == 1:
            return jax.device_put(x, sharding)
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)


def make_mesh(devices: list | None = None) -> Mesh:
    """A ``(data, model)`` mesh over all devices (model axis of size 1)."""
    devices = jax.devices() if devices is None else list(devices)
    # Auto axes (GSPMD propagation: a replicated model applied to a batch sharded over
    # ``data`` needs no annotations); recent JAX makes `jax.make_mesh` axes Explicit by default.
    auto = getattr(getattr(jax.sharding, "AxisType", None), "Auto", None)
    kwargs = {} if auto is None else {"axis_types": (auto, auto)}
    if devices == jax.devices():
        return jax.make_mesh((len(devices), 1), (DATA_AXIS, MODEL_AXIS), **kwargs)
    return Mesh(np.asarray(devices).reshape(len(devices), 1), (DATA_AXIS, MODEL_AXIS), **kwargs)


def data_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over ``data``; everything else replicated."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    """Fully replicated (parameters, optimiser state, scalars)."""
    return NamedSharding(mesh, PartitionSpec())


def is_main_process() -> bool:
    """True in process 0 (the one that writes logs, plots and dataset metadata)."""
    return jax.process_index() == 0


def items_per_device(count: int, mesh: Mesh) -> int:
    """Items per device when ``count`` items are spread over the ``data`` axis, rounded up
    (`by_global_index` computes the few extra items and drops them)."""
    return -(-count // mesh.shape[DATA_AXIS])


def local_batch_size(global_batch: int, mesh: Mesh) -> int:
    """Examples per device; the global batch must split evenly over the ``data`` axis."""
    n = mesh.shape[DATA_AXIS]
    if global_batch % n:
        raise ValueError(f"global batch {global_batch} does not split over {n} devices; use a multiple of {n}")
    return global_batch // n


def shard_map(fn: Callable, mesh: Mesh, in_specs, out_specs) -> Callable:
    """`jax.shard_map` (new API) or `jax.experimental.shard_map.shard_map` (older JAX)."""
    if hasattr(jax, "shard_map"):
        return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)
    from jax.experimental.shard_map import shard_map as legacy  # pragma: no cover - older JAX

    return legacy(fn, mesh, in_specs, out_specs, check_rep=False)


def generate_sharded(generator: Callable, key: jax.Array, config, global_batch: int, start_index, mesh: Mesh):
    """Runs a batch generator (`jaxaxon.generate` or `jaxaxon.generate_series`) with each
    device producing only its slice of the global batch.

    Device ``d`` of the ``data`` axis generates global examples
    ``start_index + d * local .. start_index + (d + 1) * local - 1``, from the same
    per-example keys as a single-device call, so the result equals
    ``generator(key, config, global_batch, start_index)`` whatever the device count.

    Args:
      generator: ``f(key, config, batch_size, start_index) -> pytree of [B, ...] arrays``.
      key: PRNG key (replicated).
      config: generator config (static).
      global_batch: examples over all devices.
      start_index: global index of the first example (int or traced).
      mesh: the device mesh.

    Returns:
      The generator's output with every leaf sharded over ``data`` along its first axis.
    """
    local = local_batch_size(global_batch, mesh)
    return _sharded_call(generator, config, local, mesh)(key, jnp.asarray(start_index, jnp.uint32))


def by_global_index(fn: Callable, mesh: Mesh, local: int) -> Callable:
    """Runs ``fn(first, *args)`` on every device of the ``data`` axis, device ``d`` with
    ``first = d * local`` (uint32): each computes items ``first .. first + local - 1`` of
    a sequence indexed globally, from the same (replicated) ``args``.

    Returns:
      A function of ``*args`` whose output leaves ``[n * local, ...]`` (``n`` devices) are
      sharded over ``data``; row ``i`` is global item ``i`` whatever ``n``.
    """

    def per_device(*args):
        first = jax.lax.axis_index(DATA_AXIS).astype(jnp.uint32) * jnp.uint32(local)
        return fn(first, *args)

    return shard_map(per_device, mesh, in_specs=PartitionSpec(), out_specs=PartitionSpec(DATA_AXIS))


@functools.lru_cache(maxsize=32)
def _sharded_call(generator: Callable, config, local: int, mesh: Mesh) -> Callable:
    return jax.jit(by_global_index(lambda first, key, start: generator(key, config, local, start + first), mesh, local))
