"""The training loop: history, plots, checkpoints, pause/resume equal to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from jaxaxon.train import CheckpointError, RunConfigError, TrainingInterrupted, load_model, train

TIMING_KEYS = ("time", "steps_per_s")


def _history(workdir) -> list[dict]:
    return json.loads((Path(workdir) / "history.json").read_text())


def _untimed(history):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in history]


def _params(workdir, which="latest"):
    steps = sorted(int(p.name) for p in (Path(workdir) / "checkpoints" / which).iterdir() if p.name.isdigit())
    model, _ = load_model(Path(workdir) / "checkpoints" / which / str(steps[-1]))
    return steps[-1], nnx.to_pure_dict(nnx.state(model))


def _assert_same_params(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb):  # bitwise: same program, same data, deterministic CPU kernels
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def straight(tiny_run):
    return tiny_run


def test_run_writes_config_history_checkpoints_and_plots(tiny, straight):
    workdir, summary = straight
    assert json.loads((workdir / "config.json").read_text())["crop"] == 32
    history = _history(workdir)
    assert [r["step"] for r in history] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(r["loss"]) for r in history)
    val = [r for r in history if "val_dice" in r]
    assert [r["step"] for r in val] == [3, 6]
    assert all(0 <= r["val_dice"] <= 1 and "val_loss" in r for r in val)
    assert sorted(p.name for p in (workdir / "checkpoints" / "latest").iterdir()) == ["4", "6"]
    assert len(list((workdir / "checkpoints" / "best").iterdir())) == 1
    for name in ("training.png", "loss.png", "val_dice.png"):
        assert (workdir / "plots" / name).stat().st_size > 1000
    assert summary["step"] == 6 and summary["last"]["step"] == 6


def test_pause_and_resume_equals_the_uninterrupted_run(tiny, straight, tmp_path):
    workdir = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as info:
        train(workdir, tiny, until=3, progress=False, log=lambda s: None)  # step 3: not a checkpoint step
    assert info.value.step == 3
    assert [r["step"] for r in _history(workdir)] == [1, 2, 3]
    train(workdir, resume=True, progress=False, log=lambda s: None)
    assert _untimed(_history(workdir)) == _untimed(_history(straight[0]))
    step_a, a = _params(workdir)
    step_b, b = _params(straight[0])
    assert step_a == step_b == 6
    _assert_same_params(a, b)


def test_resume_cuts_history_back_to_the_checkpoint(tiny, straight, tmp_path):
    """Records written after the last checkpoint (a crash between the two) are replayed, not duplicated."""
    workdir = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(workdir, tiny, until=3, progress=False, log=lambda s: None)
    # pretend the crash came after two more logged steps but before their checkpoint
    history = _history(workdir)
    (workdir / "history.json").write_text(json.dumps(history + [dict(history[-1], step=4), dict(history[-1], step=5)]))
    train(workdir, resume=True, progress=False, log=lambda s: None)
    assert _untimed(_history(workdir)) == _untimed(_history(straight[0]))


def test_bad_run_directories_and_options_give_clear_errors(tiny, straight, tmp_path):
    before = sorted(p.name for p in straight[0].rglob("*"))
    with pytest.raises(RunConfigError, match="already holds a training run"):
        train(straight[0], tiny, progress=False)
    assert sorted(p.name for p in straight[0].rglob("*")) == before  # nothing touched
    with pytest.raises(RunConfigError, match="no config.json"):
        train(tmp_path / "none", resume=True, progress=False)
    with pytest.raises(CheckpointError, match="does not exist"):
        train(tmp_path / "new", tiny, init_from=tmp_path / "missing", progress=False)
    assert not (tmp_path / "new").exists()
    with pytest.raises(RunConfigError, match="init-from applies to a new run"):
        train(straight[0], resume=True, init_from=straight[0], progress=False)
    with pytest.raises(RunConfigError, match="crop"):
        tiny.replace(crop=30)  # not divisible by 2**depth
    with pytest.raises(RunConfigError, match="crop"):
        tiny.replace(crop=128)  # larger than the image
    with pytest.raises(RunConfigError, match="batch_size"):
        tiny.replace(batch_size=6)
    with pytest.raises(RunConfigError, match="did you mean 'steps'"):
        tiny.replace(stepz=3)
    with pytest.raises(RunConfigError, match="loss"):
        tiny.replace(loss="mse")


def _damage(step_dir, item="model"):
    """Truncates every data file of one item of a step directory."""
    files = [p for p in (step_dir / item).rglob("*") if p.is_file() and p.parent.name == "d"]
    assert files
    for p in files:
        p.write_bytes(p.read_bytes()[:20])


def _snapshot(workdir) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(Path(workdir).rglob("*")) if p.is_file()}


def _copy(run, tmp_path):
    import shutil

    return Path(shutil.copytree(run, tmp_path / "copy"))


def test_resume_falls_back_from_a_damaged_latest_checkpoint(tiny, straight, tmp_path):
    workdir = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(workdir, tiny, until=4, progress=False, log=lambda s: None)
    _damage(workdir / "checkpoints" / "latest" / "4", "optimizer")
    notes = []
    train(workdir, resume=True, progress=False, log=notes.append)
    assert notes[0] == f"resuming {workdir} from step 2"
    assert notes[1].startswith("skipped unreadable checkpoint checkpoints/latest/4 (damaged or truncated data in ")
    assert notes[1].endswith(f"moved to {workdir / 'checkpoints' / 'unreadable' / 'latest-4'}")
    assert (workdir / "checkpoints" / "unreadable" / "latest-4" / "optimizer").is_dir()  # kept, out of the way
    assert sorted(p.name for p in (workdir / "checkpoints" / "latest").iterdir()) == ["4", "6"]
    assert _untimed(_history(workdir)) == _untimed(_history(straight[0]))
    _assert_same_params(_params(workdir)[1], _params(straight[0])[1])


def test_a_failed_resume_changes_nothing(straight, tmp_path):
    workdir = _copy(straight[0], tmp_path)
    for step_dir in (workdir / "checkpoints" / "latest").iterdir():
        _damage(step_dir)
    before = _snapshot(workdir)
    with pytest.raises(CheckpointError) as info:
        train(workdir, resume=True, steps=9, progress=False, log=lambda s: None)
    message = str(info.value)
    latest = workdir / "checkpoints" / "latest"
    assert message.startswith(f"cannot resume {workdir}: no readable checkpoint in {latest}")
    assert "latest/6 (damaged or truncated data in model/d/" in message and "latest/4 (" in message
    assert "Nothing was changed" in message and "tensorstore" not in message.lower()
    assert _snapshot(workdir) == before  # config.json keeps its steps


def test_resume_refuses_a_total_below_the_checkpoint(straight, tmp_path):
    workdir = _copy(straight[0], tmp_path)
    before = _snapshot(workdir)
    with pytest.raises(RunConfigError, match=r"--steps 5 is below step 6, where the run resumes"):
        train(workdir, resume=True, steps=5, progress=False, log=lambda s: None)
    assert _snapshot(workdir) == before


def test_resume_rewrites_a_damaged_best_checkpoint(straight, tmp_path):
    """The resumed run reaches the best step again (or validates later): best/ is readable afterwards."""
    workdir = _copy(straight[0], tmp_path)
    (best,) = list((workdir / "checkpoints" / "best").iterdir())
    _damage(best)
    _damage(workdir / "checkpoints" / "latest" / "6", "optimizer")  # resume from step 4
    notes = []
    train(workdir, resume=True, progress=False, log=notes.append)
    assert any(n.startswith(f"the best checkpoint checkpoints/best/{best.name} (damaged") for n in notes)
    (new_best,) = list((workdir / "checkpoints" / "best").iterdir())
    assert new_best.name == "6"
    assert (workdir / "checkpoints" / "unreadable" / f"best-{best.name}").is_dir()
    loaded = []
    load_model(workdir, log=loaded.append)
    assert loaded == []  # nothing skipped
    assert _untimed(_history(workdir)) == _untimed(_history(straight[0]))


def _cli(workdir, params, changes, *extra):
    cmd = [sys.executable, "-m", "jaxaxon.cli", "train", "--workdir", str(workdir), "--no-progress"]
    if params is not None:
        cmd += ["--params", str(params)]
    for key, value in changes.items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    return cmd + list(extra)


def _wait_for_checkpoint(workdir, proc, beyond=0, timeout=300):
    latest = Path(workdir) / "checkpoints" / "latest"
    t0 = time.time()
    while time.time() - t0 < timeout:
        steps = [int(p.name) for p in latest.iterdir() if p.name.isdigit()] if latest.is_dir() else []
        if steps and max(steps) > beyond:
            return max(steps)
        if proc.poll() is not None:
            raise AssertionError(f"training exited early ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


def test_killed_and_terminated_cli_runs_resume_to_the_uninterrupted_result(tiny, tiny_changes, small_cfg, tmp_path):
    """kill -9 after the first checkpoint, resume, SIGTERM (graceful: checkpoint, exit 143),
    resume to the end; compare with an uninterrupted in-process run of the same options.

    Bitwise equality is expected and asserted: the same XLA program on the same data (which
    depends only on seed and step) with deterministic CPU kernels."""
    params = tmp_path / "params.json"
    small_cfg.to_json(params)
    changes = dict(tiny_changes, steps=40, eval_every=10, checkpoint_every=2, keep_checkpoints=3)
    # the reference first: its compilation fills the persistent cache the subprocesses read
    ref_dir = tmp_path / "ref"
    ref_rc = tiny.replace(**{k: v for k, v in changes.items()})
    train(ref_dir, ref_rc, progress=False, log=lambda s: None)
    workdir = tmp_path / "cli"
    env = dict(os.environ)
    proc = subprocess.Popen(
        _cli(workdir, params, changes), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    first = _wait_for_checkpoint(workdir, proc)
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = max(r["step"] for r in _history(workdir))
    assert killed_at < 40, "the run finished before it could be killed"

    proc = subprocess.Popen(
        _cli(workdir, None, {}, "--resume"), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    # wait for a checkpoint written by the resumed process, then ask it to stop
    _wait_for_checkpoint(workdir, proc, beyond=max(first, killed_at))
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err  # SIGTERM: checkpoint, then exit 128 + 15
    assert "checkpoint saved" in err and "--resume" in err
    stopped_at = int(err.split("stopped at step ")[1].split()[0])
    assert stopped_at < 40 and (workdir / "checkpoints" / "latest" / str(stopped_at)).is_dir()

    summary = train(workdir, resume=True, progress=False, log=lambda s: None)  # finish in-process
    assert summary["step"] == 40

    hist = _history(workdir)
    assert [r["step"] for r in hist] == list(range(1, 41))  # no duplicated or lost steps
    assert _untimed(hist) == _untimed(_history(ref_dir))
    step_a, a = _params(workdir)
    step_b, b = _params(ref_dir)
    assert step_a == step_b == 40
    _assert_same_params(a, b)
