"""Orbax checkpoints: exact round trip, retention, and clear errors for bad checkpoints."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxaxon.models.config import ModelConfig
from jaxaxon.train.checkpoint import CheckpointError, CheckpointStore, find_checkpoint, read_model_checkpoint
from jaxaxon.train.config import RunConfig
from jaxaxon.train.step import get_program


@pytest.fixture(scope="module")
def program():
    # a model with every kind of state: params, batch statistics, optax state with a schedule
    rc = RunConfig(
        model=ModelConfig(base_width=4, norm="batch"), schedule="warmup_cosine", warmup_steps=2, steps=10, clip_norm=1.0
    )
    return get_program(rc)


def _perturbed(program, seed):
    model_state, opt_state = program.init(seed)
    noise = lambda t, k: jax.tree.map(
        lambda x: x + jax.random.normal(k, x.shape, x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x + 3, t
    )  # noqa: E731
    return noise(model_state, jax.random.key(seed)), noise(opt_state, jax.random.key(seed + 1))


def _assert_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_save_restore_round_trips_exactly(program, tmp_path):
    model_state, opt_state = _perturbed(program, 0)
    acc = {
        "loss": jnp.float32(1.25),
        "dice": jnp.float32(0.5),
        "bce": jnp.float32(0),
        "grad_norm": jnp.float32(3),
        "count": jnp.float32(2),
    }
    store = CheckpointStore(tmp_path / "checkpoints", keep=2)
    assert store.save(7, model_state, opt_state, acc, {"step": 7, "note": "x"})
    assert not store.save(7, model_state, opt_state, acc, {"step": 7})  # already there
    assert store.steps() == [7]
    abstract_model, abstract_opt = program.abstract()
    m, o, a, meta = store.restore(7, abstract_model, abstract_opt, acc)
    store.close()
    _assert_equal(m, model_state)
    _assert_equal(o, opt_state)
    _assert_equal(a, acc)
    assert meta == {"step": 7, "note": "x"}
    assert nnx.state(program.model(m), nnx.BatchStat)  # batch statistics travel too


def test_keeps_the_latest_n_and_the_best_separately(program, tmp_path):
    model_state, opt_state = program.init(0)
    acc = {"loss": jnp.float32(0)}
    store = CheckpointStore(tmp_path / "checkpoints", keep=2)
    for step in (1, 2, 3, 4):
        store.save(step, model_state, opt_state, acc, {"step": step})
        if step in (2, 3):
            store.save_best(step, model_state, {"step": step})
    assert store.steps() == [3, 4]
    assert store.best_step() == 3
    store.close()
    assert find_checkpoint(tmp_path) == tmp_path / "checkpoints" / "best" / "3"
    assert find_checkpoint(tmp_path / "checkpoints" / "latest") == tmp_path / "checkpoints" / "latest" / "4"
    _, meta = read_model_checkpoint(tmp_path / "checkpoints" / "latest" / "4")
    assert meta["step"] == 4


def test_missing_and_corrupt_checkpoints_give_clear_errors_and_are_kept(program, tmp_path):
    (tmp_path / "empty").mkdir()
    for path, message in ((tmp_path / "nothing", "does not exist"), (tmp_path / "empty", "no checkpoint found")):
        with pytest.raises(CheckpointError, match=message):
            find_checkpoint(path)
    model_state, opt_state = program.init(0)
    acc = {"loss": jnp.float32(0)}
    store = CheckpointStore(tmp_path / "checkpoints", keep=3)
    store.save(1, model_state, opt_state, acc, {"step": 1})
    store.save(2, model_state, opt_state, acc, {"step": 2})
    abstract_model, abstract_opt = program.abstract()
    with pytest.raises(CheckpointError, match="no checkpoint of step 5"):
        store.restore(5, abstract_model, abstract_opt, acc)
    # damage every data file of step 2's model
    damaged = [p for p in (tmp_path / "checkpoints" / "latest" / "2" / "model").rglob("*") if p.is_file()]
    assert damaged
    for p in damaged:
        p.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=r"latest/2 is unreadable"):
        store.restore(2, abstract_model, abstract_opt, acc)
    # a checkpoint of another model does not fit
    other = get_program(RunConfig(model=ModelConfig(base_width=8)))
    with pytest.raises(CheckpointError, match="unreadable"):
        store.restore(1, *other.abstract(), acc)
    # nothing was deleted; the good step still restores
    assert store.steps() == [1, 2]
    m, _, _, _ = store.restore(1, abstract_model, abstract_opt, acc)
    _assert_equal(m, model_state)
    store.close()
