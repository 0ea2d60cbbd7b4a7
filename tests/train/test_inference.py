"""load_model / predict: what `jaxaxon evaluate` and `jaxaxon predict` build on."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxaxon.train import CheckpointError, load_model, normalise, predict


@pytest.fixture(scope="module")
def loaded(tiny_run):
    return load_model(tiny_run[0])


def test_load_model_from_a_run_directory_or_step(tiny, tiny_run, loaded):
    model, rc = loaded
    assert rc == tiny.replace(init_from=None)
    step_model, step_rc = load_model(tiny_run[0] / "checkpoints" / "latest" / "6")
    assert step_rc == rc
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tiny_run[0] / "nope")


def test_predict_any_size_and_dtype(loaded):
    model, rc = loaded
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, size=(2, 64, 64)).astype(np.uint8)
    probs = predict(model, rc, img)
    assert probs.shape == (2, 64, 64, 1) and probs.dtype == np.float32
    assert 0 <= probs.min() and probs.max() <= 1
    direct = np.asarray(jax.nn.sigmoid(model(normalise(img, rc.normalise))))
    np.testing.assert_allclose(probs, direct, atol=1e-5)
    # sizes that are not multiples of 2**depth are padded and cropped back
    odd = rng.integers(0, 4000, size=(1, 50, 70)).astype(np.uint16)
    assert predict(model, rc, odd).shape == (1, 50, 70, 1)
    assert predict(model, rc, odd[0]).shape == (50, 70, 1)
    outs = predict(model, rc, [img[0], odd[0]])
    assert [o.shape for o in outs] == [(64, 64, 1), (50, 70, 1)]
    np.testing.assert_allclose(predict(model, rc, img, batch_size=1), probs, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        predict(model, rc, img[None])
