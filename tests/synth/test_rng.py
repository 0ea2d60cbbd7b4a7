"""Tests of jaxaxon/synth/rng.py: draws equal to jax.random's bit for bit, rows drawn alone."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.synth import rng

SHAPES = [(), (1,), (7,), (3, 5), (64, 96), (2, 3, 4)]


def _draws(key, shape):
    return rng.bits(key, shape), rng.uniform(key, shape), rng.uniform(key, shape, -2.5, 4.0), rng.normal(key, shape)


def _reference(key, shape):
    return (
        jax.random.bits(key, shape, jnp.uint32),
        jax.random.uniform(key, shape),
        jax.random.uniform(key, shape, minval=-2.5, maxval=4.0),
        jax.random.normal(key, shape),
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_draws_equal_jax_random_bit_for_bit(run, shape):
    keys = jax.random.split(jax.random.key(11), 3)
    ours = run(lambda k: _draws(k, shape), keys)
    theirs = run(lambda k: _reference(k, shape), keys)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape == (3, *shape)
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_traced_range_bounds_equal_jax_random():
    keys = jax.random.split(jax.random.key(2), 4)
    lo, hi = jnp.array([0.0, -1.0, 3.0, 0.5]), jnp.array([1.0, 1.0, 9.0, 0.75])
    ours = jax.jit(jax.vmap(lambda k, a, b: rng.uniform(k, (50,), a, b)))(keys, lo, hi)
    theirs = jax.jit(jax.vmap(lambda k, a, b: jax.random.uniform(k, (50,), minval=a, maxval=b)))(keys, lo, hi)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_threefry_hash_matches_the_jax_primitive():
    from jax.extend.random import threefry2x32_p

    k1, k2 = jnp.uint32(0x13198A2E), jnp.uint32(0x03707344)
    x1 = jnp.arange(1000, dtype=jnp.uint32) * jnp.uint32(2654435761)
    x2 = jnp.arange(1000, dtype=jnp.uint32)
    for a, b in zip(rng.threefry2x32(k1, k2, x1, x2), threefry2x32_p.bind(k1, k2, x1, x2)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("first", [0, 5, 24, 29, 32])
def test_uniform_rows_are_those_rows_of_the_whole_block(run, first):
    keys = jax.random.split(jax.random.key(4), 3)
    rows = run(lambda k: rng.uniform_rows(k, (32, 41), first, 8), keys)
    for key, got in zip(keys, rows):
        whole = np.concatenate([np.asarray(jax.random.uniform(key, (32, 41))), np.zeros((8, 41), np.float32)])
        np.testing.assert_array_equal(got, whole[first : first + 8])


def test_uniform_rows_with_a_traced_first_row():
    keys = jax.random.split(jax.random.key(5), 4)
    firsts = jnp.array([0, 8, 16, 30])
    rows = jax.jit(jax.vmap(lambda k, f: rng.uniform_rows(k, (32, 17), f, 8)))(keys, firsts)
    for key, first, got in zip(keys, np.asarray(firsts), np.asarray(rows)):
        whole = np.concatenate([np.asarray(jax.random.uniform(key, (32, 17))), np.zeros((8, 17), np.float32)])
        np.testing.assert_array_equal(got, whole[first : first + 8])


def test_other_generators_fall_back_to_jax_random():
    key = jax.random.key(3, impl="rbg")
    assert not rng.counter_draws_available(key)
    assert rng.counter_draws_available(jax.random.key(3))
    np.testing.assert_array_equal(np.asarray(rng.normal(key, (4, 5))), np.asarray(jax.random.normal(key, (4, 5))))
    np.testing.assert_array_equal(np.asarray(rng.uniform(key, (6,))), np.asarray(jax.random.uniform(key, (6,))))
    whole = np.concatenate([np.asarray(jax.random.uniform(key, (10, 3))), np.zeros((4, 3), np.float32)])
    np.testing.assert_array_equal(np.asarray(rng.uniform_rows(key, (10, 3), 8, 4)), whole[8:12])


def test_non_partitionable_threefry_falls_back_to_jax_random():
    """Without partitionable threefry a draw's element is not a function of its position alone:
    the rows come from the whole block."""
    with jax.threefry_partitionable(False):
        key = jax.random.key(3)
        assert not rng.counter_draws_available(key)
        whole = np.concatenate([np.asarray(jax.random.uniform(key, (10, 3))), np.zeros((4, 3), np.float32)])
        np.testing.assert_array_equal(np.asarray(rng.uniform_rows(key, (10, 3), 8, 4)), whole[8:12])
        np.testing.assert_array_equal(np.asarray(rng.normal(key, (4, 5))), np.asarray(jax.random.normal(key, (4, 5))))


def test_raw_uint32_keys_give_jax_randoms_draws_too():
    raw = jax.random.PRNGKey(9)
    np.testing.assert_array_equal(np.asarray(rng.normal(raw, (3, 4))), np.asarray(jax.random.normal(raw, (3, 4))))


def test_draws_lower_without_a_loop():
    """The hash is plain elementwise arithmetic (fusable into its consumer), not the loop over
    round blocks that JAX's CPU lowering of threefry emits."""
    text = jax.jit(lambda k: jnp.sum(rng.normal(k, (64, 64)))).lower(jax.random.key(0)).as_text()
    assert "while" not in text


def _jax_random_rows(key, shape, first, count):
    n_rows, n_cols = shape
    whole = jnp.concatenate([jax.random.uniform(key, shape), jnp.zeros((count, n_cols), jnp.float32)])
    return jax.lax.dynamic_slice_in_dim(whole, jnp.asarray(first, jnp.int32), count)


@pytest.mark.parametrize("noise_model", ["original", "microscope"])
def test_generated_batches_equal_those_drawn_with_jax_random(small_cfg, noise_model, monkeypatch):
    """The whole generator (scene chunks with traced first rows, pixel noise, cells, boutons, the
    imaging model) gives the same batch, bit for bit, with every draw made by `jax.random`."""
    from jaxaxon.synth.image import _generate_jit, start_index_array

    cfg = small_cfg.replace(noise_model=noise_model)
    key, start = jax.random.key(3), start_index_array(5)
    ours = jax.tree.map(np.asarray, _generate_jit(key, cfg, 4, start))
    monkeypatch.setattr(rng, "bits", lambda k, shape=(): jax.random.bits(k, shape, jnp.uint32))
    def uniform(k, shape=(), minval=0.0, maxval=1.0):
        return jax.random.uniform(k, shape, jnp.float32, minval, maxval)

    monkeypatch.setattr(rng, "uniform", uniform)
    monkeypatch.setattr(rng, "normal", lambda k, shape=(): jax.random.normal(k, shape))
    monkeypatch.setattr(rng, "uniform_rows", _jax_random_rows)
    # a new function object: JAX keys its trace cache on the function, so this one is traced anew
    fresh = jax.jit(lambda k, c, b, s: _generate_jit.__wrapped__(k, c, b, s), static_argnums=(1, 2))
    theirs = jax.tree.map(np.asarray, fresh(key, cfg, 4, start))
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(ours), jax.tree.leaves(theirs)):
        np.testing.assert_array_equal(a, b, err_msg=jax.tree_util.keystr(path))
