"""Compiled-program memory figures: XLA's analysis, linear fits, largest arrays."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from jaxaxon.bench.memory import compiled_memory, largest_arrays, linear_fit


def _outer(x, y):  # a [N, N] intermediate from two [N] inputs, reduced to [N]
    return jnp.sum(jnp.sin(x[:, None] * y[None, :]), axis=1)


def test_compiled_memory_counts_arguments_outputs_and_temporaries():
    n = 512
    x = jnp.ones((n,), jnp.float32)
    info = compiled_memory(jax.jit(_outer).lower(x, x).compile())
    assert info["argument_bytes"] == 2 * 4 * n
    assert info["output_bytes"] == 4 * n
    assert (
        info["total_bytes"] == info["argument_bytes"] + info["output_bytes"] + info["temp_bytes"] - info["alias_bytes"]
    )
    assert info["xla_cost"]["flops"] > n * n  # at least the products


def test_largest_arrays_finds_a_materialised_intermediate_and_its_source():
    n = 256

    def f(x):
        big = jnp.sort(x[:, None] * x[None, :], axis=1)  # sorted, so materialised
        return big[:, :3]

    arrays = largest_arrays(jax.jit(f).lower(jnp.ones((n,))).compile(), top=3)
    assert arrays[0]["shape"] == f"f32[{n},{n}]" and arrays[0]["bytes"] == 4 * n * n
    assert arrays[0]["source"] is None or "test_memory.py" in arrays[0]["source"]
    assert all(a["bytes"] >= b["bytes"] for a, b in zip(arrays, arrays[1:]))


def test_linear_fit():
    fit = linear_fit([8, 32, 128], [100 + 8 * 5, 100 + 32 * 5, 100 + 128 * 5])
    assert fit["slope"] == pytest.approx(5) and fit["intercept"] == pytest.approx(100)
    assert fit["max_relative_residual"] < 1e-12
    bent = linear_fit([1, 2, 3, 4], [1, 4, 9, 16])
    assert bent["max_relative_residual"] > 0.1
    with pytest.raises(ValueError):
        linear_fit([1], [1])
