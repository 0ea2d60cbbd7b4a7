"""The training loop: validation, history, plots, checkpoints, resume and interruption.

`train` owns a run directory:

    DIR/config.json        the run configuration (`RunConfig.to_dict`)
    DIR/history.json       the metrics records (`jaxaxon.train.history`)
    DIR/checkpoints/       orbax checkpoints: latest/<step>/ and best/<step>/
    DIR/plots/*.png        training curves

A SIGTERM or a first Ctrl-C stops the run after the current step with a checkpoint (a
second Ctrl-C aborts at once). ``resume=True`` continues from the latest checkpoint: the
history is cut back to that step and the data stream continues from it, so the finished
run equals an uninterrupted one. With ``data`` the run trains on a dataset on disk
(`jaxaxon.train.data_loader`), whose batches are likewise a function of the step alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx

from jaxaxon.parallel import DATA_AXIS, is_main_process, sync_processes
from jaxaxon.train.checkpoint import CheckpointError, CheckpointStore, CheckpointWriteError, SkippedCheckpoint
from jaxaxon.train.config import RunConfig, RunConfigError, read_run_config
from jaxaxon.train.data_loader import data_note, prepare_data, resolve_steps
from jaxaxon.train.history import read_history, truncate_history, write_history
from jaxaxon.train.mixing import prepare_real
from jaxaxon.train.step import Program, TrainStep, make_train_step, validation_chunk, zero_metrics

__all__ = ["train", "TrainingInterrupted", "ValidationSet", "evaluate"]


class TrainingInterrupted(Exception):
    """The run stopped early (signal or ``until``) after saving a checkpoint.

    Attributes:
      step: the step of the saved checkpoint.
      signum: the signal number, or None for a planned pause (``until``).
    """

    def __init__(self, step: int, signum: int | None, workdir: Path):
        self.step, self.signum, self.workdir = step, signum, workdir
        why = f"signal {signal.Signals(signum).name}" if signum else "pause requested"
        super().__init__(
            f"stopped at step {step} ({why}); checkpoint saved; continue with --resume --workdir {workdir}"
        )


class ValidationSet:
    """The fixed validation images of a run (whole generated images, generated once)."""

    def __init__(self, rc: RunConfig):
        self.n = rc.val_images
        chunks = math.ceil(self.n / rc.val_batch)
        self.chunks = [validation_chunk(rc, i * rc.val_batch) for i in range(chunks)]


def evaluate(program: Program, model_state: Any, val: ValidationSet) -> dict[str, float]:
    """Validation metrics of a model state: ``val_loss`` and, for a U-Net, ``val_dice``
    (threshold 0.5, mean over images and heads), ``val_dice_<head>`` and ``val_soft_dice``."""
    outs = [program.eval_step(model_state, x, y) for x, y in val.chunks]
    cat = {k: np.concatenate([np.asarray(o[k]) for o in outs])[: val.n] for k in outs[0]}
    metrics = {"val_loss": float(cat["loss"].mean())}
    if "dice" in cat:
        dice = cat["dice"]  # [N, C]
        metrics["val_dice"] = float(dice.mean())
        heads = program.rc.model.heads
        if len(heads) > 1:
            for c, head in enumerate(heads):
                metrics[f"val_dice_{head}"] = float(dice[:, c].mean())
        metrics["val_soft_dice"] = float(cat["soft_dice"].mean())
    return metrics


class _StopFlag:
    """SIGTERM / first SIGINT set a flag checked between steps (main thread only)."""

    def __init__(self):
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handler(self, signum, frame):
        self.signum = signum
        if signum == signal.SIGINT:  # a second Ctrl-C aborts at once
            signal.signal(signal.SIGINT, signal.default_int_handler)

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for s in (signal.SIGTERM, signal.SIGINT):
            self._old[s] = signal.signal(s, self._handler)
        try:
            yield self
        finally:
            for s, h in self._old.items():
                signal.signal(s, h)


def _read_workdir(workdir: Path, steps: int | None) -> RunConfig:
    """The run configuration of a run to resume (with a new total of ``steps``, if given);
    nothing is written here (see `_commit_resume`)."""
    config_path = workdir / "config.json"
    if not config_path.exists():
        raise RunConfigError(f"--resume: {workdir} holds no training run (no config.json); start one without --resume")
    saved = read_run_config(config_path)
    sync_processes("jaxaxon-train-workdir-read")  # every process read it before it changes
    if steps is not None and steps != saved.steps:
        saved = saved.replace(steps=steps)
    return saved


def _new_workdir(workdir: Path, rc: RunConfig) -> None:
    """Writes a new run's ``config.json`` (refusing a directory that holds a run)."""
    config_path = workdir / "config.json"
    if config_path.exists() or (workdir / "checkpoints").exists() or (workdir / "history.json").exists():
        raise RunConfigError(
            f"{workdir} already holds a training run; continue it with --resume or choose another --workdir "
            "(nothing was changed)"
        )
    sync_processes("jaxaxon-train-workdir-checked")  # every process checked before process 0 writes
    if is_main_process():
        try:
            workdir.mkdir(parents=True, exist_ok=True)
            rc.to_json(config_path)
        except OSError as err:
            raise RunConfigError(f"cannot write {config_path}: {err.strerror or err}") from None
    sync_processes("jaxaxon-train-workdir-written")


