"""The jitted step: data stream determinism, tiling, targets, learning, the split over devices."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.synth.image import generate
from jaxaxon.train.loop import ValidationSet, evaluate
from jaxaxon.train.normalise import normalise
from jaxaxon.train import RunConfigError
from jaxaxon.train.step import (
    get_program,
    inputs_and_targets,
    make_train_step,
    run_keys,
    to_tiles,
    training_batch,
    zero_metrics,
)


def test_to_tiles_cuts_all_tiles_in_image_major_order():
    a = jnp.arange(2 * 6 * 9).reshape(2, 6, 9)
    t = np.asarray(to_tiles(a, 3))
    assert t.shape == (2 * 2 * 3, 3, 3)
    np.testing.assert_array_equal(t[0], np.asarray(a[0, 0:3, 0:3]))
    np.testing.assert_array_equal(t[1], np.asarray(a[0, 0:3, 3:6]))
    np.testing.assert_array_equal(t[3], np.asarray(a[0, 3:6, 0:3]))
    np.testing.assert_array_equal(t[6], np.asarray(a[1, 0:3, 0:3]))
    # channels ride along
    np.testing.assert_array_equal(np.asarray(to_tiles(a[..., None], 3))[..., 0], t)


@pytest.fixture(scope="module")
def batch_fn(tiny):
    return jax.jit(lambda key, step: training_batch(tiny, key, step))


def test_training_data_depend_only_on_seed_and_step(tiny, batch_fn):
    _, data_key, _ = run_keys(tiny.seed)
    x3, y3 = batch_fn(data_key, 3)
    again = batch_fn(run_keys(tiny.seed)[1], 3)
    np.testing.assert_array_equal(np.asarray(x3), np.asarray(again[0]))
    np.testing.assert_array_equal(np.asarray(y3), np.asarray(again[1]))
    x4, _ = batch_fn(data_key, 4)
    assert not np.array_equal(np.asarray(x3), np.asarray(x4))
    x3b, _ = batch_fn(run_keys(tiny.seed + 1)[1], 3)
    assert not np.array_equal(np.asarray(x3), np.asarray(x3b))
    assert x3.shape == (tiny.batch_size, 32, 32) and y3.shape == (tiny.batch_size, 32, 32, 1)


def test_step_batch_is_the_tiled_normalised_generator_stream(tiny, batch_fn):
    """Step s uses images s*n .. s*n+n-1 of fold_in(data_key, s): a device of a sharded step
    can generate its own slice from global indices."""
    _, data_key, _ = run_keys(tiny.seed)
    step, n = 5, tiny.images_per_step
    x, y = batch_fn(data_key, step)
    ref = generate(jax.random.fold_in(data_key, step), tiny.generator, n, start_index=step * n)
    # normalised floats: the jitted step fuses generation and scaling, the reference does not
    np.testing.assert_allclose(np.asarray(x), np.asarray(to_tiles(normalise(ref.image, tiny.normalise), 32)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(y[..., 0]), np.asarray(to_tiles(ref.axon_mask, 32)).astype(np.float32))
    # the reference batch also checks the targets of other heads and of the autoencoder
    _, y2 = inputs_and_targets(ref, tiny.replace(**{"model.heads": ["bouton", "axon"]}))
    np.testing.assert_array_equal(np.asarray(y2[..., 0]), np.asarray(ref.bouton_mask, np.float32))
    np.testing.assert_array_equal(np.asarray(y2[..., 1]), np.asarray(ref.axon_mask, np.float32))
    ae = tiny.replace(**{"model.kind": "autoencoder", "loss": "mse"})
    _, t = inputs_and_targets(ref, ae)
    np.testing.assert_array_equal(np.asarray(t[..., 0]), np.asarray(normalise(ref.clean, tiny.normalise)))
    x_ae, t = inputs_and_targets(ref, ae.replace(ae_target="image"))
    np.testing.assert_array_equal(np.asarray(t[..., 0]), np.asarray(x_ae))
    # the second image alone, as one device of two would generate it
    x1, _ = jax.jit(lambda k: training_batch(tiny, k, step, first=1, count=1))(data_key)
    per_image = tiny.tiles_per_image
    np.testing.assert_array_equal(np.asarray(x1), np.asarray(x)[per_image : 2 * per_image])


def test_a_few_steps_lower_the_validation_loss(tiny):
    rc = tiny.replace(steps=30, lr=0.01, warmup_steps=2)
    train_step = make_train_step(rc)
    program = train_step.program
    model_state, opt_state, acc = train_step.init(rc.seed)
    val = ValidationSet(rc)
    before = evaluate(program, model_state, val)
    for step in range(rc.steps):
        model_state, opt_state, acc = train_step(model_state, opt_state, acc, step)
    after = evaluate(program, model_state, val)
    assert float(acc["count"]) == rc.steps
    assert after["val_loss"] < before["val_loss"] - 0.05, (before, after)
    assert after["val_soft_dice"] > before["val_soft_dice"]


@pytest.mark.slow
def test_bfloat16_training_step_runs_and_keeps_float32_parameters(tiny):
    rc = tiny.replace(**{"model.dtype": "bfloat16"})
    train_step = make_train_step(rc)
    model_state, opt_state, acc = train_step(*train_step.init(0), 0)
    assert np.isfinite(float(acc["loss"]))
    from flax import nnx

    params = nnx.state(train_step.program.model(model_state), nnx.Param)
    assert {v.dtype for v in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}


def test_step_on_a_given_batch_is_the_same_update(tiny, batch_fn):
    """`Program.update` (used by the benchmark) fed the step's generated batch makes the same
    update as the training step (float tolerance: two separately compiled programs may fuse
    the arithmetic differently); the step's batch is `training_batch`'s, unweighted."""
    train_step = make_train_step(tiny)
    program = train_step.program
    _, data_key, dropout_key = run_keys(tiny.seed)
    a = train_step(*train_step.init(tiny.seed), 2)
    x, y = batch_fn(data_key, 2)
    sx, sy, sw = train_step.batch(2)
    assert sw is None
    np.testing.assert_array_equal(np.asarray(sx), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(sy), np.asarray(y))
    b = jax.jit(program.update)(*program.init(tiny.seed), zero_metrics(), x, y, dropout_key, 2)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-6)


def test_validation_metrics_of_two_heads(tiny):
    rc = tiny.replace(**{"model.heads": ["axon", "bouton"]})
    program = get_program(rc)
    val = ValidationSet(rc)
    metrics = evaluate(program, program.init(0)[0], val)
    assert set(metrics) == {"val_loss", "val_dice", "val_dice_axon", "val_dice_bouton", "val_soft_dice"}
    assert metrics["val_dice"] == pytest.approx((metrics["val_dice_axon"] + metrics["val_dice_bouton"]) / 2, rel=1e-6)
    assert val.chunks[0][1].shape == (rc.val_batch, 64, 64, 2)  # whole images, both masks


def test_a_batch_that_does_not_split_over_the_devices_is_refused(tiny):
    class Three:  # a mesh's shape is all make_train_step reads before refusing
        shape = {"data": 3, "model": 1}

    with pytest.raises(RunConfigError, match="the 8 examples of a training step do not split over 3 devices; "
                       r"choose a batch of a multiple of 12 examples \(--batch 12, 24, ...\)"):
        make_train_step(tiny, mesh=Three())

