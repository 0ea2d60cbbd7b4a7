"""Helpers for the generator-stage tests: run a pure function plain, under jit and under vmap."""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np
import pytest

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.image import generate
from jaxaxon.synth.scene import draw_scene

MODES = ("plain", "jit", "vmap")


def run_batched(mode: str, fn: Callable[..., Any], *batched: Any) -> Any:
    """Applies ``fn`` to every element of the leading axis of ``batched`` and stacks the results.

    ``plain`` calls ``fn`` eagerly per element, ``jit`` calls ``jax.jit(fn)`` per element
    and ``vmap`` calls ``jax.vmap(fn)`` once; outputs are NumPy arrays (pytrees of them).
    """
    if mode == "vmap":
        return jax.tree.map(np.asarray, jax.vmap(fn)(*batched))
    f = jax.jit(fn) if mode == "jit" else fn
    n = len(jax.tree.leaves(batched)[0])
    outs = [f(*jax.tree.map(lambda a: a[i], batched)) for i in range(n)]
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


@pytest.fixture(params=MODES)
def run(request) -> Callable[..., Any]:
    """``run(fn, *batched_args)``: `run_batched` in one of the three modes (plain, jit, vmap)."""
    return lambda fn, *batched: run_batched(request.param, fn, *batched)


# --- shared generator runs -------------------------------------------------------------------------
# Every distinct (config, batch size) is one compilation of `generate` (10-15 s on a CPU), so the
# stage tests, the image tests and the property tests share these few configs and one batch size.

GEN_BATCH = 8


@functools.lru_cache(maxsize=None)
def generated(cfg: GeneratorConfig, seed: int, start_index: int = 0):
    """``generate(key(seed), cfg, GEN_BATCH, start_index)`` as a Batch of NumPy arrays (cached)."""
    batch = generate(jax.random.key(seed), cfg, GEN_BATCH, start_index)
    return jax.tree.map(np.asarray, batch)


def generated_many(cfg: GeneratorConfig, seed: int, n_batches: int):
    """``n_batches * GEN_BATCH`` consecutive images of one stream, concatenated (NumPy Batch)."""
    parts = [generated(cfg, seed, i * GEN_BATCH) for i in range(n_batches)]
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


_draw_scenes = jax.jit(jax.vmap(draw_scene, in_axes=(0, None)), static_argnums=1)


@functools.lru_cache(maxsize=None)
def scenes(cfg: GeneratorConfig, seed: int, n: int):
    """``n`` scenes from ``jax.vmap(draw_scene)`` over ``split(key(seed), n)`` (NumPy, cached)."""
    return jax.tree.map(np.asarray, _draw_scenes(jax.random.split(jax.random.key(seed), n), cfg))


@pytest.fixture(scope="session")
def cross_cfg(small_cfg) -> GeneratorConfig:
    """SMALL with crossings allowed and variable axon/branch counts."""
    return small_cfg.replace(crossingOK=True, MinAxons=1, MaxAxons=3, MinBran=1, MaxBran=3)


@pytest.fixture(scope="session")
def original_cfg(small_cfg) -> GeneratorConfig:
    """SMALL reproducing the original's bugs (compat='original')."""
    return small_cfg.replace(compat="original")


@pytest.fixture(scope="session")
def linear_cfg(small_cfg) -> GeneratorConfig:
    """SMALL with linear profiles and no gaps."""
    return small_cfg.replace(AxonProfile="linear", BranchProfile="linear", MinGapSize=0, MaxGapSize=0)
