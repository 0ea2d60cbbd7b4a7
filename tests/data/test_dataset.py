"""Writing and reading generated datasets (jaxaxon.data): contents, resume, refusals, reader."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxaxon
from jaxaxon.data import DatasetError, open_dataset, verify_dataset, write_dataset
from jaxaxon.data.layout import (
    ATTRS_KEY,
    IMAGE_OUTPUTS,
    LOCK_FILE,
    derive_specs,
    read_attributes,
    set_progress,
    write_group,
)
from jaxaxon.synth.image import example_keys

from .dataset_reference import BATCH, SEED, SERIES_N, N

REPO = Path(__file__).resolve().parents[2]


def _attrs(path: Path) -> dict:
    return json.loads((path / "zarr.json").read_text())["attributes"][ATTRS_KEY]


# --- contents ------------------------------------------------------------------------------------


def test_images_and_masks_equal_direct_generator_output(reference_dataset, reference_outputs, small_cfg):
    ds = open_dataset(reference_dataset)
    assert len(ds) == N and ds.complete and ds.seed == SEED and ds.config == small_cfg
    got = ds[0:N]
    assert set(got) == {"images", "axon_masks", "bouton_masks", "clean_images", "bouton_labels", "cell_masks"}
    np.testing.assert_array_equal(got["cell_masks"], reference_outputs["cell_mask"].astype(np.uint8))
    ref = reference_outputs
    np.testing.assert_array_equal(got["images"], ref["image"].astype(np.uint8))
    np.testing.assert_array_equal(got["clean_images"], ref["clean"].astype(np.uint8))
    np.testing.assert_array_equal(got["axon_masks"], ref["axon_mask"].astype(np.uint8))
    np.testing.assert_array_equal(got["bouton_masks"], ref["bouton_mask"].astype(np.uint8))
    np.testing.assert_array_equal(got["bouton_labels"], ref["bouton_label"])
    for name, value in got.items():
        assert value.dtype == np.uint8 and value.shape == (N, *small_cfg.shape), name
    # the conversion was exact: grey values are integers and masks are 0/1 with something in them
    np.testing.assert_array_equal(got["images"].astype(np.float32), ref["image"])
    assert set(np.unique(got["axon_masks"])) == {0, 1} and got["bouton_masks"].max() == 1


def test_metadata_equal_direct_generator_output(reference_dataset, reference_outputs):
    ds = open_dataset(reference_dataset)
    meta = ds.metadata(0, N)
    expected = {k for k in reference_outputs if k not in IMAGE_OUTPUTS}
    assert set(meta) == expected
    for name, value in meta.items():
        ref = reference_outputs[name]
        assert value.dtype == ref.dtype and value.shape == ref.shape, name
        np.testing.assert_array_equal(value, ref, err_msg=name)


def test_layout_attributes_and_chunks(reference_dataset, small_cfg):
    doc = json.loads((reference_dataset / "zarr.json").read_text())
    assert doc["zarr_format"] == 3 and doc["node_type"] == "group"
    attrs = doc["attributes"][ATTRS_KEY]
    assert attrs["format"] == "jaxaxon-dataset" and attrs["format_version"] == 3
    assert attrs["generator"]["config"] == small_cfg.to_dict() and attrs["generator"]["seed"] == SEED
    assert attrs["num_examples"] == N and attrs["chunk_size"] == BATCH and attrs["num_chunks"] == 3
    assert attrs["written_with"]["jaxaxon"] == jaxaxon.__version__
    assert attrs["progress"] == {"completed_chunks": 3, "completed_examples": N, "complete": True}
    assert "centerlines" in attrs["arrays"] and attrs["arrays"]["images"]["dtype"] == "uint8"
    paths = {name: (a["path"], a["n_axis"]) for name, a in attrs["arrays"].items()}
    assert paths["images"] == ("images", 0) and paths["clean_images"] == ("clean_images/0", 0)
    assert paths["axon_masks"] == ("labels/axon_masks/0", 0) and paths["gap"] == ("metadata/gap", 0)
    images = json.loads((reference_dataset / "images" / "zarr.json").read_text())
    assert images["shape"] == [N, 64, 64] and images["data_type"] == "uint8"
    assert images["chunk_grid"]["configuration"]["chunk_shape"] == [BATCH, 64, 64]
    shard = images["codecs"][0]
    assert shard["name"] == "sharding_indexed" and shard["configuration"]["chunk_shape"] == [1, 64, 64]
    assert any(c["name"] == "zstd" for c in shard["configuration"]["codecs"])
    centre = json.loads((reference_dataset / "metadata" / "centerlines" / "zarr.json").read_text())
    assert centre["data_type"] == "float32" and centre["chunk_grid"]["configuration"]["chunk_shape"][0] == BATCH
    assert json.loads((reference_dataset / "metadata" / "zarr.json").read_text())["node_type"] == "group"
    # one file per chunk and array
    assert sorted(p.name for p in (reference_dataset / "images" / "c").iterdir()) == ["0", "1", "2"]


def test_two_uninterrupted_runs_are_byte_identical(reference_dataset, small_cfg, tmp_path, tree):
    write_dataset(tmp_path / "again.zarr", small_cfg, N, seed=SEED, batch_size=BATCH)
    assert tree.bytes(tmp_path / "again.zarr") == tree.bytes(reference_dataset)


def test_stored_dtypes_follow_max_intensity(small_cfg):
    outputs = {"image": ((64, 64), np.float32), "clean": ((64, 64), np.float32), "axon_mask": ((64, 64), bool)}
    assert {s.name: s.dtype for s in derive_specs(outputs, small_cfg)}["images"] == "uint8"
    wide = derive_specs(outputs, small_cfg.replace(maxIntensity=4095))
    assert {s.name: s.dtype for s in wide} == {"images": "uint16", "clean_images": "uint16", "axon_masks": "uint8"}
    with pytest.raises(DatasetError, match="maxIntensity=70000"):
        derive_specs(outputs, small_cfg.replace(maxIntensity=70000))


# --- time series ------------------------------------------------------------------------------------


def test_series_dataset_equals_generate_series(series_dataset, series_outputs):
    ds = open_dataset(series_dataset)
    t = ds.config.NbImages
    assert ds.kind == "series" and len(ds) == SERIES_N and ds.attrs["generator"]["function"].endswith("generate_series")
    got = ds[:]
    ref = series_outputs
    assert got["images"].shape == (SERIES_N, t, 64, 64) and got["images"].dtype == np.uint8
    np.testing.assert_array_equal(got["images"], ref["image"].astype(np.uint8))
    np.testing.assert_array_equal(got["clean_images"], ref["clean"].astype(np.uint8))
    for name, source in (("axon_masks", "axon_mask"), ("bouton_masks", "bouton_mask"), ("cell_masks", "cell_mask")):
        np.testing.assert_array_equal(got[name], ref[source].astype(np.uint8), err_msg=name)
    np.testing.assert_array_equal(got["bouton_labels"], ref["bouton_label"])
    meta = ds.metadata(slice(None))
    assert set(meta) == set(ref) - set(IMAGE_OUTPUTS) and "rotation_deg" in meta
    for name, value in meta.items():
        assert value.dtype == ref[name].dtype, name
        np.testing.assert_array_equal(value, ref[name], err_msg=name)
    layout = json.loads((series_dataset / "images" / "zarr.json").read_text())
    # stored [T, N, H, W]: NGFF wants the time axis first; read as [N, T, H, W]
    assert layout["dimension_names"] == ["t", "n", "y", "x"] and layout["shape"] == [t, SERIES_N, 64, 64]
    assert layout["codecs"][0]["configuration"]["chunk_shape"] == [t, 1, 64, 64]  # one series per inner chunk
    assert (series_dataset / "labels" / "axon_masks" / "0" / "c" / "0" / "1" / "0" / "0").is_file()  # chunk 1


# --- a generator with other outputs plugs in through the specs -------------------------------------------


@jax.jit
def _fake_series_one(key):
    image = jnp.floor(jax.random.uniform(key, (3, 16, 16)) * 256)
    return dict(
        image=image,
        axon_mask=image > 128,
        clean=jnp.floor(image / 2),
        shift=jax.random.randint(key, (3, 2), -5, 5),
    )


def fake_series(key, config, batch_size, start_index=0):
    """A stand-in time-series generator: ``[B, T=3, 16, 16]`` frames plus ``[B, T, 2]`` metadata."""
    return jax.vmap(_fake_series_one)(example_keys(key, batch_size, start_index))


def test_series_shaped_outputs_are_stored_by_spec(small_cfg, tmp_path):
    path = tmp_path / "series.zarr"
    write_dataset(path, small_cfg, 5, seed=1, batch_size=2, kind="series", generator=fake_series)
    ds = open_dataset(path)
    assert ds.kind == "series" and ds.image_names == ("images", "axon_masks", "clean_images")
    assert ds.metadata_names == ("shift",)
    ref = fake_series(jax.random.key(1), small_cfg, 5)
    got = ds[:]
    assert got["images"].shape == (5, 3, 16, 16) and got["images"].dtype == np.uint8
    np.testing.assert_array_equal(got["images"], np.asarray(ref["image"]).astype(np.uint8))
    np.testing.assert_array_equal(got["axon_masks"], np.asarray(ref["axon_mask"]).astype(np.uint8))
    np.testing.assert_array_equal(ds.metadata(slice(None))["shift"], np.asarray(ref["shift"]))
    assert json.loads((path / "images" / "zarr.json").read_text())["dimension_names"] == ["t", "n", "y", "x"]


def test_non_integer_grey_values_are_refused_not_truncated(small_cfg, tmp_path):
    def blurry(key, config, batch_size, start_index=0):
        out = fake_series(key, config, batch_size, start_index)
        return {**out, "image": out["image"] + 0.5}

    path = tmp_path / "bad.zarr"
    with pytest.raises(DatasetError, match="not integer-valued"):
        write_dataset(path, small_cfg, 4, batch_size=2, kind="series", generator=blurry)
    assert _attrs(path)["progress"]["completed_chunks"] == 0


# --- interruption and resume ------------------------------------------------------------------------


class Stop(Exception):
    pass


@pytest.mark.parametrize("stop_at", [4, 8])
def test_interrupted_in_process_then_resumed_is_byte_identical(
    stop_at, reference_dataset, reference_outputs, small_cfg, tmp_path, tree
):
    path = tmp_path / "resumed.zarr"
    seen_before = []

    def stop(done, total):
        seen_before.append(done)
        if done >= stop_at:
            raise Stop

    with pytest.raises(Stop):
        write_dataset(path, small_cfg, N, seed=SEED, batch_size=BATCH, on_progress=stop)
    stop_at = seen_before[-1]  # chunks that finish together are recorded together
    assert seen_before[0] == 0 and stop_at < N and stop_at % BATCH == 0
    progress = _attrs(path)["progress"]
    assert progress == {"completed_chunks": stop_at // BATCH, "completed_examples": stop_at, "complete": False}
    with pytest.raises(DatasetError, match=f"incomplete: {stop_at} of {N}"):
        open_dataset(path)
    assert (path / LOCK_FILE).exists()  # marks an unfinished dataset; removed on completion
    partial = open_dataset(path, allow_incomplete=True)
    assert len(partial) == stop_at
    np.testing.assert_array_equal(partial[:]["images"], reference_outputs["image"][:stop_at].astype(np.uint8))
    with pytest.raises(IndexError):
        partial[stop_at]

    seen = []
    summary = write_dataset(
        path, small_cfg, N, seed=SEED, on_progress=lambda d, t: seen.append(d)
    )  # batch from the dataset
    assert summary.resumed_from == stop_at and summary.written == N - stop_at
    assert seen[0] == stop_at and seen[-1] == N
    assert tree.bytes(path) == tree.bytes(reference_dataset)
    assert not (path / LOCK_FILE).exists()


def test_torn_chunks_after_the_record_are_rewritten(dataset_copy, reference_dataset, small_cfg, tree):
    """A crash mid-write: chunks after the completion record hold truncated or missing files."""
    attrs = read_attributes(dataset_copy)
    write_group(dataset_copy, set_progress(attrs, 1))
    shard = dataset_copy / "images" / "c" / "1" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[:100])
    shutil.rmtree(dataset_copy / "metadata" / "centerlines" / "c" / "2")
    (dataset_copy / "clean_images" / "0" / "c" / "2" / "0" / "0").unlink()
    (dataset_copy / "labels" / "zarr.json").unlink()  # lost NGFF group metadata is restored too
    (dataset_copy / "clean_images" / "zarr.json").write_text("{")
    summary = write_dataset(dataset_copy, small_cfg, N, seed=SEED, batch_size=BATCH)
    assert summary.resumed_from == BATCH
    assert tree.bytes(dataset_copy) == tree.bytes(reference_dataset)


def _poll_completed_chunks(path: Path, proc: subprocess.Popen, timeout: float = 300.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done = _attrs(path)["progress"]["completed_chunks"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 1:
            return done
        if proc.poll() is not None:
            pytest.fail(f"the writer exited early with {proc.returncode}: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("the writer recorded no chunk in time")


def test_killed_subprocess_then_resumed_with_the_cli_is_byte_identical(
    reference_dataset, small_params, tmp_path, tree, subprocess_env
):
    path = tmp_path / "killed.zarr"
    # the writer sleeps inside the progress callback after recording chunk 0, while the writes of
    # chunk 1 are in flight: kill -9 lands with written-but-unrecorded data on disk
    code = (
        "import time\n"
        "from jaxaxon.config import GeneratorConfig\n"
        "from jaxaxon.data import write_dataset\n"
        f"cfg = GeneratorConfig.from_json({str(small_params)!r})\n"
        f"write_dataset({str(path)!r}, cfg, {N}, seed={SEED}, batch_size={BATCH},\n"
        "              on_progress=lambda done, n: time.sleep(600 if done else 0))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=subprocess_env, cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    try:
        done = _poll_completed_chunks(path, proc)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert 1 <= done < 3 and _attrs(path)["progress"]["completed_chunks"] == done
    resumed = subprocess.run(
        [sys.executable, "-m", "jaxaxon.cli", "generate", "--n", str(N), "--out", str(path),
         "--params", str(small_params), "--seed", str(SEED), "--batch", str(BATCH)],
        env=subprocess_env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {path}: {done * BATCH} of {N} images already complete" in resumed.stderr
    assert tree.bytes(path) == tree.bytes(reference_dataset)


def test_a_second_writer_is_refused_while_one_holds_the_lock(dataset_copy, small_cfg, tree):
    with open(dataset_copy / LOCK_FILE, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        before = tree.state(dataset_copy)
        with pytest.raises(DatasetError, match="another process is writing"):
            write_dataset(dataset_copy, small_cfg, N, seed=SEED, batch_size=BATCH, overwrite=True)
        assert tree.state(dataset_copy) == before


def test_complete_dataset_is_left_alone(dataset_copy, small_cfg, tree):
    before = tree.state(dataset_copy)
    summary = write_dataset(dataset_copy, small_cfg, N, seed=SEED)
    assert summary.written == 0 and summary.resumed_from == N
    assert tree.state(dataset_copy) == before


# --- refusals that leave existing data untouched -------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(seed=SEED + 1), "--seed: existing 3, requested 4"),
        (dict(num_examples=N + 1), "--n: existing 10, requested 11"),
        (dict(batch_size=BATCH + 1), "--batch"),
        (dict(config={"MinAxons": 1}), "parameter MinAxons: existing 2, requested 1"),
    ],
)
def test_mismatched_existing_dataset_is_refused_untouched(change, message, dataset_copy, small_cfg, tree):
    before = tree.state(dataset_copy)
    request = dict(config=small_cfg, num_examples=N, seed=SEED, batch_size=BATCH)
    if "config" in change:
        change = {"config": small_cfg.replace(**change["config"])}
    request.update(change)
    with pytest.raises(DatasetError, match="other settings") as err:
        write_dataset(dataset_copy, **request)
    assert message in str(err.value) and "--overwrite" in str(err.value)
    assert tree.state(dataset_copy) == before


def test_dataset_of_another_jaxaxon_version_is_refused(dataset_copy, small_cfg, tree):
    attrs = read_attributes(dataset_copy)
    attrs["written_with"]["jaxaxon"] = "0.0.1"
    write_group(dataset_copy, set_progress(attrs, 1))
    before = tree.state(dataset_copy)
    with pytest.raises(DatasetError, match="jaxaxon version: existing '0.0.1'"):
        write_dataset(dataset_copy, small_cfg, N, seed=SEED, batch_size=BATCH)
    assert tree.state(dataset_copy) == before


def test_overwrite_replaces_a_mismatched_dataset(dataset_copy, small_cfg):
    write_dataset(dataset_copy, small_cfg, N, seed=SEED + 1, batch_size=BATCH, overwrite=True)
    ds = open_dataset(dataset_copy)
    assert ds.seed == SEED + 1 and len(ds) == N
    direct = jaxaxon.generate(jax.random.key(SEED + 1), small_cfg, BATCH, 4)
    np.testing.assert_array_equal(ds[4:8]["images"], np.asarray(direct.image).astype(np.uint8))


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated JSON
        lambda text: "not json at all",
        lambda text: text.replace('"completed_chunks": 3', '"completed_chunks": 7'),
        lambda text: text.replace('"num_examples": 10', '"num_examples": "ten"'),
        lambda text: text.replace('"jaxaxon-dataset"', '"something-else"'),
    ],
    ids=["truncated", "garbage", "progress-out-of-range", "wrong-type", "wrong-format"],
)
def test_corrupt_attributes_give_clear_errors_and_lose_nothing(damage, dataset_copy, small_cfg, tree):
    meta = dataset_copy / "zarr.json"
    meta.write_text(damage(meta.read_text()))
    before = tree.state(dataset_copy)
    with pytest.raises(DatasetError, match="corrupt dataset attributes"):
        write_dataset(dataset_copy, small_cfg, N, seed=SEED, batch_size=BATCH)
    with pytest.raises(DatasetError, match="corrupt dataset attributes"):
        open_dataset(dataset_copy)
    assert tree.state(dataset_copy) == before
    # --overwrite is the way out for a dataset jaxaxon wrote (it carries the lock file)
    write_dataset(dataset_copy, small_cfg, N, seed=SEED, batch_size=BATCH, overwrite=True)
    assert len(open_dataset(dataset_copy)) == N


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_examples=0), "positive integer"),
        (dict(num_examples=-3), "positive integer"),
        (dict(num_examples=2.5), "positive integer"),
        (dict(num_examples=True), "positive integer"),
        (dict(seed=-1), "seed must be an integer in 0..4294967295"),
        (dict(seed=2**32), "seed must be"),
        (dict(batch_size=0), "batch size"),
        (dict(kind="movies"), "unknown dataset kind"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_created(kwargs, message, small_cfg, tmp_path):
    request = dict(num_examples=N, seed=SEED, batch_size=BATCH) | kwargs
    with pytest.raises(DatasetError, match=message):
        write_dataset(tmp_path / "x.zarr", small_cfg, **request)
    assert not (tmp_path / "x.zarr").exists()


def test_a_request_refused_after_tracing_creates_nothing(small_cfg, tmp_path):
    with pytest.raises(DatasetError, match="maxIntensity=70000"):
        write_dataset(tmp_path / "a" / "b.zarr", small_cfg.replace(maxIntensity=70000), 4, generator=fake_series)
    assert list(tmp_path.iterdir()) == []


def test_paths_that_are_not_ours_are_refused_untouched(small_cfg, tmp_path, tree):
    a_file = tmp_path / "file.zarr"
    a_file.write_text("precious")
    with pytest.raises(DatasetError, match="is not a directory"):
        write_dataset(a_file, small_cfg, N, batch_size=BATCH, overwrite=True)
    assert a_file.read_text() == "precious"
    with pytest.raises(DatasetError, match="cannot create the dataset directory"):
        write_dataset(a_file / "sub.zarr", small_cfg, N, batch_size=BATCH)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    zarr_group = tmp_path / "other.zarr"
    zarr_group.mkdir()
    (zarr_group / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    for path, message in ((foreign, "not a jaxaxon dataset"), (zarr_group, "not a jaxaxon dataset")):
        before = tree.state(path)
        for overwrite in (False, True):
            with pytest.raises(DatasetError, match=message):
                write_dataset(path, small_cfg, N, batch_size=BATCH, overwrite=overwrite)
        assert tree.state(path) == before


# --- reader ----------------------------------------------------------------------------------------------


def test_indexing(reference_dataset, reference_outputs):
    ds = open_dataset(reference_dataset)
    images = reference_outputs["image"].astype(np.uint8)
    assert ds[3]["images"].shape == (64, 64)
    np.testing.assert_array_equal(ds[3]["images"], images[3])
    np.testing.assert_array_equal(ds[-1]["images"], images[N - 1])
    np.testing.assert_array_equal(ds[[7, 2, 2]]["images"], images[[7, 2, 2]])
    np.testing.assert_array_equal(ds[np.array([-1, 0])]["images"], images[[N - 1, 0]])
    np.testing.assert_array_equal(ds[1:9:3]["images"], images[1:9:3])
    np.testing.assert_array_equal(ds[8:100]["images"], images[8:])
    assert ds[5:2]["images"].shape == (0, 64, 64)
    mask = np.zeros(N, bool)
    mask[[1, 4]] = True
    np.testing.assert_array_equal(ds[mask]["images"], images[[1, 4]])
    np.testing.assert_array_equal(ds.read([4], ["centerlines"])["centerlines"], reference_outputs["centerlines"][[4]])
    for bad in (N, -N - 1):
        with pytest.raises(IndexError):
            ds[bad]
    with pytest.raises(IndexError):
        ds[[0, N]]
    with pytest.raises(KeyError, match="no arrays"):
        ds.read(0, ["nonexistent"])
    assert len(list(ds)) == N
    assert "10 images" in repr(ds) and ds.attrs["num_examples"] == N


def test_batches(reference_dataset, reference_outputs):
    ds = open_dataset(reference_dataset)
    images = reference_outputs["image"].astype(np.uint8)
    plain = list(ds.batches(3))
    assert [len(b["images"]) for b in plain] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([b["images"] for b in plain]), images)
    assert [len(b["images"]) for b in ds.batches(3, drop_remainder=True)] == [3, 3, 3]

    def order(**kw):
        return [
            int(np.flatnonzero((images == x).all(axis=(1, 2)))[0]) for b in ds.batches(4, **kw) for x in b["images"]
        ]

    first = order(shuffle=True, seed=5)
    assert sorted(first) == list(range(N)) and first != list(range(N))
    assert order(shuffle=True, seed=5) == first and order(shuffle=True, seed=6) != first
    two = order(shuffle=True, seed=5, epochs=2)
    assert two[:N] == first and sorted(two[N:]) == list(range(N)) and two[N:] != first
    assert sorted(order(indices=[8, 1, 5], shuffle=True)) == [1, 5, 8]
    assert order(indices=slice(2, 5)) == [2, 3, 4]
    forever = ds.batches(4, epochs=None, names=["axon_masks"])
    got = [next(forever) for _ in range(7)]
    assert set(got[0]) == {"axon_masks"} and len(got) == 7
    jx = next(ds.batches(2, as_jax=True))
    assert isinstance(jx["images"], jax.Array) and jx["images"].shape == (2, 64, 64)
    with pytest.raises(ValueError, match="no batch of 20"):
        next(ds.batches(20, drop_remainder=True))


def test_format_2_dataset_keeps_its_layout_and_reads(small_cfg, reference_dataset, tmp_path):
    old = tmp_path / "v2.zarr"
    write_dataset(old, small_cfg, N, seed=SEED, batch_size=BATCH, format_version=2)
    doc = json.loads((old / "zarr.json").read_text())
    assert list(doc["attributes"]) == [ATTRS_KEY] and doc["attributes"][ATTRS_KEY]["format_version"] == 2
    assert "path" not in doc["attributes"][ATTRS_KEY]["arrays"]["axon_masks"]  # the format-2 record as it was
    assert (old / "axon_masks" / "zarr.json").is_file() and not (old / "labels").exists()
    ds, ref = open_dataset(old), open_dataset(reference_dataset)
    assert ds.image_names == ref.image_names
    for name, value in ref.read(slice(0, N)).items():
        np.testing.assert_array_equal(ds.read(slice(0, N), [name])[name], value, err_msg=name)
    assert verify_dataset(old).ok


def test_a_newer_format_is_refused_with_a_clear_message(dataset_copy):
    meta = dataset_copy / "zarr.json"
    meta.write_text(meta.read_text().replace('"format_version": 3', '"format_version": 4'))
    with pytest.raises(DatasetError, match=r"format version 4 is not supported by this jaxaxon \(reads versions 1, 2, 3\)"):
        open_dataset(dataset_copy)


def test_reader_refuses_missing_or_damaged_datasets(dataset_copy, tmp_path):
    with pytest.raises(DatasetError, match="no dataset"):
        open_dataset(tmp_path / "nothing.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(DatasetError, match="zarr.json is missing"):
        open_dataset(tmp_path / "empty.zarr")
    (dataset_copy / "metadata" / "gap" / "zarr.json").unlink()
    with pytest.raises(DatasetError, match="'metadata/gap'.*missing or corrupt"):
        open_dataset(dataset_copy)


# --- README ---------------------------------------------------------------------------------------------


def _readme_snippet() -> str:
    marker = "<!-- dataset-tensorstore-snippet -->"
    for name in ("docs/datasets.md", "README.md"):
        path = REPO / name
        if path.exists() and marker in path.read_text():
            text = path.read_text().split(marker, 1)[1]
            return re.search(r"```python\n(.*?)```", text, re.S).group(1)
    pytest.fail("neither docs/datasets.md nor the README holds the tensorstore snippet")


def test_readme_tensorstore_snippet_reads_the_dataset(reference_dataset, reference_outputs, monkeypatch):
    code = _readme_snippet()
    assert "jaxaxon" not in code.replace('["jaxaxon"]', "")  # plain tensorstore, no jaxaxon import
    monkeypatch.chdir(reference_dataset.parent)
    code = code.replace('path = "train.zarr"', f'path = "{reference_dataset.name}"')
    namespace: dict = {}
    exec(compile(code, "README snippet", "exec"), namespace)
    np.testing.assert_array_equal(namespace["x"], reference_outputs["image"][:8].astype(np.uint8))
    np.testing.assert_array_equal(namespace["y"], reference_outputs["axon_mask"][:8])
    np.testing.assert_array_equal(namespace["centerlines"], reference_outputs["centerlines"][:8])
    assert namespace["n"] == N and namespace["params"]["width"] == 64