def _meta(rc: RunConfig, step: int, elapsed: float, extra: dict | None = None) -> dict:
    from jaxaxon import __version__

    return {
        "step": step,
        "elapsed_s": elapsed,
        "run_config": rc.to_dict(),
        "jaxaxon_version": __version__,
        **(extra or {}),
    }


def train(
    workdir: str | Path,
    rc: RunConfig | None = None,
    *,
    resume: bool = False,
    steps: int | None = None,
    init_from: str | Path | None = None,
    until: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    data: str | Path | None = None,
    epochs: float | None = None,
) -> dict[str, Any]:
    """Trains (or continues) a run in ``workdir``.

    Args:
      workdir: the run directory (must not hold a run unless ``resume``).
      rc: the run configuration of a new run (ignored when resuming: ``config.json`` is).
      resume: continue from the latest checkpoint of ``workdir``.
      steps: the total number of steps: for a new run it replaces ``rc.steps``; when
        resuming, a new total (extends or shortens the run).
      init_from: a checkpoint to initialise a new run's parameters from (an autoencoder's
        encoder, or any segmentation run for fine-tuning); see `jaxaxon.train.init`.
      until: stop after this step with a checkpoint, as if interrupted (resumable).
      progress: show a tqdm progress bar (steps/s and the latest metrics).
      log: where one-line notes go.
      data: a dataset (``jaxaxon generate``) to train a new run on instead of images
        generated on the fly, recorded in ``config.json``; when resuming, a moved copy of
        the run's dataset (another dataset is refused).
      epochs: the total number of passes over the dataset: ``ceil(epochs * N / images per
        step)`` steps (must agree with ``steps`` when both are given).

    Returns:
      A summary: ``step``, ``best_step``, best metric, the last record, elapsed seconds.

    Raises:
      RunConfigError: invalid options or workdir state. CheckpointError: unreadable or
      mismatched checkpoint. TrainingInterrupted: stopped by a signal or ``until`` (a
      checkpoint of the reached step was saved first).
    """
    workdir = Path(workdir).expanduser().absolute()
    if not is_main_process():  # only process 0 writes the history, the plots and the notes
        progress, log = False, lambda text: None
    rc, train_step, steps = _prepare(workdir, rc, resume, steps, init_from, until, log, data, epochs)
    store = CheckpointStore(workdir / "checkpoints", keep=rc.keep_checkpoints)
    try:
        state, skipped = _restore_or_init(store, train_step, rc, resume, workdir, log)
        best_lost = _commit_resume(workdir, rc, store, train_step, state, skipped, steps, log) if resume else False
        recorder = _Recorder(workdir, rc, train_step, store, state, log)
        if best_lost:
            recorder.best_value = recorder.best_step = None
        start = state.step
        _step_loop(train_step, state, recorder, until, progress)
        if recorder.main and (state.step > start or not (workdir / "plots" / "training.png").exists()):
            _plot(rc, recorder.history, workdir, log)
        metric = rc.best_metric[0]
        return {
            "workdir": str(workdir),
            "step": state.step,
            "best_step": recorder.best_step,
            f"best_{metric}": recorder.best_value,
            "last": recorder.last,
            "elapsed_s": recorder.elapsed(),
        }
    except CheckpointWriteError as err:
        raise CheckpointWriteError(f"{err}; once there is room, continue with --resume --workdir {workdir}") from None
    finally:
        store.close()


