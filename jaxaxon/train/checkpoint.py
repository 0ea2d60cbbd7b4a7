"""Checkpoints with orbax (the only orbax user in jaxaxon).

Layout of ``DIR/checkpoints/``:

- ``latest/<step>/``: the latest ``keep`` checkpoints, each with the items ``model``
  (`nnx.State`), ``optimizer`` (`nnx.State` of the `nnx.Optimizer`), ``accum`` (training
  metric sums since the last history record) and ``meta`` (JSON: step, run config, ...).
- ``best/<step>/``: the checkpoint with the best validation metric (``model`` and
  ``meta``), replaced when the metric improves or when its step is written again.
- ``unreadable/``: checkpoints a resumed run found unreadable, moved out of the way
  (never deleted).

Orbax writes each step into a temporary directory and renames it when complete, and it
deletes an old step only after a new one is committed, so an interrupted save never costs
the previous good checkpoint. Restores go into abstract states (`nnx.eval_shape`); a
checkpoint that cannot be read raises `UnreadableCheckpointError` (directory and problem in
plain words), a failed write `CheckpointWriteError`. `CheckpointStore.restore_newest` and
`checkpoint_candidates` let readers fall back to the newest readable checkpoint.

The leftovers of a failed orbax read or write (TensorStore operations that finish after
orbax closed their event loop, orbax's own error logs from its worker threads) are not
printed: the failure itself is reported once, as one of the errors above.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import math
import os
import re
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxaxon.parallel import is_main_process, sync_processes

__all__ = [
    "BEST",
    "LATEST",
    "UNREADABLE",
    "CheckpointError",
    "CheckpointStore",
    "CheckpointWriteError",
    "RestoredCheckpoint",
    "SkippedCheckpoint",
    "UnreadableCheckpointError",
    "checkpoint_candidates",
    "find_checkpoint",
    "read_model_checkpoint",
]

LATEST = "latest"
BEST = "best"
UNREADABLE = "unreadable"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, corrupt or does not fit the model."""


class UnreadableCheckpointError(CheckpointError):
    """One checkpoint cannot be read.

    Attributes:
      path: the step directory.
      reason: the problem in plain words.
    """

    def __init__(self, path: Path, reason: str, extra: str = ""):
        self.path, self.reason = Path(path), reason
        super().__init__(f"checkpoint {path} is unreadable: {reason}{extra}")


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (full disk, permissions); earlier ones are intact."""


@dataclasses.dataclass(frozen=True)
class SkippedCheckpoint:
    """A checkpoint passed over because it cannot be read."""

    path: Path
    reason: str

    def describe(self, root: Path | None = None) -> str:
        return f"{_short(self.path, root)} ({self.reason})"


@dataclasses.dataclass(frozen=True)
class RestoredCheckpoint:
    """What `CheckpointStore.restore_newest` read: the states of ``step`` and the newer
    steps it skipped (newest first)."""

    step: int
    model: Any
    optimizer: Any
    accum: Any
    meta: dict
    skipped: tuple[SkippedCheckpoint, ...] = ()


# ---------------------------------------------------------------------------- quiet failures

_NOISY_SOURCES = (f"{os.sep}orbax{os.sep}", "tensorstore", "array_serialization")


class _DropOrbaxRecords(logging.Filter):
    """Drops orbax's absl records (routine notes, and the errors its worker threads log
    before the failure reaches us as an exception) and asyncio's notes about orbax tasks
    left pending by a failed read or write."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        if record.name == "absl":
            return not any(s in record.pathname for s in _NOISY_SOURCES)
        try:
            text = record.getMessage()
        except Exception:  # a record we cannot format is not ours to judge
            return True
        return not any(s in text for s in _NOISY_SOURCES)


def _is_orbax_leftover(unraisable: Any) -> bool:
    """An exception from a TensorStore callback into orbax's closed event loop, or from an
    orbax coroutine destroyed with it."""
    exc = unraisable.exc_value
    if isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed":
        return True
    code = getattr(unraisable.object, "cr_code", None)
    return code is not None and any(s in code.co_filename for s in _NOISY_SOURCES)


