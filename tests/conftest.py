"""Shared test settings: compile-time savings and the few generator configs tests reuse.

Every distinct static config is one XLA compilation (seconds on a CPU), so tests share
the configs below and vary keys and traced values instead.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

# Before JAX starts: CPU only; cheaper LLVM passes (compile time ~30 % lower, same speed);
# a persistent compilation cache shared with subprocesses started by tests.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=1 --xla_llvm_disable_expensive_passes=true")
_CACHE = Path(__file__).resolve().parent.parent / ".jax_cache"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402
import pytest  # noqa: E402

from jaxaxon.config import GeneratorConfig  # noqa: E402
from jaxaxon.models.config import ModelConfig  # noqa: E402
from jaxaxon.train import train  # noqa: E402
from jaxaxon.train.config import RunConfig  # noqa: E402

SHARED_REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real"
SHARED_REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"

# A small config that keeps every stage active (axons with branches and gaps, both bouton
# kinds, cells, noise) at 64x64; compiled once per test session for each function using it.
SMALL = GeneratorConfig(
    width=64,
    height=64,
    NSplinePoints=60,
    MaxThickness=2.0,
    MinNbBouton=3,
    MaxNbBouton=3,
    minDistBetweenBoutons=4.0,
    MinNbCircles=3,
    MaxNbCircles=3,
    MinRadius=3,
    MaxRadius=8,
    rowshift=6,
    colshift=6,
    branch_candidates=16,
)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Frees each test module's compiled programs when it ends. Every CPU executable holds
    memory maps of its own (LLVM's JIT), and one process may hold at most
    ``vm.max_map_count`` (65,530 by default): a whole suite's executables kept alive
    exceed it and the next compilation aborts. Later modules reload what they need from
    the persistent compilation cache."""
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(scope="session")
def small_cfg() -> GeneratorConfig:
    """The shared small config (64x64)."""
    return SMALL


@pytest.fixture(scope="session")
def default_cfg() -> GeneratorConfig:
    """The shipped 256x256 parameter set."""
    return GeneratorConfig()


@pytest.fixture(scope="session")
def shared_real() -> Path:
    """``../shared/real`` (skips the test when it is absent)."""
    if not SHARED_REAL.is_dir():
        pytest.skip("../shared/real is not available")
    return SHARED_REAL


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """``../shared/reference`` (skips the test when it is absent)."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip("../shared/reference is not available")
    return SHARED_REFERENCE


# --- the tiny training run (shared by the training and evaluation tests) ---------------------

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
