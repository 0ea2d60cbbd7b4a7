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


def test_workdir_naming_an_existing_file_is_refused_and_kept(tmp_path, capsys):
    a_file = tmp_path / "run"
    a_file.write_text("keep me")
    for workdir in (a_file, a_file / "sub"):
        assert main(["train", "--workdir", str(workdir)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"jaxaxon train: error: --workdir {workdir}: ") and "\n" not in err
    assert a_file.read_text() == "keep me"
