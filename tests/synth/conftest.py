"""Fixtures of the generator-stage tests: the transformation modes and the shared configs."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from jaxaxon.config import GeneratorConfig

from .helpers import MODES, run_batched


@pytest.fixture(params=MODES)
def run(request) -> Callable[..., Any]:
    """``run(fn, *batched_args)``: `run_batched` in one of the modes plain, jit, vmap."""
    return lambda fn, *batched: run_batched(request.param, fn, *batched)


@pytest.fixture(params=[pytest.param("plain", marks=pytest.mark.slow), "jit", "vmap"])
def run_heavy(request) -> Callable[..., Any]:
    """`run` for composite stages (scans, inner vmaps) whose eager run compiles every primitive
    on its own (several seconds on a CPU): their plain mode is marked slow."""
    return lambda fn, *batched: run_batched(request.param, fn, *batched)


@pytest.fixture(scope="session")
def variant_cfg(small_cfg) -> GeneratorConfig:
    """SMALL with crossings allowed, 1-3 axons of 1-3 branches, linear profiles and no gaps
    (one config, one compilation, for the options SMALL leaves at their defaults)."""
    return small_cfg.replace(
        crossingOK=True, MinAxons=1, MaxAxons=3, MinBran=1, MaxBran=3,
        AxonProfile="linear", BranchProfile="linear", MinGapSize=0, MaxGapSize=0,
    )  # fmt: skip


@pytest.fixture(scope="session")
def original_cfg(small_cfg) -> GeneratorConfig:
    """SMALL reproducing the original's bugs (compat='original')."""
    return small_cfg.replace(compat="original")