def _prepare(
    workdir: Path, rc: RunConfig | None, resume: bool, steps: int | None, init_from, until: int | None, log,
    data=None, epochs: float | None = None,
) -> tuple[RunConfig, TrainStep, int | None]:
    """Checks the options, opens the dataset, reads the real data and builds the training
    step; a new run's directory is written only once all of that has passed. Returns the
    run, its step and the total steps asked for (None: the run's own)."""
    if resume and init_from is not None:
        raise RunConfigError("--init-from applies to a new run; a resumed run continues from its own checkpoint")
    if until is not None and until < 1:
        raise RunConfigError(f"until: expected a positive step, got {until}")
    if resume:
        rc = _read_workdir(workdir, None)
    elif rc is None:
        raise RunConfigError("train: a run configuration is needed for a new run")
    elif init_from is not None:
        from jaxaxon.train.checkpoint import find_checkpoint

        find_checkpoint(init_from)  # the source exists
        rc = rc.replace(init_from=str(Path(init_from).resolve()))
    rc, dataset = prepare_data(rc, data, resumed=resume, log=log)
    steps = resolve_steps(rc, steps, epochs)
    if steps is not None and steps != rc.steps:
        rc = rc.replace(steps=steps)
    if dataset is not None:
        log(data_note(rc))
    rc, bank = prepare_real(rc, resumed=resume, log=log)
    train_step = make_train_step(rc, bank, dataset=dataset)  # the batch splits over the devices
    _note_idle_generation(rc, train_step, log)
    if not resume:
        _new_workdir(workdir, rc)
    return rc, train_step, steps


