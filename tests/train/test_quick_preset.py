"""The README's main command: `jaxaxon train --preset quick` (minutes on a CPU: slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_quick_preset_reaches_the_target_dice(tmp_path):
    workdir = tmp_path / "quick"
    done = subprocess.run(
        [sys.executable, "-m", "jaxaxon.cli", "train", "--workdir", str(workdir), "--preset", "quick", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr
    history = json.loads((workdir / "history.json").read_text())
    config = json.loads((workdir / "config.json").read_text())
    assert history[-1]["step"] == config["steps"]
    val = [r["val_dice"] for r in history if "val_dice" in r]
    assert val and val[-1] >= 0.5, val
    assert (workdir / "plots" / "training.png").stat().st_size > 10_000
    assert any((workdir / "checkpoints" / "latest").iterdir())
    assert any((workdir / "checkpoints" / "best").iterdir())
