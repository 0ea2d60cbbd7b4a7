"""Shared tiny training configuration (one compilation of each program per session)."""

from __future__ import annotations

import pytest

from jaxaxon.train import train

from jaxaxon.models.config import ModelConfig
from jaxaxon.train.config import RunConfig

# Options of the tiny run, usable both as RunConfig.replace(**TINY_CHANGES) and as
# `jaxaxon train --set KEY=VALUE` (with --params for the generator).
TINY_CHANGES = {
    "model.base_width": 4,
    "crop": 32,
    "batch_size": 8,
    "steps": 6,
    "loss": "dice",
    "lr": 0.003,
    "schedule": "warmup_cosine",
    "warmup_steps": 1,
    "clip_norm": 1.0,
    "val_images": 2,
    "val_batch": 2,
    "eval_every": 3,
    "log_every": 1,
    "checkpoint_every": 2,
    "keep_checkpoints": 2,
}


@pytest.fixture(scope="session")
def tiny_changes() -> dict:
    """The tiny run's options (relative to any preset, with the small generator config)."""
    return dict(TINY_CHANGES)


@pytest.fixture(scope="session")
def tiny(small_cfg) -> RunConfig:
    """The tiny run: nano layout at width 4, 2 images of 64x64 (4 tiles of 32x32 each) per
    step, dice loss, 6 steps; validation on 2 whole images."""
    return RunConfig(preset="test", model=ModelConfig(), generator=small_cfg).replace(**TINY_CHANGES)


@pytest.fixture(scope="session")
def tiny_run(tiny, tmp_path_factory):
    """An uninterrupted 6-step tiny run: ``(workdir, summary)``."""
    workdir = tmp_path_factory.mktemp("tiny_run") / "run"
    summary = train(workdir, tiny, progress=False, log=lambda s: None)
    return workdir, summary
