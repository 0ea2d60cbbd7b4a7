"""Checkpoints with orbax (the only orbax user in jaxaxon).

Layout of ``DIR/checkpoints/``:

- ``latest/<step>/``: the latest ``keep`` checkpoints, each with the items ``model``
  (`nnx.State`), ``optimizer`` (`nnx.State` of the `nnx.Optimizer`), ``accum`` (training
  metric sums since the last history record) and ``meta`` (JSON: step, run config, ...).
- ``best/<step>/``: the checkpoint with the best validation metric (``model`` and
  ``meta``), replaced only when the metric improves.

Orbax writes each step into a temporary directory and renames it when complete, and it
deletes an old step only after a new one is committed, so an interrupted save never costs
the previous good checkpoint. Restores go into abstract states (`nnx.eval_shape`), and any
failure to read becomes a `CheckpointError` that names the directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

__all__ = ["CheckpointError", "CheckpointStore", "find_checkpoint", "read_model_checkpoint", "LATEST", "BEST"]

LATEST = "latest"
BEST = "best"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, corrupt or does not fit the model."""


@contextlib.contextmanager
def _quiet_absl():
    """Orbax logs routine notes through absl at WARNING; keep the user's terminal clean."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _abstract(tree: Any, sharding: Any = None) -> Any:
    """Restore targets: shapes and dtypes placed on ``sharding`` (default: this process's
    first device). Naming the placement makes a checkpoint written on N devices restore on
    M devices (orbax would otherwise try the writer's device layout)."""
    sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0]) if sharding is None else sharding
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def _step_dirs(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit())


class CheckpointStore:
    """The checkpoints of one training run (``DIR/checkpoints``).

    Args:
      root: the ``checkpoints`` directory (created if missing).
      keep: number of latest checkpoints kept.
    """

    def __init__(self, root: str | os.PathLike, keep: int = 3):
        self.root = Path(root).expanduser().absolute()  # orbax needs absolute paths
        self.root.mkdir(parents=True, exist_ok=True)
        with _quiet_absl():
            self._latest = ocp.CheckpointManager(
                self.root / LATEST,
                options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False),
            )
            self._best = ocp.CheckpointManager(
                self.root / BEST,
                options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True, enable_async_checkpointing=False),
            )

    def steps(self) -> list[int]:
        """Committed steps in ``latest/``, ascending."""
        return sorted(self._latest.all_steps())

    def latest_step(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def best_step(self) -> int | None:
        steps = sorted(self._best.all_steps())
        return steps[-1] if steps else None

    def save(self, step: int, model_state: Any, opt_state: Any, accum: Any, meta: dict[str, Any]) -> bool:
        """Saves a latest checkpoint (synchronously); False when ``step`` is already saved."""
        if step in self._latest.all_steps():
            return False
        args = ocp.args.Composite(
            model=ocp.args.StandardSave(model_state),
            optimizer=ocp.args.StandardSave(opt_state),
            accum=ocp.args.StandardSave(accum),
            meta=ocp.args.JsonSave(meta),
        )
        with _quiet_absl():
            self._latest.save(step, args=args)
            self._latest.wait_until_finished()
        return True

    def save_best(self, step: int, model_state: Any, meta: dict[str, Any]) -> None:
        """Replaces the best checkpoint (call only when the validation metric improved)."""
        if step in self._best.all_steps():
            return
        args = ocp.args.Composite(model=ocp.args.StandardSave(model_state), meta=ocp.args.JsonSave(meta))
        with _quiet_absl():
            self._best.save(step, args=args)
            self._best.wait_until_finished()

    def restore(
        self, step: int, abstract_model: Any, abstract_opt: Any, accum_like: Any, sharding: Any = None
    ) -> tuple[Any, Any, Any, dict]:
        """Restores a latest checkpoint into the given abstract states, placed on ``sharding``
        (default: this process's first device; a data-parallel run passes its replicated
        sharding), whatever the device count of the run that wrote it.

        Returns:
          ``(model_state, opt_state, accum, meta)``.

        Raises:
          CheckpointError: the step is missing or unreadable, or does not fit the states.
        """
        path = self.root / LATEST / str(step)
        if step not in self._latest.all_steps():
            raise CheckpointError(
                f"no checkpoint of step {step} in {self.root / LATEST} (found: {self.steps() or 'none'})"
            )
        args = ocp.args.Composite(
            model=ocp.args.StandardRestore(_abstract(abstract_model, sharding)),
            optimizer=ocp.args.StandardRestore(_abstract(abstract_opt, sharding)),
            accum=ocp.args.StandardRestore(_abstract(accum_like, sharding)),
            meta=ocp.args.JsonRestore(),
        )
        try:
            with _quiet_absl():
                out = self._latest.restore(step, args=args)
        except Exception as err:  # orbax/tensorstore raise many kinds; all mean "unreadable"
            raise _unreadable(path, err) from err
        return out["model"], out["optimizer"], out["accum"], dict(out["meta"])

    def close(self) -> None:
        with _quiet_absl():
            self._latest.close()
            self._best.close()


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return CheckpointError(
        f"checkpoint {path} is unreadable (corrupt, incomplete or from a different model): "
        f"{type(err).__name__}: {first[:300]}. It was left untouched; move it aside to resume from an "
        f"earlier step."
    )


def find_checkpoint(path: str | os.PathLike) -> Path:
    """The step directory a user path designates.

    Accepts a training directory (its best checkpoint, else its latest), its
    ``checkpoints`` directory, ``checkpoints/best`` or ``checkpoints/latest`` (their
    newest step), or a step directory itself.

    Raises:
      CheckpointError: nothing usable there.
    """
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise CheckpointError(f"checkpoint path {p} does not exist")
    if (p / "meta").is_dir() and (p / "model").is_dir():
        return p
    candidates = []
    if (p / "checkpoints").is_dir():
        candidates = [p / "checkpoints" / BEST, p / "checkpoints" / LATEST]
    elif (p / BEST).is_dir() or (p / LATEST).is_dir():
        candidates = [p / BEST, p / LATEST]
    elif p.name in (BEST, LATEST):
        candidates = [p]
    for c in candidates:
        steps = _step_dirs(c)
        if steps:
            return c / str(steps[-1])
    raise CheckpointError(
        f"no checkpoint found in {p} (expected a jaxaxon training directory or a checkpoint step directory)"
    )


def read_model_checkpoint(step_dir: str | os.PathLike, abstract_model: Any | None = None) -> tuple[Any, dict]:
    """Reads the ``meta`` (and, given its abstract state, the ``model``) of a step directory.

    Returns:
      ``(model_state or None, meta)``.
    """
    step_dir = Path(step_dir).expanduser().absolute()
    items: dict[str, Any] = {"meta": ocp.args.JsonRestore()}
    if abstract_model is not None:
        items["model"] = ocp.args.StandardRestore(_abstract(abstract_model))
    try:
        with _quiet_absl():
            checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
            out = checkpointer.restore(step_dir.resolve(), args=ocp.args.Composite(**items))
    except Exception as err:
        raise _unreadable(step_dir, err) from err
    meta = out["meta"]
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {step_dir} has no readable metadata")
    return (out["model"] if abstract_model is not None else None), dict(meta)
