"""`jaxaxon train`: bad input gives a clear error (exit 2) and changes nothing."""

from __future__ import annotations

import json

import pytest

from jaxaxon.cli import main


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--preset", "quik"],
            "unknown preset 'quik' (choose one of quick, original, unet, real, ae-quick, ae-original); did you mean 'quick'?",
        ),
        (["--set", "lr=-1"], "lr: expected a number in (0.0, 10.0], got -1"),
        (["--set", "model.norm=bach"], "did you mean 'batch'"),
        (["--set", "stepz=3"], "did you mean 'steps'"),
        (["--set", "crop=30"], "crop: 30 must be divisible by 2**model.depth = 4"),
        (["--set", "lr"], "--set expects KEY=VALUE"),
        (["--heads", "axon,cell"], "model.heads: unknown value 'cell'"),
        (["--params", "/nonexistent/params.json"], "cannot read parameter file"),
        (["--resume"], "holds no training run"),
        (["--init-from", "/nonexistent/run"], "checkpoint path /nonexistent/run does not exist"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(args, message, tmp_path, capsys):
    workdir = tmp_path / "run"
    assert main(["train", "--workdir", str(workdir), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxaxon train: ") and message in err
    assert not workdir.exists()


def test_resume_refuses_to_change_the_stored_configuration(tmp_path, capsys):
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text(json.dumps({"steps": 5}))
    assert main(["train", "--workdir", str(workdir), "--resume", "--lr", "0.1", "--preset", "quick"]) == 2
    assert "cannot change: preset, lr" in capsys.readouterr().err
    (workdir / "config.json").write_text("{broken")
    assert main(["train", "--workdir", str(workdir), "--resume"]) == 2
    assert "cannot read the run configuration" in capsys.readouterr().err


def test_argparse_rejects_malformed_numbers(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--workdir", str(tmp_path), "--steps", "-3"])
    assert info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_relative_workdir(tiny_changes, small_cfg, tmp_path, monkeypatch):
    """`jaxaxon train --workdir runs/x` (a relative path, as in the README) trains, checkpoints
    and resumes (orbax itself needs absolute paths)."""
    from tests.conftest import SMALL

    monkeypatch.chdir(tmp_path)
    SMALL.to_json(tmp_path / "small.json")
    sets = [item for key, value in tiny_changes.items() for item in ("--set", f"{key}={value}")]
    assert main(["train", "--workdir", "runs/rel", "--preset", "quick", "--params", "small.json", "--no-progress", *sets]) == 0
    history = json.loads((tmp_path / "runs" / "rel" / "history.json").read_text())
    assert history[-1]["step"] == tiny_changes["steps"]
    assert sorted(p.name for p in (tmp_path / "runs" / "rel" / "checkpoints" / "latest").iterdir())
    assert main(["train", "--workdir", "runs/rel", "--resume", "--steps", str(tiny_changes["steps"] + 2), "--no-progress"]) == 0
    history = json.loads((tmp_path / "runs" / "rel" / "history.json").read_text())
    assert history[-1]["step"] == tiny_changes["steps"] + 2


# --- damaged checkpoints and full disks: one line, nothing lost (issue 18) ---------------------


def _damage(step_dir, item="model"):
    files = [p for p in (step_dir / item).rglob("*") if p.is_file() and p.parent.name == "d"]
    assert files
    for p in files:
        p.write_bytes(p.read_bytes()[:20])


def _copy(run, tmp_path, name="run"):
    import shutil

    return shutil.copytree(run, tmp_path / name)


def _one_line(err: str, command: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jaxaxon {command}: error: "), err[:3000]
    return lines[0]


def test_garbage_checkpoint_metadata_on_resume_is_one_line(tiny_run, tmp_path, capsys):
    workdir = _copy(tiny_run[0], tmp_path)
    for step_dir in (workdir / "checkpoints" / "latest").iterdir():
        (step_dir / "meta" / "metadata").write_text("null")
    config = (workdir / "config.json").read_bytes()
    assert main(["train", "--workdir", str(workdir), "--resume", "--steps", "9", "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err, "train")
    assert "latest/6 (its metadata is not a JSON object (found NoneType))" in line
    assert (workdir / "config.json").read_bytes() == config


def test_full_disk_during_training_is_one_line_and_resumable(tiny_run, tmp_path, capsys, monkeypatch):
    import orbax.checkpoint as ocp

    workdir = _copy(tiny_run[0], tmp_path)
    real_save = ocp.CheckpointManager.save

    def full_disk(self, step, *args, **kwargs):
        raise ValueError(
            f'RESOURCE_EXHAUSTED: Error writing local file "{self.directory}/{step}.orbax-checkpoint-tmp/model/d/x": '
            "Failed to write 1172 bytes to file 6: No space left on device [os_error_code='28']"
        )

    monkeypatch.setattr(ocp.CheckpointManager, "save", full_disk)
    assert main(["train", "--workdir", str(workdir), "--resume", "--steps", "8", "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err, "train")
    assert "/checkpoints/" in line and "/8: no space left on the device; the earlier checkpoints are intact" in line
    assert line.endswith(f"continue with --resume --workdir {workdir}")
    assert sorted(p.name for p in (workdir / "checkpoints" / "latest").iterdir()) == ["4", "6"]
    monkeypatch.setattr(ocp.CheckpointManager, "save", real_save)
    assert main(["train", "--workdir", str(workdir), "--resume", "--no-progress"]) == 0
    assert [r["step"] for r in json.loads((workdir / "history.json").read_text())] == list(range(1, 9))
    assert sorted(p.name for p in (workdir / "checkpoints" / "latest").iterdir()) == ["6", "8"]


def test_damaged_checkpoints_give_one_line_without_thread_noise(tiny_run, tmp_path):
    """The CLI as a user runs it: exactly one line on stderr, every time (orbax's event-loop
    leftovers used to print hundreds of lines in some runs)."""
    import subprocess
    import sys

    import numpy as np

    workdir = _copy(tiny_run[0], tmp_path)
    for step_dir in [*(workdir / "checkpoints" / "latest").iterdir(), *(workdir / "checkpoints" / "best").iterdir()]:
        _damage(step_dir)
    np.save(tmp_path / "image.npy", np.zeros((32, 32), np.float32))
    cli = [sys.executable, "-m", "jaxaxon.cli"]
    predict = ["predict", "--checkpoint", str(workdir), "--input", str(tmp_path / "image.npy"), "--out"]
    runs = [predict + [str(tmp_path / "p")]] * 3
    runs.append(["train", "--workdir", str(workdir), "--resume", "--no-progress"])
    for args in runs:
        proc = subprocess.run(cli + args, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2
        line = _one_line(proc.stderr, args[0])
        assert "latest/6 (damaged or truncated data in model/d/" in line
    assert not (tmp_path / "p").exists()


@pytest.mark.slow
def test_a_really_full_disk_is_one_line_and_resumable(tiny_changes, small_cfg, tmp_path):
    """A 400 KiB tmpfs (needs the right to mount; skipped otherwise): the first checkpoints
    fit, a later one does not. After the space is raised, --resume finishes the run."""
    import subprocess
    import sys

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        small_cfg.to_json(tmp_path / "small.json")
        sets = [item for key, value in tiny_changes.items() for item in ("--set", f"{key}={json.dumps(value)}")]
        cli = [sys.executable, "-m", "jaxaxon.cli", "train", "--workdir", str(disk / "run"), "--no-progress"]
        proc = subprocess.run(cli + ["--params", str(tmp_path / "small.json"), *sets], capture_output=True, text=True)
        assert proc.returncode == 2
        line = _one_line(proc.stderr, "train")
        assert "no space left on the device; the earlier checkpoints are intact (latest/" in line
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        proc = subprocess.run(cli + ["--resume"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        history = json.loads((disk / "run" / "history.json").read_text())
        assert [r["step"] for r in history] == list(range(1, tiny_changes["steps"] + 1))
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)

def test_workdir_naming_an_existing_file_is_refused_and_kept(tmp_path, capsys):
    a_file = tmp_path / "run"
    a_file.write_text("keep me")
    for workdir in (a_file, a_file / "sub"):
        assert main(["train", "--workdir", str(workdir)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"jaxaxon train: error: --workdir {workdir}: ") and "\n" not in err
    assert a_file.read_text() == "keep me"
