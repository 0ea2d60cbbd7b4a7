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


def test_predict_with_a_zoom_returns_maps_at_the_input_size(loaded):
    from jaxaxon.eval.scale import resample, resample_back

    model, rc = loaded
    img = np.random.default_rng(1).integers(0, 255, size=(2, 50, 70)).astype(np.uint8)
    probs = predict(model, rc, img, zoom=0.5)
    assert probs.shape == (2, 50, 70, 1) and probs.dtype == np.float32
    by_hand = resample_back(predict(model, rc, resample(img[1], 0.5)), (50, 70))
    np.testing.assert_allclose(probs[1], by_hand, atol=1e-6)
    assert predict(model, rc, img[0], zoom=0.5).shape == (50, 70, 1)
    np.testing.assert_array_equal(predict(model, rc, img, zoom=1.0), predict(model, rc, img))


def _damage(step_dir, item="model"):
    files = [p for p in (step_dir / item).rglob("*") if p.is_file() and p.parent.name == "d"]
    assert files
    for p in files:
        p.write_bytes(p.read_bytes()[:20])


def test_load_model_falls_back_from_a_damaged_best_and_says_so(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run[0], run)
    (best,) = list((run / "checkpoints" / "best").iterdir())
    _damage(best)
    notes = []
    model, rc = load_model(run, log=notes.append)
    assert len(notes) == 1 and f"checkpoints/best/{best.name} (damaged or truncated data in model/d/" in notes[0]
    assert notes[0].endswith(f"using {run / 'checkpoints' / 'latest' / '6'}")
    # a damaged step named directly: the error names the readable checkpoints of the run
    with pytest.raises(CheckpointError) as info:
        load_model(best)
    message = str(info.value)
    assert message.startswith(f"checkpoint {best} is unreadable: damaged or truncated data in model/d/")
    assert f"readable checkpoints of this run: {run / 'checkpoints' / 'latest' / '6'}, " in message
    for step_dir in (run / "checkpoints" / "latest").iterdir():
        _damage(step_dir)
    with pytest.raises(CheckpointError) as info:
        load_model(run)
    message = str(info.value)
    assert message.startswith(f"no readable checkpoint in {run}: checkpoints/best/{best.name} (damaged")
    assert "checkpoints/latest/6 (damaged" in message and "checkpoints/latest/4 (damaged" in message
    assert "resume" not in message and "tensorstore" not in message.lower() and "OCDBT" not in message


def test_predict_on_values_near_1e300_is_finite_and_scale_free(loaded):
    model, rc = loaded
    img = np.random.default_rng(1).integers(0, 255, size=(1, 40, 40)).astype(np.float64)
    plain = predict(model, rc, img)
    huge = predict(model, rc, img * 1e298)
    assert np.all(np.isfinite(huge))
    np.testing.assert_allclose(huge, plain, atol=1e-5)
    np.testing.assert_allclose(predict(model, rc, img * 1e298, zoom=0.5), predict(model, rc, img, zoom=0.5), atol=1e-5)


def test_non_finite_inputs_and_outputs_are_errors(loaded):
    from flax import nnx

    from jaxaxon.data.images import ImageDataError

    model, rc = loaded
    img = np.zeros((1, 32, 32))
    img[0, 3, 3] = np.inf
    with pytest.raises(ImageDataError, match="image 0: contains NaN or infinite values"):
        predict(model, rc, img)
    graphdef, state = nnx.split(model)
    broken = nnx.merge(graphdef, jax.tree.map(lambda w: w * np.nan, state))
    with pytest.raises(CheckpointError, match="not finite .*NaN or infinite weights"):
        predict(broken, rc, np.ones((1, 32, 32)))
