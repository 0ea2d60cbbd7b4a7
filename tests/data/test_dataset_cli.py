"""`jaxaxon generate`: the command writes, resumes and refuses like the library, with exit status 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jaxaxon.cli import main
from jaxaxon.data import open_dataset

from .dataset_reference import BATCH, SEED, SERIES_BATCH, SERIES_N, SERIES_SEED, N, series_config

REPO = Path(__file__).resolve().parents[2]


def _args(out: Path, params: Path, *extra: str, n: int = N, seed: int = SEED, batch: int | None = BATCH) -> list[str]:
    args = ["generate", "--n", str(n), "--out", str(out), "--params", str(params), "--seed", str(seed)]
    return args + (["--batch", str(batch)] if batch else []) + list(extra)


def test_generate_writes_the_dataset_and_a_preview(small_params, reference_dataset, tmp_path, tree, capsys):
    out, png = tmp_path / "cli.zarr", tmp_path / "preview.png"
    assert main(_args(out, small_params, "--preview", str(png))) == 0
    captured = capsys.readouterr()
    assert f"wrote {N} images to {out}" in captured.out and "images/s" in captured.out
    assert "img/s" in captured.err  # the progress bar
    assert tree.bytes(out) == tree.bytes(reference_dataset)
    with Image.open(png) as im:
        assert im.size[0] > 100 and im.size[1] > 100
    # the same command again: nothing to do, nothing changed
    before = tree.state(out)
    assert main(_args(out, small_params, batch=None)) == 0
    captured = capsys.readouterr()
    assert "already complete" in captured.out and "resuming" not in captured.err
    assert tree.state(out) == before


def test_ctrl_c_then_the_same_command_resumes(small_params, reference_dataset, tmp_path, tree, capsys, monkeypatch):
    import jaxaxon.data

    real = jaxaxon.data.write_dataset

    stopped_at = []

    def interrupted(*args, on_progress, **kwargs):
        def progress(done, total):
            on_progress(done, total)
            if done >= BATCH:
                stopped_at.append(done)
                raise KeyboardInterrupt

        return real(*args, on_progress=progress, **kwargs)

    out = tmp_path / "ctrl-c.zarr"
    with monkeypatch.context() as m:
        m.setattr(jaxaxon.data, "write_dataset", interrupted)
        assert main(_args(out, small_params)) == 130
    err = capsys.readouterr().err
    done = stopped_at[0]
    assert done < N and f"interrupted with {done} of {N} images complete; run the same command again to resume" in err
    assert main(_args(out, small_params)) == 0
    assert f"resuming {out}: {done} of {N} images already complete" in capsys.readouterr().err
    assert tree.bytes(out) == tree.bytes(reference_dataset)


def _fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("jaxaxon generate: ")
    return captured.err


def test_refusals_exit_2_and_leave_data_untouched(small_params, dataset_copy, tmp_path, tree, capsys):
    before = tree.state(dataset_copy)
    err = _fails(_args(dataset_copy, small_params, seed=SEED + 1), capsys)
    assert "other settings" in err and "--seed: existing 3, requested 4" in err and "--overwrite" in err
    assert "--n: existing 10, requested 12" in _fails(_args(dataset_copy, small_params, n=12), capsys)
    (dataset_copy / "zarr.json").write_text("{ broken")
    before = tree.state(dataset_copy)
    assert "corrupt dataset attributes" in _fails(_args(dataset_copy, small_params), capsys)
    assert tree.state(dataset_copy) == before
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "cannot create the dataset directory" in _fails(_args(a_file / "out.zarr", small_params), capsys)
    bad_params = tmp_path / "bad.json"
    bad_params.write_text(json.dumps({"MinAxons": -1}))
    assert "MinAxons" in _fails(_args(tmp_path / "new.zarr", bad_params), capsys)
    assert not (tmp_path / "new.zarr").exists()
    assert "preview" in _fails(_args(tmp_path / "new.zarr", small_params, "--preview", str(a_file / "p.png")), capsys)
    assert not (tmp_path / "new.zarr").exists()


@pytest.mark.parametrize("value", ["0", "-5", "ten"])
def test_bad_n_is_a_usage_error(value, small_params, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--n", value, "--out", str(tmp_path / "x.zarr"), "--params", str(small_params)])
    assert exit_.value.code == 2
    assert "--n" in capsys.readouterr().err
    assert not (tmp_path / "x.zarr").exists()


def test_series_flag_writes_the_series_dataset(small_cfg, series_dataset, tmp_path, tree, capsys):
    params, out, png = tmp_path / "series.json", tmp_path / "s.zarr", tmp_path / "s.png"
    series_config(small_cfg).to_json(params)
    argv = _args(out, params, "--series", "--preview", str(png), n=SERIES_N, seed=SERIES_SEED, batch=SERIES_BATCH)
    assert main(argv) == 0
    assert f"wrote {SERIES_N} series to {out}" in capsys.readouterr().out
    assert tree.bytes(out) == tree.bytes(series_dataset)
    with Image.open(png) as im:  # the frames of the first series
        assert im.size[0] > 100
    # a single-image request into the series dataset is refused
    assert "kind: existing 'series', requested 'images'" in _fails(
        _args(out, params, n=SERIES_N, batch=SERIES_BATCH), capsys
    )


@pytest.mark.slow
def test_cli_killed_mid_run_and_rerun_gives_the_uninterrupted_dataset(small_params, tmp_path, tree, subprocess_env):
    """kill -9 of the command itself (no throttling): 100 chunks, killed after the first is recorded."""
    n, out, ref = 400, tmp_path / "killed.zarr", tmp_path / "whole.zarr"
    command = [sys.executable, "-m", "jaxaxon.cli"]
    proc = subprocess.Popen(command + _args(out, small_params, n=n), env=subprocess_env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                progress = json.loads((out / "zarr.json").read_text())["attributes"]["jaxaxon"]["progress"]
            except (OSError, ValueError, KeyError):
                progress = {"completed_chunks": 0}
            if progress["completed_chunks"] >= 1:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL, "the command finished before it could be killed"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not open_dataset(out, allow_incomplete=True).complete
    for path in (out, ref):
        done = subprocess.run(command + _args(path, small_params, n=n), env=subprocess_env, cwd=REPO,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert tree.bytes(out) == tree.bytes(ref)
    np.testing.assert_array_equal(open_dataset(out)[:]["images"], open_dataset(ref)[:]["images"])