def _install_quiet_failures() -> None:
    if getattr(sys.unraisablehook, "_jaxaxon_quiet", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not _is_orbax_leftover(unraisable):
            previous(unraisable)

    hook._jaxaxon_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook
    # orbax coroutines dropped with their closed loop are garbage-collected wherever the
    # last reference goes (asyncio, concurrent.futures), so no module is named here
    warnings.filterwarnings("ignore", r"coroutine '.*' was never awaited", RuntimeWarning)
    for name in ("absl", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropOrbaxRecords) for f in logger.filters):
            logger.addFilter(_DropOrbaxRecords())


_install_quiet_failures()


@contextlib.contextmanager
def _quiet_absl():
    """Orbax logs routine notes through absl at WARNING; keep the user's terminal clean."""
    _install_quiet_failures()  # again: a test runner may have replaced the hook since
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------------------- plain words

_FILE_IN_MESSAGE = re.compile(r'"(/[^"]+)"')


def _first_file(err: BaseException, step_dir: Path) -> str | None:
    """The most specific file of ``step_dir`` an orbax/TensorStore message names, relative to it."""
    step_dir = step_dir.resolve()
    found = []
    for match in _FILE_IN_MESSAGE.finditer(str(err)):
        with contextlib.suppress(ValueError):
            rel = str(Path(match.group(1)).relative_to(step_dir))
            if rel != ".":
                found.append(rel)
    return max(found, key=len) if found else None


def _read_problem(err: BaseException, step_dir: Path) -> str:
    """Why ``step_dir`` could not be read, in plain words (no TensorStore internals)."""
    text = str(err)
    low = text.lower()
    where = _first_file(err, step_dir)
    if isinstance(err, KeyError) and "was not found in the checkpoint" in text:
        item = text.split('"')[1] if text.count('"') >= 2 else "an item"
        return f"its '{item}' part is missing"
    if isinstance(err, FileNotFoundError) or "not_found" in low or "no such file" in low:
        return f"a file is missing{f' ({where})' if where else ''}"
    if isinstance(err, ValueError) and type(err).__name__ == "JSONDecodeError":
        return "its metadata is not valid JSON"
    if "shape" in low or "structure" in low or "missing keys" in low or "mismatch" in low:
        return "its arrays do not fit this network (another model configuration)"
    if "permission denied" in low:
        return f"permission denied{f' ({where})' if where else ''}"
    return f"damaged or truncated data{f' in {where}' if where else ''}"


def _write_problem(err: BaseException) -> str:
    code = getattr(err, "errno", None)
    low = str(err).lower()
    if code == errno.ENOSPC or "no space left" in low or "resource_exhausted" in low or "os_error_code='28'" in low:
        return "no space left on the device"
    if code == errno.EDQUOT or "quota" in low:
        return "disk quota exceeded"
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in low:
        return "permission denied"
    if code == errno.EROFS or "read-only file system" in low:
        return "the file system is read-only"
    first = low.strip().splitlines()[0] if low.strip() else type(err).__name__
    return f"the write failed ({first[:160]})"


def _short(path: Path, root: Path | None) -> str:
    if root is not None:
        with contextlib.suppress(ValueError):
            return str(Path(path).relative_to(root))
    return str(path)


def _step_dirs(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit())


def _check_meta(step_dir: Path, meta: Any, step: int | None = None) -> dict:
    """The ``meta`` item as a dict, or `UnreadableCheckpointError` when it is not usable."""
    if not isinstance(meta, dict):
        raise UnreadableCheckpointError(step_dir, f"its metadata is not a JSON object (found {type(meta).__name__})")
    if step is not None and "step" in meta and meta["step"] != step:
        raise UnreadableCheckpointError(step_dir, f"its metadata names step {meta['step']!r}, not {step}")
    elapsed = meta.get("elapsed_s", 0.0)
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not math.isfinite(elapsed) or elapsed < 0:
        raise UnreadableCheckpointError(step_dir, f"its metadata has an invalid elapsed_s ({str(elapsed)[:40]!r})")
    return dict(meta)


# ---------------------------------------------------------------------------- the store


