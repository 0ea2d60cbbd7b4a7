"""Orbax checkpoints: exact round trip, retention, and clear errors for bad checkpoints."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from jaxaxon.models.config import ModelConfig
from jaxaxon.train.checkpoint import (
    CheckpointError,
    CheckpointStore,
    CheckpointWriteError,
    UnreadableCheckpointError,
    checkpoint_candidates,
    find_checkpoint,
    read_model_checkpoint,
)
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


# --- damaged checkpoints: fall back, rewrite, plain words (issue 18) -------------------------

INTERNALS = ("tensorstore", "ocdbt", "driver", "OUT_OF_RANGE", "RESOURCE_EXHAUSTED", "Traceback", "\n")


def _damage(step_dir, item="model"):
    """Truncates every data file of one item of a step directory."""
    files = [p for p in (step_dir / item).rglob("*") if p.is_file() and p.parent.name == "d"]
    assert files
    for p in files:
        p.write_bytes(p.read_bytes()[:20])


def _plain(message):
    assert not any(word.lower() in message.lower() for word in INTERNALS), message


def test_restore_newest_falls_back_and_names_what_it_skipped(program, tmp_path):
    model_state, opt_state = program.init(0)
    acc = {"loss": jnp.float32(0)}
    root = tmp_path / "checkpoints"
    store = CheckpointStore(root, keep=3)
    for step in (2, 4, 6):
        store.save(step, model_state, opt_state, acc, {"step": step, "elapsed_s": 1.0})
    _damage(root / "latest" / "6", "optimizer")
    (root / "latest" / "4" / "meta" / "metadata").write_text("null")
    abstract = program.abstract()
    restored = store.restore_newest(*abstract, acc)
    assert restored.step == 2 and restored.meta["step"] == 2
    assert [s.path.name for s in restored.skipped] == ["6", "4"]
    assert "damaged or truncated data in optimizer/" in restored.skipped[0].reason
    assert "metadata is not a JSON object" in restored.skipped[1].reason
    _damage(root / "latest" / "2")
    with pytest.raises(CheckpointError) as info:
        store.restore_newest(*abstract, acc)
    message = str(info.value)
    assert str(root / "latest") in message and all(f"latest/{s}" in message for s in (2, 4, 6))
    assert "resume" not in message
    _plain(message)
    assert store.steps() == [2, 4, 6]  # reading changes nothing
    moved = store.set_aside([root / "latest" / "6"])
    assert moved == [root / "unreadable" / "latest-6"] and moved[0].is_dir()
    assert store.steps() == [2, 4]
    store.close()


def test_a_best_checkpoint_of_an_existing_step_is_rewritten(program, tmp_path):
    """A resumed run that reaches its best step again rewrites best/ (a damaged one does not survive)."""
    first, _ = program.init(0)
    second, _ = _perturbed(program, 1)
    store = CheckpointStore(tmp_path / "checkpoints", keep=3)
    store.save_best(3, first, {"step": 3})
    _damage(tmp_path / "checkpoints" / "best" / "3")
    assert store.check_best(program.abstract()[0]) is not None
    store.save_best(3, second, {"step": 3, "val_dice": 0.5})
    assert store.best_step() == 3 and store.check_best(program.abstract()[0]) is None
    state, meta = read_model_checkpoint(tmp_path / "checkpoints" / "best" / "3", program.abstract()[0])
    _assert_equal(state, second)
    assert meta["val_dice"] == 0.5
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best", "latest"]
    store.close()


def test_a_failed_save_leaves_the_earlier_checkpoints_and_no_partial_one(program, tmp_path, monkeypatch):
    model_state, opt_state = program.init(0)
    acc = {"loss": jnp.float32(0)}
    root = tmp_path / "checkpoints"
    store = CheckpointStore(root, keep=3)
    store.save(2, model_state, opt_state, acc, {"step": 2})
    store.save_best(2, model_state, {"step": 2})
    real_save = ocp.CheckpointManager.save

    def full_disk(self, step, *args, **kwargs):  # what TensorStore raises on a full disk, after a partial write
        (Path(self.directory) / f"{step}.orbax-checkpoint-tmp" / "model").mkdir(parents=True)
        raise ValueError(
            f'RESOURCE_EXHAUSTED: Error writing local file "{self.directory}/{step}.orbax-checkpoint-tmp/model/d/x": '
            "Failed to write 1172 bytes to file 6: No space left on device [os_error_code='28']"
        )

    monkeypatch.setattr(ocp.CheckpointManager, "save", full_disk)
    with pytest.raises(CheckpointWriteError) as info:
        store.save(4, model_state, opt_state, acc, {"step": 4})
    message = str(info.value)
    assert f"cannot write checkpoint {root / 'latest' / '4'}: no space left on the device" in message
    assert "intact (latest/2)" in message
    _plain(message)
    with pytest.raises(CheckpointWriteError, match="no space left"):
        store.save_best(2, model_state, {"step": 2})  # a rewrite that fails puts the old best back
    assert store.steps() == [2] and store.best_step() == 2
    assert sorted(p.name for p in (root / "latest").iterdir()) == ["2"]
    assert sorted(p.name for p in root.iterdir()) == ["best", "latest"]
    monkeypatch.setattr(ocp.CheckpointManager, "save", real_save)
    assert store.save(4, model_state, opt_state, acc, {"step": 4})  # once there is room
    assert store.steps() == [2, 4]
    store.close()


def test_unreadable_parts_are_named_in_plain_words(program, tmp_path):
    model_state, opt_state = program.init(0)
    acc = {"loss": jnp.float32(0)}
    root = tmp_path / "checkpoints"
    store = CheckpointStore(root, keep=3)
    for step in (1, 2, 3):
        store.save(step, model_state, opt_state, acc, {"step": step})
    store.close()
    (root / "latest" / "1" / "meta" / "metadata").write_text("{broken")
    import shutil

    shutil.rmtree(root / "latest" / "2" / "meta")
    (root / "latest" / "3" / "meta" / "metadata").write_text('{"step": 3, "elapsed_s": "abc"}')
    expected = {1: "metadata is not valid JSON", 2: "its 'meta' part is missing", 3: "invalid elapsed_s"}
    for step, reason in expected.items():
        with pytest.raises(UnreadableCheckpointError) as info:
            read_model_checkpoint(root / "latest" / str(step))
        assert reason in info.value.reason and str(root / "latest" / str(step)) in str(info.value)
        _plain(str(info.value))
    assert [p.name for p in checkpoint_candidates(root)] == ["3", "2", "1"]
