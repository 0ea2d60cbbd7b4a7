"""Training from a dataset on disk (`jaxaxon.train.data_loader`, ``jaxaxon train --data``):
the batch order (epochs, shuffling, purity in (seed, step), per-process rows), the data fed
to the step, resuming after a crash, and the refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxaxon.cli import main
from jaxaxon.data import open_dataset, write_dataset
from jaxaxon.train import RunConfigError, train
from jaxaxon.train.data_loader import (
    DataFeed,
    DatasetSource,
    StepBatches,
    dataset_fingerprint,
    even_rows,
    process_rows,
    resolve_steps,
    shuffle_seed,
    step_indices,
    steps_for_epochs,
)
from jaxaxon.parallel import data_sharding, make_mesh

from jaxaxon.train import load_model

N = 6  # images in the test dataset: 3 steps of 2 images (the tiny run) per epoch


def fake_images(key, config, batch_size, start_index=0):
    """A cheap stand-in for `jaxaxon.generate`: random integer grey values with masks."""
    index = jnp.asarray(start_index, jnp.uint32) + jnp.arange(batch_size, dtype=jnp.uint32)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(index)
    image = jax.vmap(lambda k: jnp.floor(jax.random.uniform(k, config.shape) * 200))(keys)
    return {"image": image, "axon_mask": image > 150, "bouton_mask": image > 190, "clean": image}


def _write(path: Path, cfg, n=N, seed=1, stop_after=None) -> Path:
    def stop(done, total):
        if stop_after is not None and done >= stop_after:
            raise KeyboardInterrupt

    try:
        write_dataset(path, cfg, n, seed=seed, batch_size=3, generator=fake_images, on_progress=stop)
    except KeyboardInterrupt:
        pass
    return path


@pytest.fixture(scope="module")
def datasets(small_cfg, tmp_path_factory):
    """``main`` (64x64, seed 1), ``other`` (64x64, seed 2), ``small`` (32x32), ``half`` (3 of 6 written)."""
    root = tmp_path_factory.mktemp("datasets")
    return {
        "main": _write(root / "main.zarr", small_cfg),
        "other": _write(root / "other.zarr", small_cfg, seed=2),
        "small": _write(root / "small.zarr", small_cfg.replace(width=32, height=32)),
        "half": _write(root / "half.zarr", small_cfg, stop_after=3),
    }


# --------------------------------------------------------------------------- the order of the examples


def _order(n, b, seed, steps):
    ds = step_indices(n, b, seed)
    return np.concatenate([ds[s] for s in range(steps)])


def test_every_example_once_per_epoch_in_a_new_order_each_epoch():
    flat = _order(10, 4, seed=5, steps=10)  # 40 indices: 4 epochs, batches straddle the epochs
    epochs = flat.reshape(4, 10)
    for order in epochs:
        assert sorted(order.tolist()) == list(range(10))
    assert len({tuple(order) for order in epochs}) == 4  # each epoch its own order
    assert epochs[0].tolist() != list(range(10))


def test_batches_are_a_pure_function_of_seed_and_step():
    a, b = step_indices(10, 4, 5), step_indices(10, 4, 5)
    late_first = [b[s].tolist() for s in (7, 3, 0)]
    assert late_first == [a[7].tolist(), a[3].tolist(), a[0].tolist()]  # order of access is irrelevant
    assert _order(10, 4, 6, 5).tolist() != _order(10, 4, 5, 5).tolist()  # another seed, another order
    batches = StepBatches(np.arange(10), 4, 5)  # an array is a random access source too
    assert [x.tolist() for x in batches.iterate(3, 6)] == [a[s].tolist() for s in (3, 4, 5)]  # resumed at step 3


def test_run_seeds_give_unrelated_shuffle_seeds():
    # Grain seeds epoch e with seed + e: consecutive run seeds must not share epochs
    seeds = [shuffle_seed(s) for s in range(3)]
    assert len(set(seeds)) == 3 and all(0 <= s < 2**32 for s in seeds)
    assert abs(seeds[1] - seeds[0]) > 1000 and shuffle_seed(0) == seeds[0]


def test_two_processes_read_disjoint_halves_of_every_batch():
    assert even_rows(4, 0, 2) == slice(0, 2) and even_rows(4, 1, 2) == slice(2, 4)
    source = np.arange(10)
    p0 = StepBatches(source, 4, 7, rows=even_rows(4, 0, 2))
    p1 = StepBatches(source, 4, 7, rows=even_rows(4, 1, 2))
    whole = StepBatches(source, 4, 7)
    for s in range(6):
        a, b = p0.local_indices(s), p1.local_indices(s)
        assert len(a) == len(b) == 2
        assert np.concatenate([a, b]).tolist() == whole[s].tolist()
    seen = np.concatenate([np.concatenate([p0[s], p1[s]]) for s in range(5)])  # 20 = 2 epochs
    assert sorted(seen[:10].tolist()) == sorted(seen[10:].tolist()) == list(range(10))
    with pytest.raises(RunConfigError, match="do not split over 2 processes"):
        even_rows(3, 0, 2)
    assert process_rows(data_sharding(make_mesh()), 4) == slice(0, 4)  # one process holds every row


def test_epochs_give_the_steps_that_show_every_image_so_often(tiny):
    assert steps_for_epochs(2, 6, 2) == 6
    assert steps_for_epochs(2.5, 10, 4) == 7  # 25 images: 6 steps and a quarter
    assert steps_for_epochs(0.1, 10, 4) == 1
    from jaxaxon.train.config import TrainingData

    rc = tiny.replace(data=TrainingData(path="/d", examples=6, image_size=(64, 64), fingerprint="f"))
    assert resolve_steps(rc, None, 2) == 6 and resolve_steps(rc, 6, 2) == 6 and resolve_steps(rc, 9, None) == 9
    with pytest.raises(RunConfigError, match="--steps 5 and --epochs 2 disagree: 2 epochs of 6 images at 2 images per step are 6 steps"):
        resolve_steps(rc, 5, 2)
    with pytest.raises(RunConfigError, match="give --data"):
        resolve_steps(tiny, None, 2)


# --------------------------------------------------------------------------- reading


def test_batches_hold_the_dataset_images_of_their_indices(datasets, small_cfg):
    ds = open_dataset(datasets["main"])
    source = DatasetSource(ds, ("images", "axon_masks"))
    assert len(source) == N and source[2]["images"].shape == (64, 64)
    batches = StepBatches(source, 4, 3)
    for s in (0, 1):  # step 1 straddles epochs 0 and 1
        idx = batches.local_indices(s)
        got = batches[s]
        ref = fake_images(jax.random.key(1), small_cfg, N)
        np.testing.assert_array_equal(got["images"], np.asarray(ref["image"])[idx].astype(np.uint8))
        np.testing.assert_array_equal(got["axon_masks"], np.asarray(ref["axon_mask"])[idx].astype(np.uint8))
    attrs = ds.attrs
    assert dataset_fingerprint(attrs) == dataset_fingerprint(json.loads(json.dumps(attrs)))
    assert dataset_fingerprint(attrs) != dataset_fingerprint(open_dataset(datasets["other"]).attrs)


def test_dataset_arrays_give_the_inputs_and_targets_of_the_images_they_store(tiny):
    """uint8 grey values and 0/1 masks as stored train exactly as the generator's float32
    images and bool masks (the normalisation works on the values, not the dtype)."""
    from types import SimpleNamespace

    from jaxaxon.train.step import dataset_examples, inputs_and_targets, to_tiles

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2, 64, 64)).astype(np.float32)
    mask = rng.random((2, 64, 64)) > 0.7
    x, y = dataset_examples({"images": image.astype(np.uint8), "axon_masks": mask.astype(np.uint8)}, tiny)
    assert x.shape == (8, 32, 32) and y.shape == (8, 32, 32, 1)  # 4 tiles of 32x32 per 64x64 image
    generated = SimpleNamespace(image=jnp.asarray(image), axon_mask=jnp.asarray(mask), bouton_mask=None, clean=None)
    x_ref, y_ref = (to_tiles(a, 32) for a in inputs_and_targets(generated, tiny))
    np.testing.assert_array_equal(np.asarray(x), np.asarray(x_ref))
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y_ref))
    np.testing.assert_array_equal(np.asarray(y[5, ..., 0]), mask[1, :32, 32:])  # image 1, top right tile


# --------------------------------------------------------------------------- training


def _history(workdir) -> list[dict]:
    return json.loads((Path(workdir) / "history.json").read_text())


def _untimed(history):
    return [{k: v for k, v in r.items() if k not in ("time", "steps_per_s")} for r in history]


def _params(workdir):
    latest = Path(workdir) / "checkpoints" / "latest"
    step = max(int(p.name) for p in latest.iterdir() if p.name.isdigit())
    model, _ = load_model(latest / str(step))
    return step, jax.tree.leaves(nnx.to_pure_dict(nnx.state(model)))


def _assert_same_params(a, b):
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):  # bitwise: same program, same data, deterministic CPU kernels
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


class Killed(BaseException):
    """Stands for kill -9 (no checkpoint, nothing cleaned up)."""


_FEED = DataFeed.__call__


def _recording(monkeypatch, record: dict, kill_at: int | None = None):
    """Records a digest of every batch the step is fed (step -> sha256); ``kill_at`` dies there."""
    def call(self, step):
        if step == kill_at:
            raise Killed
        arrays = _FEED(self, step)
        h = hashlib.sha256()
        for name in sorted(arrays):
            h.update(name.encode() + np.asarray(arrays[name]).tobytes())
        record[int(step)] = h.hexdigest()
        return arrays

    monkeypatch.setattr(DataFeed, "__call__", call)


def _sets(changes: dict) -> list[str]:
    return [item for k, v in changes.items() for item in ("--set", f"{k}={json.dumps(v)}")]


@pytest.fixture(scope="module")
def cli_run(datasets, tiny_changes, tmp_path_factory):
    """``jaxaxon train --data main.zarr --epochs 2`` (the tiny run: 6 steps): (workdir, batch digests)."""
    workdir = tmp_path_factory.mktemp("data_run") / "run"
    digests: dict[int, str] = {}
    with pytest.MonkeyPatch.context() as mp:
        _recording(mp, digests)
        argv = ["train", "--workdir", str(workdir), "--data", str(datasets["main"]), "--epochs", "2", "--no-progress"]
        assert main(argv + _sets(tiny_changes)) == 0
    return workdir, digests


def test_cli_run_records_the_dataset_and_trains_its_epochs(cli_run, datasets, small_cfg):
    workdir, digests = cli_run
    config = json.loads((workdir / "config.json").read_text())
    attrs = open_dataset(datasets["main"]).attrs
    assert config["data"] == {
        "path": str(datasets["main"].absolute()),
        "examples": 6,
        "image_size": [64, 64],
        "fingerprint": dataset_fingerprint(attrs),
    }
    assert config["steps"] == 6 and config["generator"] == small_cfg.to_dict()  # 2 epochs of 3 steps
    assert sorted(digests) == [0, 1, 2, 3, 4, 5] and len(set(digests.values())) == 6
    assert [r["step"] for r in _history(workdir)] == [1, 2, 3, 4, 5, 6]


def test_a_killed_run_resumes_with_the_same_batches_and_result(cli_run, datasets, tiny, tmp_path, monkeypatch):
    """Killed while step 6 reads its batch (last checkpoint: step 4), then resumed: steps 5 and 6
    see the uninterrupted run's batches, and the finished run equals it bitwise."""
    ref_dir, ref = cli_run
    workdir = tmp_path / "run"
    first: dict[int, str] = {}
    _recording(monkeypatch, first, kill_at=5)
    with pytest.raises(Killed):
        train(workdir, tiny, data=datasets["main"], epochs=2, progress=False, log=lambda s: None)
    assert sorted(first) == [0, 1, 2, 3, 4] and sorted(p.name for p in (workdir / "checkpoints" / "latest").iterdir()) == ["2", "4"]
    again: dict[int, str] = {}
    _recording(monkeypatch, again)
    train(workdir, resume=True, progress=False, log=lambda s: None)
    assert sorted(again) == [4, 5]  # from the checkpoint on
    assert {**first, **again} == ref and again[4] == first[4]
    assert _untimed(_history(workdir)) == _untimed(_history(ref_dir))
    step_a, a = _params(workdir)
    step_b, b = _params(ref_dir)
    assert step_a == step_b == 6
    _assert_same_params(a, b)