def _abstract(tree: Any, sharding: Any = None) -> Any:
    """Restore targets: shapes and dtypes placed on ``sharding`` (default: this process's
    first device). Naming the placement makes a checkpoint written on N devices restore on
    M devices (orbax would otherwise try the writer's device layout)."""
    sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0]) if sharding is None else sharding
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def _manager(directory: Path, keep: int) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False),
    )


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
            self._latest = _manager(self.root / LATEST, keep)
            self._best = _manager(self.root / BEST, 1)

    def steps(self) -> list[int]:
        """Committed steps in ``latest/``, ascending."""
        return sorted(self._latest.all_steps())

    def latest_step(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def best_step(self) -> int | None:
        steps = sorted(self._best.all_steps())
        return steps[-1] if steps else None

    def _write(self, manager: ocp.CheckpointManager, kind: str, step: int, args: Any) -> None:
        try:
            with _quiet_absl():
                manager.save(step, args=args)
                manager.wait_until_finished()
        except Exception as err:  # orbax/tensorstore raise many kinds; all mean "not written"
            self._drop_partial(kind, step)
            intact = ", ".join(f"{LATEST}/{s}" for s in reversed(self.steps())) or "none yet"
            raise CheckpointWriteError(
                f"cannot write checkpoint {self.root / kind / str(step)}: {_write_problem(err)}; "
                f"the earlier checkpoints are intact ({intact})"
            ) from None

    def _drop_partial(self, kind: str, step: int) -> None:
        """Removes the temporary directory of a failed save (it never became a checkpoint)."""
        if is_main_process():
            for tmp in (self.root / kind).glob(f"{step}.orbax-checkpoint-tmp*"):
                shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(Exception):
            (self._latest if kind == LATEST else self._best).reload()

    def save(self, step: int, model_state: Any, opt_state: Any, accum: Any, meta: dict[str, Any]) -> bool:
        """Saves a latest checkpoint (synchronously); False when ``step`` is already saved.

        Raises:
          CheckpointWriteError: the write failed (nothing of it remains; earlier checkpoints are intact).
        """
        if step in self._latest.all_steps():
            return False
        args = ocp.args.Composite(
            model=ocp.args.StandardSave(model_state),
            optimizer=ocp.args.StandardSave(opt_state),
            accum=ocp.args.StandardSave(accum),
            meta=ocp.args.JsonSave(meta),
        )
        self._write(self._latest, LATEST, step, args)
        return True

    def save_best(self, step: int, model_state: Any, meta: dict[str, Any]) -> None:
        """Replaces the best checkpoint (call when the validation metric improved). A best
        checkpoint of the same step (a resumed run reaching it again) is rewritten: it is set
        aside, and put back only if the new one cannot be written.

        Raises:
          CheckpointWriteError: the write failed (the previous best is kept).
        """
        args = ocp.args.Composite(model=ocp.args.StandardSave(model_state), meta=ocp.args.JsonSave(meta))
        aside = self.root / f".{BEST}-{step}.replaced"
        replacing = step in self._best.all_steps()
        if replacing:
            self._move(self.root / BEST / str(step), aside)
        try:
            self._write(self._best, BEST, step, args)
        except CheckpointWriteError:
            if replacing:
                self._move(aside, self.root / BEST / str(step))
            raise
        if replacing and is_main_process():
            shutil.rmtree(aside, ignore_errors=True)

    def _move(self, source: Path, target: Path) -> None:
        """Renames a step directory (process 0; every process waits) and refreshes the step lists."""
        sync_processes(f"jaxaxon-checkpoint-move-{source.name}-{target.name}")
        if is_main_process():
            if target.exists():
                shutil.rmtree(target)
            os.replace(source, target)
        sync_processes(f"jaxaxon-checkpoint-moved-{source.name}-{target.name}")
        with _quiet_absl():
            self._latest.reload()
            self._best.reload()

    def set_aside(self, step_dirs: list[Path]) -> list[Path]:
        """Moves unreadable step directories into ``unreadable/`` (``latest-6``, ``best-3``, ...),
        out of orbax's way; returns their new paths."""
        moved = []
        for step_dir in step_dirs:
            base = self.root / UNREADABLE / f"{step_dir.parent.name}-{step_dir.name}"
            target, n = base, 1
            while target.exists():
                n += 1
                target = base.with_name(f"{base.name}.{n}")
            if is_main_process():
                target.parent.mkdir(parents=True, exist_ok=True)
            self._move(step_dir, target)
            moved.append(target)
        return moved

    def restore(
        self, step: int, abstract_model: Any, abstract_opt: Any, accum_like: Any, sharding: Any = None
    ) -> tuple[Any, Any, Any, dict]:
        """Restores a latest checkpoint into the given abstract states, placed on ``sharding``
        (default: this process's first device; a data-parallel run passes its replicated
        sharding), whatever the device count of the run that wrote it.

        Returns:
          ``(model_state, opt_state, accum, meta)``.

        Raises:
          CheckpointError: the step is missing. UnreadableCheckpointError: it is unreadable,
            or does not fit the states.
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
            raise UnreadableCheckpointError(path, _read_problem(err, path)) from None
        meta = _check_meta(path, out["meta"], step)
        return out["model"], out["optimizer"], out["accum"], meta

    def restore_newest(
        self, abstract_model: Any, abstract_opt: Any, accum_like: Any, sharding: Any = None
    ) -> RestoredCheckpoint | None:
        """The newest readable latest checkpoint (see `restore`); None when there is none at all.

        Raises:
          CheckpointError: every checkpoint is unreadable (each named with its problem).
        """
        skipped: list[SkippedCheckpoint] = []
        for step in reversed(self.steps()):
            try:
                model, opt, acc, meta = self.restore(step, abstract_model, abstract_opt, accum_like, sharding)
            except UnreadableCheckpointError as err:
                skipped.append(SkippedCheckpoint(err.path, err.reason))
                continue
            return RestoredCheckpoint(step, model, opt, acc, meta, tuple(skipped))
        if not skipped:
            return None
        raise CheckpointError(
            f"no readable checkpoint in {self.root / LATEST}: " + "; ".join(s.describe(self.root) for s in skipped)
        )

    def check_best(self, abstract_model: Any) -> SkippedCheckpoint | None:
        """Reads the best checkpoint; the problem when it is unreadable, else None."""
        step = self.best_step()
        if step is None:
            return None
        try:
            read_model_checkpoint(self.root / BEST / str(step), abstract_model)
        except UnreadableCheckpointError as err:
            return SkippedCheckpoint(err.path, err.reason)
        return None

    def close(self) -> None:
        with _quiet_absl():
            self._latest.close()
            self._best.close()


# ---------------------------------------------------------------------------- readers


def checkpoint_candidates(path: str | os.PathLike) -> list[Path]:
    """The step directories a user path designates, in order of preference.

    A training directory or its ``checkpoints`` directory: the best checkpoint, then the
    latest ones, newest first. ``checkpoints/best`` or ``checkpoints/latest``: their steps,
    newest first. A step directory: itself.

    Raises:
      CheckpointError: nothing usable there.
    """
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise CheckpointError(f"checkpoint path {p} does not exist")
    if (p / "meta").is_dir() or (p / "model").is_dir():
        return [p]
    kinds: list[Path] = []
    if (p / "checkpoints").is_dir():
        kinds = [p / "checkpoints" / BEST, p / "checkpoints" / LATEST]
    elif (p / BEST).is_dir() or (p / LATEST).is_dir():
        kinds = [p / BEST, p / LATEST]
    elif p.name in (BEST, LATEST):
        kinds = [p]
    found = [kind / str(step) for kind in kinds for step in reversed(_step_dirs(kind))]
    if not found:
        raise CheckpointError(
            f"no checkpoint found in {p} (expected a jaxaxon training directory or a checkpoint step directory)"
        )
    return found


def find_checkpoint(path: str | os.PathLike) -> Path:
    """The preferred step directory a user path designates (`checkpoint_candidates`' first).

    Raises:
      CheckpointError: nothing usable there.
    """
    return checkpoint_candidates(path)[0]


def read_model_checkpoint(step_dir: str | os.PathLike, abstract_model: Any | None = None) -> tuple[Any, dict]:
    """Reads the ``meta`` (and, given its abstract state, the ``model``) of a step directory.

    Returns:
      ``(model_state or None, meta)``.

    Raises:
      UnreadableCheckpointError: missing, corrupt or mismatched parts.
    """
    step_dir = Path(step_dir).expanduser().absolute()
    items: dict[str, Any] = {"meta": ocp.args.JsonRestore()}
    if abstract_model is not None:
        items["model"] = ocp.args.StandardRestore(_abstract(abstract_model))
    try:
        with _quiet_absl(), ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
            out = checkpointer.restore(step_dir.resolve(), args=ocp.args.Composite(**items))
    except Exception as err:  # orbax/tensorstore raise many kinds; all mean "unreadable"
        raise UnreadableCheckpointError(step_dir, _read_problem(err, step_dir)) from None
    meta = _check_meta(step_dir, out["meta"])
    return (out["model"] if abstract_model is not None else None), meta
