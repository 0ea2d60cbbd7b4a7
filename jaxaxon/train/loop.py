"""The training loop: validation, history, plots, checkpoints, resume and interruption.

`train` owns a run directory:

    DIR/config.json        the run configuration (`RunConfig.to_dict`)
    DIR/history.json       the metrics records (`jaxaxon.train.history`)
    DIR/checkpoints/       orbax checkpoints: latest/<step>/ and best/<step>/
    DIR/plots/*.png        training curves

A SIGTERM or a first Ctrl-C stops the run after the current step with a checkpoint (a
second Ctrl-C aborts at once). ``resume=True`` continues from the latest checkpoint: the
history is cut back to that step and the data stream continues from it, so the finished
run equals an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx

from jaxaxon.parallel import is_main_process, sync_processes
from jaxaxon.train.checkpoint import CheckpointStore
from jaxaxon.train.config import RunConfig, RunConfigError, read_run_config
from jaxaxon.train.history import read_history, truncate_history, write_history
from jaxaxon.train.mixing import make_train_step, prepare_real
from jaxaxon.train.sharded import DataParallel
from jaxaxon.train.step import Program, committed, get_program, run_keys, validation_chunk, zero_metrics

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


def _prepare_workdir(workdir: Path, rc: RunConfig | None, resume: bool, steps: int | None) -> RunConfig:
    config_path = workdir / "config.json"
    if resume:
        if not config_path.exists():
            raise RunConfigError(
                f"--resume: {workdir} holds no training run (no config.json); start one without --resume"
            )
        saved = read_run_config(config_path)
        sync_processes("jaxaxon-train-workdir-read")  # every process read it before it changes
        if steps is not None and steps != saved.steps:
            saved = saved.replace(steps=steps)
            if is_main_process():
                saved.to_json(config_path)
        return saved
    if rc is None:
        raise RunConfigError("train: a run configuration is needed for a new run")
    if config_path.exists() or (workdir / "checkpoints").exists() or (workdir / "history.json").exists():
        raise RunConfigError(
            f"{workdir} already holds a training run; continue it with --resume or choose another --workdir "
            "(nothing was changed)"
        )
    sync_processes("jaxaxon-train-workdir-checked")  # every process checked before process 0 writes
    if is_main_process():
        workdir.mkdir(parents=True, exist_ok=True)
        rc.to_json(config_path)
    sync_processes("jaxaxon-train-workdir-written")
    return rc


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
) -> dict[str, Any]:
    """Trains (or continues) a run in ``workdir``.

    Args:
      workdir: the run directory (must not hold a run unless ``resume``).
      rc: the run configuration of a new run (ignored when resuming: ``config.json`` is).
      resume: continue from the latest checkpoint of ``workdir``.
      steps: when resuming, a new total number of steps (extends or shortens the run).
      init_from: a checkpoint to initialise a new run's parameters from (an autoencoder's
        encoder, or any segmentation run for fine-tuning); see `jaxaxon.train.init`.
      until: stop after this step with a checkpoint, as if interrupted (resumable).
      progress: show a tqdm progress bar (steps/s and the latest metrics).
      log: where one-line notes go.

    Returns:
      A summary: ``step``, ``best_step``, best metric, the last record, elapsed seconds.

    Raises:
      RunConfigError: invalid options or workdir state. CheckpointError: unreadable or
      mismatched checkpoint. TrainingInterrupted: stopped by a signal or ``until`` (a
      checkpoint of the reached step was saved first).
    """
    workdir = Path(workdir).expanduser().absolute()
    if resume and init_from is not None:
        raise RunConfigError("--init-from applies to a new run; a resumed run continues from its own checkpoint")
    if rc is not None and init_from is not None and not resume:
        rc = rc.replace(init_from=str(Path(init_from).resolve()))
    if init_from is not None and not resume:
        # check the source before anything is written
        from jaxaxon.train.checkpoint import find_checkpoint

        find_checkpoint(init_from)
    real_bank = None
    if rc is not None and not resume:  # real data are read and checked before anything is written
        rc, real_bank = prepare_real(rc, log=log)
        _single_device_for_real(real_bank)
    rc = _prepare_workdir(workdir, rc, resume, steps)
    if until is not None and until < 1:
        raise RunConfigError(f"until: expected a positive step, got {until}")
    if resume:
        rc, real_bank = prepare_real(rc, resumed=True, log=log)
        _single_device_for_real(real_bank)
    program = get_program(rc)
    # more than one device (or process): the data-parallel step; else the plain one, unchanged
    par = DataParallel(program) if jax.device_count() > 1 else None
    place = committed if par is None else par.place
    # program.train_step unless real crops are mixed in (one device only, checked above)
    train_step = make_train_step(program, rc, real_bank) if par is None else par.train_step
    main = is_main_process()  # only process 0 writes the history, the plots and the notes
    if not main:
        progress, log = False, lambda text: None
    _, data_key, dropout_key = run_keys(rc.seed)
    store = CheckpointStore(workdir / "checkpoints", keep=rc.keep_checkpoints)
    history_path = workdir / "history.json"
    metric, mode = rc.best_metric
    try:
        start, elapsed0 = 0, 0.0
        restored = False
        if resume and store.latest_step() is not None:
            start = store.latest_step()
            abstract_model, abstract_opt = program.abstract()
            model_state, opt_state, acc, meta = store.restore(
                start, abstract_model, abstract_opt, zero_metrics(), None if par is None else par.sharding
            )
            elapsed0 = float(meta.get("elapsed_s", 0.0))
            restored = True
            log(f"resuming {workdir} from step {start}")
        if not restored:
            if resume:
                log(f"resuming {workdir}: no checkpoint yet, starting from step 0")
            model_state, opt_state = place(program.init(rc.seed))
            acc = place(zero_metrics())
            if rc.init_from:
                from jaxaxon.train.init import init_from as _init_from

                model = program.model(model_state)
                report = _init_from(model, rc, rc.init_from)
                model_state = place(nnx.state(model))
                log(
                    f"initialised {len(report['copied'])} of {len(report['copied']) + len(report['kept'])} parameter arrays "
                    f"from {report['source_kind']} {rc.init_from}"
                )
                if "warning" in report:
                    log(f"warning: {report['warning']}")
        history = truncate_history(read_history(history_path), start)
        if not restored:
            history = []
        if main:
            write_history(history_path, history)
        best = [r[metric] for r in history if r.get(metric) is not None]
        best_value = (max(best) if mode == "max" else min(best)) if best else None
        best_step = store.best_step()

        val = ValidationSet(rc)
        if par is not None:
            val.chunks = par.place(val.chunks)
        end = rc.steps if until is None else min(until, rc.steps)
        stop = _StopFlag()
        t0 = time.perf_counter() - elapsed0
        last_log = (time.perf_counter(), start)
        last_record: dict[str, Any] = history[-1] if history else {}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=rc.steps, initial=start, unit="step", dynamic_ncols=True, desc=workdir.name or "train")
        step = start
        with stop.installed():
            while step < end:
                model_state, opt_state, acc = train_step(model_state, opt_state, acc, data_key, dropout_key, step)
                step += 1
                if bar is not None:
                    bar.update(1)
                is_eval = step % rc.eval_every == 0 or step == rc.steps
                if step % rc.log_every == 0 or is_eval:
                    sums = {k: float(v) for k, v in jax.device_get(acc).items()}
                    acc = place(zero_metrics())
                    now = time.perf_counter()
                    n = max(sums.pop("count"), 1.0)
                    record: dict[str, Any] = {"step": step, **{k: v / n for k, v in sums.items()}}
                    if not rc.segmentation:
                        record.pop("dice"), record.pop("bce")
                    record["lr"] = float(program.schedule(step - 1))
                    record["time"] = now - t0
                    record["steps_per_s"] = (step - last_log[1]) / max(now - last_log[0], 1e-9)
                    if is_eval:
                        record.update(evaluate(program, model_state, val))
                        value = record[metric]
                        if best_value is None or (value > best_value if mode == "max" else value < best_value):
                            best_value, best_step = value, step
                            store.save_best(step, model_state, _meta(rc, step, now - t0, {metric: value}))
                    history.append(record)
                    if main:
                        write_history(history_path, history)
                    last_record = record
                    last_log = (time.perf_counter(), step)
                    if bar is not None:
                        bar.set_postfix(
                            {k: f"{record[k]:.4f}" for k in ("loss", "val_dice", "val_loss") if k in record},
                            refresh=False,
                        )
                    if is_eval and main:
                        _plot(rc, history, workdir)
                if step % rc.checkpoint_every == 0 or step == rc.steps:
                    store.save(step, model_state, opt_state, acc, _meta(rc, step, time.perf_counter() - t0))
                if stop.signum is not None or (until is not None and step >= until and step < rc.steps):
                    store.save(step, model_state, opt_state, acc, _meta(rc, step, time.perf_counter() - t0))
                    if bar is not None:
                        bar.close()
                        bar = None
                    raise TrainingInterrupted(step, stop.signum, workdir)
        if bar is not None:
            bar.close()
        if main and (step > start or not (workdir / "plots" / "training.png").exists()):
            _plot(rc, history, workdir)
        return {
            "workdir": str(workdir),
            "step": step,
            "best_step": best_step,
            f"best_{metric}": best_value,
            "last": last_record,
            "elapsed_s": time.perf_counter() - t0,
        }
    finally:
        store.close()


def _plot(rc: RunConfig, history: list[dict], workdir: Path) -> None:
    from jaxaxon.train.plots import plot_history

    if history:
        plot_history(
            history,
            workdir / "plots",
            heads=rc.model.heads if rc.segmentation else (),
            title=f"{workdir.name} ({rc.preset})",
        )


def _single_device_for_real(real_bank) -> None:
    """Real-data mixing runs the one-device step; refuse it on several devices before any write."""
    if real_bank is not None and jax.device_count() > 1:
        raise RunConfigError(
            f"--real mixing runs on one device for now, and {jax.device_count()} are visible: limit the run to one "
            "(e.g. CUDA_VISIBLE_DEVICES=0) or train on generated data only"
        )