# --------------------------------------------------------------------------- refusals


def _refused(argv, capsys) -> str:
    assert main(["train", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxaxon train: error: ") and err.count("\n") == 1, err
    return err


def test_new_runs_on_bad_datasets_are_refused_before_anything_is_written(
    datasets, small_cfg, tiny_changes, tmp_path, capsys
):
    workdir = tmp_path / "run"
    base = ["--workdir", str(workdir), *_sets(tiny_changes)]
    err = _refused(base + ["--data", str(datasets["half"])], capsys)
    assert "the dataset is half-written (3 of 6 images complete)" in err and "jaxaxon generate" in err
    params = tmp_path / "p64.json"
    small_cfg.to_json(params)
    err = _refused(base + ["--data", str(datasets["small"]), "--params", str(params)], capsys)
    assert "its images are 32x32, the run's are 64x64" in err
    err = _refused(base + ["--data", str(tmp_path / "nothing.zarr")], capsys)
    assert "--data: no dataset at" in err
    assert "give --data" in _refused(base + ["--params", str(params), "--epochs", "2"], capsys)
    assert "disagree" in _refused(base + ["--data", str(datasets["main"]), "--epochs", "2", "--steps", "5"], capsys)
    assert not workdir.exists()


def test_resuming_with_another_dataset_is_refused_and_changes_nothing(cli_run, datasets, tmp_path, capsys):
    import shutil

    workdir = Path(shutil.copytree(cli_run[0], tmp_path / "run"))
    config = (workdir / "config.json").read_text()
    base = ["--workdir", str(workdir), "--resume", "--steps", "8"]
    err = _refused(base + ["--data", str(datasets["small"])], capsys)
    assert "its images are 32x32, the run's are 64x64" in err
    err = _refused(base + ["--data", str(datasets["other"])], capsys)
    assert "another dataset than the run's" in err and "resume with the run's dataset" in err
    err = _refused(base + ["--data", str(datasets["half"])], capsys)
    assert "half-written (3 of 6 images complete)" in err
    assert (workdir / "config.json").read_text() == config
    moved = tmp_path / "moved.zarr"
    shutil.move(datasets["main"], moved)  # the run's own dataset, moved
    try:
        err = _refused(base, capsys)
        assert f"--data: no dataset at {datasets['main'].absolute()}" in err
        assert (workdir / "config.json").read_text() == config
        assert main(["train", "--workdir", str(workdir), "--resume", "--data", str(moved), "--no-progress"]) == 0
        assert json.loads((workdir / "config.json").read_text())["data"]["path"] == str(moved)  # the new place
    finally:
        shutil.move(moved, datasets["main"])


_TWO_DEVICES = """
import json, os, sys
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
import jax, numpy as np
from tests.conftest import SMALL, TINY_CHANGES
from jaxaxon.models.config import ModelConfig
from jaxaxon.parallel import make_mesh
from jaxaxon.train.config import RunConfig
from jaxaxon.train.data_loader import open_training_data
from jaxaxon.train.step import make_train_step

rc = RunConfig(preset="test", model=ModelConfig(), generator=SMALL).replace(**TINY_CHANGES)
ds, record = open_training_data(sys.argv[1], rc)
rc = rc.replace(data=record)
two, one = make_train_step(rc, dataset=ds), make_train_step(rc, dataset=ds, mesh=make_mesh(jax.devices()[:1]))
same = all(np.array_equal(np.asarray(a), np.asarray(b)) for s in (0, 4) for a, b in zip(two.batch(s)[:2], one.batch(s)[:2]))
states = [two.init(0), one.init(0)]
for s in range(3):
    states = [two(*states[0], s), one(*states[1], s)]
print(json.dumps({"devices": two.mesh.shape["data"], "spec": list(two.batch(0)[0].sharding.spec), "same_batches": same,
                  "loss_sums": [float(st[2]["loss"]) for st in states]}))
"""


@pytest.mark.slow
def test_the_fed_step_on_two_devices_sees_the_one_device_batches(datasets):
    """Two virtual CPU devices (a subprocess): the fed images are split over them and the
    batches and losses equal one device's."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _TWO_DEVICES, str(datasets["main"])], cwd=root, capture_output=True, text=True,
        timeout=600, env=dict(os.environ, PYTHONPATH=str(root)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2 and out["spec"] == ["data"] and out["same_batches"]
    assert out["loss_sums"][0] == pytest.approx(out["loss_sums"][1], rel=1e-6)


@pytest.mark.slow
def test_a_cli_run_killed_with_sigkill_resumes_to_the_uninterrupted_result(datasets, tiny, tiny_changes, tmp_path):
    """``jaxaxon train --data`` killed (SIGKILL) after a checkpoint, resumed by a second
    process that exits by itself: the same history and parameters as one uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    changes = dict(tiny_changes, checkpoint_every=2, eval_every=6)
    ref_dir = tmp_path / "ref"
    train(ref_dir, tiny.replace(**changes), data=datasets["main"], epochs=6, progress=False, log=lambda s: None)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    workdir = tmp_path / "run"
    cmd = [sys.executable, "-m", "jaxaxon.cli", "train", "--workdir", str(workdir), "--no-progress"]
    proc = subprocess.Popen(cmd + ["--data", str(datasets["main"]), "--epochs", "6", *_sets(changes)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    latest = workdir / "checkpoints" / "latest"
    t0 = time.time()
    while not (latest.is_dir() and any(p.name.isdigit() for p in latest.iterdir())):
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - t0 < 300
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(r["step"] for r in _history(workdir))
    assert killed_at < 18, "the run finished before it was killed"
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [r["step"] for r in _history(workdir)] == list(range(1, 19))
    assert _untimed(_history(workdir)) == _untimed(_history(ref_dir))
    step_a, a = _params(workdir)
    step_b, b = _params(ref_dir)
    assert step_a == step_b == 18
    _assert_same_params(a, b)