def _note_idle_generation(rc: RunConfig, train_step: TrainStep, log) -> None:
    """Says when the generated images of a step do not split over the devices (some
    devices then generate images that are thrown away)."""
    if train_step.feed is not None:  # dataset images: nothing is generated
        return
    n = train_step.mesh.shape[DATA_AXIS]
    images = -(-(rc.batch_size - train_step.n_real) // rc.tiles_per_image)
    if images % n:
        local = -(-images // n)
        log(
            f"note: the {images} generated images of a step do not split over {n} devices; each generates {local} "
            f"and {local * n - images} are discarded (a larger --batch puts every device to use)"
        )


@dataclasses.dataclass
class _State:
    """What changes every step: the replicated model, optimizer and metric sums, the step."""

    model: Any
    opt: Any
    acc: Any
    step: int
    elapsed: float = 0.0  # seconds trained before this call (from the checkpoint)
    restored: bool = False


def _restore_or_init(
    store: CheckpointStore, train_step: TrainStep, rc: RunConfig, resume: bool, workdir: Path, log
) -> tuple[_State, tuple[SkippedCheckpoint, ...]]:
    """The newest readable checkpoint's state when resuming (if there is one), else a fresh
    one (initialised from ``rc.init_from`` if set), and the unreadable checkpoints skipped.
    Writes nothing."""
    program = train_step.program
    if resume:
        abstract_model, abstract_opt = program.abstract()
        try:
            restored = store.restore_newest(abstract_model, abstract_opt, zero_metrics(), train_step.sharding)
        except CheckpointError as err:
            raise CheckpointError(
                f"cannot resume {workdir}: {err}. Nothing was changed; start a new run in another --workdir"
            ) from None
        if restored is not None:
            elapsed = float(restored.meta.get("elapsed_s", 0.0))
            state = _State(restored.model, restored.optimizer, restored.accum, restored.step, elapsed, restored=True)
            return state, restored.skipped
        log(f"resuming {workdir}: no checkpoint yet, starting from step 0")
    model, opt, acc = train_step.init(rc.seed)
    if rc.init_from:
        from jaxaxon.train.init import init_from as _init_from

        module = program.model(model)
        report = _init_from(module, rc, rc.init_from, log=lambda text: log(f"--init-from: {text}"))
        model = train_step.place(nnx.state(module))
        log(
            f"initialised {len(report['copied'])} of {len(report['copied']) + len(report['kept'])} parameter arrays "
            f"from {report['source_kind']} {rc.init_from}"
        )
        if "warning" in report:
            log(f"warning: {report['warning']}")
    return _State(model, opt, acc, 0), ()


def _commit_resume(
    workdir: Path,
    rc: RunConfig,
    store: CheckpointStore,
    train_step: TrainStep,
    state: _State,
    skipped: tuple[SkippedCheckpoint, ...],
    steps: int | None,
    log,
) -> bool:
    """Once a resume has read its checkpoint: refuses a total ``steps`` below it, moves the
    unreadable checkpoints (skipped latest ones, an unreadable best) into ``unreadable/``,
    and writes the new total into ``config.json``. Returns whether the best checkpoint was
    set aside (the next validation then writes a new one)."""
    read_history(workdir / "history.json")  # readable before anything changes
    if steps is not None and steps < state.step:
        raise RunConfigError(
            f"--steps {steps} is below step {state.step}, where the run resumes from its checkpoint; give --steps "
            f"{state.step} or more (nothing was changed)"
        )
    bad_best = store.check_best(train_step.program.abstract()[0])
    if state.restored:
        log(f"resuming {workdir} from step {state.step}")
    for item, moved in zip(skipped, store.set_aside([s.path for s in skipped])):
        log(f"skipped unreadable checkpoint {item.describe(workdir)}; moved to {moved}")
    if bad_best is not None:
        moved = store.set_aside([bad_best.path])[0]
        log(
            f"the best checkpoint {bad_best.describe(workdir)} is unreadable; moved to {moved}; the next validation "
            "writes a new one"
        )
    config_path = workdir / "config.json"
    if is_main_process() and read_run_config(config_path) != rc:  # a new total of steps, a moved dataset
        try:
            rc.to_json(config_path)
        except OSError as err:
            raise RunConfigError(f"cannot write {config_path}: {err.strerror or err}") from None
    sync_processes("jaxaxon-train-resume-committed")
    return bad_best is not None


class _Recorder:
    """The run's records: history (cut back to the restored step), validation, the best
    checkpoint, the latest checkpoints and plots. Only process 0 writes files of its own;
    checkpoints are written by all processes together."""

    def __init__(
        self, workdir: Path, rc: RunConfig, train_step: TrainStep, store: CheckpointStore, state: _State, log
    ):
        self.workdir, self.rc, self.store, self.log = workdir, rc, store, log
        self.program, self.place = train_step.program, train_step.place
        self.main = is_main_process()
        self.path = workdir / "history.json"
        history = truncate_history(read_history(self.path), state.step)
        self.history = history if state.restored else []
        if self.main:
            write_history(self.path, self.history)
        metric, mode = rc.best_metric
        best = [r[metric] for r in self.history if r.get(metric) is not None]
        self.best_value = (max(best) if mode == "max" else min(best)) if best else None
        self.best_step = store.best_step()
        self.val = ValidationSet(rc)
        self.val.chunks = train_step.place(self.val.chunks)
        self.t0 = time.perf_counter() - state.elapsed
        self.last_log = (time.perf_counter(), state.step)
        self.last: dict[str, Any] = self.history[-1] if self.history else {}

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def record(self, state: _State, is_eval: bool) -> dict[str, Any]:
        """Appends the mean training metrics since the last record (and, if ``is_eval``, the
        validation metrics) and resets the sums."""
        sums = {k: float(v) for k, v in jax.device_get(state.acc).items()}
        state.acc = self.place(zero_metrics())
        now = time.perf_counter()
        n = max(sums.pop("count"), 1.0)
        record: dict[str, Any] = {"step": state.step, **{k: v / n for k, v in sums.items()}}
        if not self.rc.segmentation:
            record.pop("dice"), record.pop("bce")
        record["lr"] = float(self.program.schedule(state.step - 1))
        record["time"] = now - self.t0
        record["steps_per_s"] = (state.step - self.last_log[1]) / max(now - self.last_log[0], 1e-9)
        if is_eval:
            record.update(self.evaluate(state, now - self.t0))
        self.history.append(record)
        if self.main:
            write_history(self.path, self.history)
        self.last = record
        self.last_log = (time.perf_counter(), state.step)
        if is_eval and self.main:
            _plot(self.rc, self.history, self.workdir, self.log)
        return record

    def evaluate(self, state: _State, elapsed: float) -> dict[str, float]:
        """Validation metrics; a new best value replaces the best checkpoint."""
        metrics = evaluate(self.program, state.model, self.val)
        metric, mode = self.rc.best_metric
        value = metrics[metric]
        if self.best_value is None or (value > self.best_value if mode == "max" else value < self.best_value):
            self.best_value, self.best_step = value, state.step
            self.store.save_best(state.step, state.model, _meta(self.rc, state.step, elapsed, {metric: value}))
        return metrics

    def checkpoint(self, state: _State) -> None:
        """Saves the latest checkpoint of ``state.step`` (once per step)."""
        self.store.save(state.step, state.model, state.opt, state.acc, _meta(self.rc, state.step, self.elapsed()))


def _step_loop(train_step: TrainStep, state: _State, recorder: _Recorder, until: int | None, progress: bool) -> None:
    """Steps to ``rc.steps`` (or ``until``), recording, validating and checkpointing on
    schedule; a signal or ``until`` saves a checkpoint and raises `TrainingInterrupted`."""
    rc = recorder.rc
    end = rc.steps if until is None else min(until, rc.steps)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        desc = recorder.workdir.name or "train"
        bar = tqdm(total=rc.steps, initial=state.step, unit="step", dynamic_ncols=True, desc=desc)
    stop = _StopFlag()
    try:
        with stop.installed():
            while state.step < end:
                state.model, state.opt, state.acc = train_step(state.model, state.opt, state.acc, state.step)
                state.step += 1
                if bar is not None:
                    bar.update(1)
                is_eval = state.step % rc.eval_every == 0 or state.step == rc.steps
                if state.step % rc.log_every == 0 or is_eval:
                    record = recorder.record(state, is_eval)
                    if bar is not None:
                        shown = {k: f"{record[k]:.4f}" for k in ("loss", "val_dice", "val_loss") if k in record}
                        bar.set_postfix(shown, refresh=False)
                if state.step % rc.checkpoint_every == 0 or state.step == rc.steps:
                    recorder.checkpoint(state)
                if stop.signum is not None or (until is not None and until <= state.step < rc.steps):
                    recorder.checkpoint(state)
                    raise TrainingInterrupted(state.step, stop.signum, recorder.workdir)
    finally:
        if bar is not None:
            bar.close()


def _plot(rc: RunConfig, history: list[dict], workdir: Path, log) -> None:
    """Training curves (a failed write is noted, not fatal: the history holds the numbers)."""
    from jaxaxon.train.plots import plot_history

    if history:
        try:
            plot_history(
                history,
                workdir / "plots",
                heads=rc.model.heads if rc.segmentation else (),
                title=f"{workdir.name} ({rc.preset})",
            )
        except OSError as err:
            log(f"warning: cannot write the plots in {workdir / 'plots'}: {err.strerror or err}")
