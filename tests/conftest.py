"""Shared test settings: compile-time savings and the few generator configs tests reuse.

Every distinct static config is one XLA compilation (seconds on a CPU), so tests share
the configs below and vary keys and traced values instead.
"""

from __future__ import annotations

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

import pytest  # noqa: E402

from jaxaxon.config import GeneratorConfig  # noqa: E402

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
