"""Pre-training: autoencoder runs initialise U-Net encoders; segmentation runs fine-tune."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from flax import nnx

from jaxaxon.train import CheckpointError, TrainingInterrupted, load_model, train
from jaxaxon.train.init import init_from
from jaxaxon.train.step import get_program


def _leaves(model, part):
    return jax.tree.leaves(nnx.to_pure_dict(nnx.state(getattr(model, part))))


@pytest.fixture(scope="module")
def ae_run(tiny, tmp_path_factory):
    rc = tiny.replace(**{"model.kind": "autoencoder", "loss": "mse"})
    workdir = tmp_path_factory.mktemp("ae") / "run"
    with pytest.raises(TrainingInterrupted):
        train(workdir, rc, until=2, progress=False, log=lambda s: None)
    history = json.loads((workdir / "history.json").read_text())
    assert [r["step"] for r in history] == [1, 2] and all("val_dice" not in r for r in history)
    return workdir


def test_autoencoder_to_unet_copies_the_encoder_only(tiny, ae_run):
    ae, ae_rc = load_model(ae_run)
    assert ae_rc.model.kind == "autoencoder"
    program = get_program(tiny)
    fresh = program.model(program.init(5)[0])
    model = program.model(program.init(5)[0])
    report = init_from(model, tiny, ae_run)
    assert report["source_kind"] == "autoencoder"
    assert report["copied"] and all(p.startswith("encoder/") for p in report["copied"])
    for a, b in zip(_leaves(model, "encoder"), _leaves(ae, "encoder"), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for part in ("up_blocks", "head"):  # decoder and head keep their fresh initialisation
        for a, b in zip(_leaves(model, part), _leaves(fresh, part), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(_leaves(model, "encoder"), _leaves(fresh, "encoder"))
    )


def test_training_from_an_autoencoder_records_its_source(tiny, ae_run, tmp_path):
    workdir = tmp_path / "seg"
    notes = []
    with pytest.raises(TrainingInterrupted):
        train(workdir, tiny, init_from=ae_run, until=1, progress=False, log=notes.append)
    assert any("initialised" in n and "autoencoder" in n for n in notes)
    assert json.loads((workdir / "config.json").read_text())["init_from"] == str(ae_run.resolve())


def test_fine_tuning_a_segmentation_run_with_other_heads(tiny, tiny_run):
    rc = tiny.replace(**{"model.heads": ["axon", "bouton"]})
    source, _ = load_model(tiny_run[0])
    model = get_program(rc).model(get_program(rc).init(0)[0])
    report = init_from(model, rc, tiny_run[0])
    assert report["kept"] == ["head/bias", "head/kernel"]  # one channel more: fresh head
    for part in ("encoder", "up_blocks"):
        for a, b in zip(_leaves(model, part), _leaves(source, part), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_mismatched_encoders_and_missing_sources_are_refused(tiny, ae_run, tmp_path):
    rc = tiny.replace(**{"model.base_width": 8})
    model = get_program(rc).model(get_program(rc).init(0)[0])
    with pytest.raises(CheckpointError, match="base_width: 4 vs 8"):
        init_from(model, rc, ae_run)
    with pytest.raises(CheckpointError, match="does not exist"):
        init_from(model, rc, tmp_path / "missing")
