"""Helpers for the generator-stage tests: run a pure function plain, under jit and under vmap."""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np
import pytest

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
