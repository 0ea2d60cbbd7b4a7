"""The reader: jaxaxon datasets as read-on-demand layers, TIFF files at their metadata's pixel size."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from jaxaxon.data import open_dataset
from jaxaxon.napari.reader import ExampleStack, get_reader, read_dataset, read_paths, read_tiff

from .conftest import N_EXAMPLES, SEED


def test_get_reader_claims_datasets_and_tiffs_only(small_dataset, tmp_path):
    tif = tmp_path / "a.tif"
    tifffile.imwrite(tif, np.zeros((4, 5), np.uint8))
    (tmp_path / "other.zarr").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert get_reader(str(small_dataset)) is read_paths
    assert get_reader(str(tif)) is read_paths
    assert get_reader([str(small_dataset), str(tif)]) is read_paths
    assert get_reader(str(tmp_path / "other.zarr")) is None  # a directory that is no dataset
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(tmp_path / "missing.tif")) is None
    assert get_reader([str(tif), str(tmp_path / "notes.txt")]) is None
    assert get_reader([]) is None
    with pytest.raises(ValueError, match="neither a jaxaxon dataset"):
        read_paths(str(tmp_path / "notes.txt"))


def test_dataset_layers(small_dataset):
    layers = read_paths(str(small_dataset))
    names = [(m["name"], kind) for _, m, kind in layers]
    assert names == [
        ("small: image", "image"), ("small: clean image", "image"), ("small: cells", "labels"),
        ("small: axon mask", "labels"), ("small: bouton mask", "labels"), ("small: boutons", "labels"),
    ]  # fmt: skip
    ds = open_dataset(small_dataset)
    stored = ds.read(slice(None), ["images", "axon_masks", "bouton_labels"])
    data = {m["name"]: d for d, m, _ in layers}
    assert data["small: image"].shape == (N_EXAMPLES, 64, 64)
    np.testing.assert_array_equal(np.asarray(data["small: image"]), stored["images"])
    np.testing.assert_array_equal(data["small: axon mask"][2], stored["axon_masks"][2])
    np.testing.assert_array_equal(data["small: boutons"][1:3, 5:9], stored["bouton_labels"][1:3, 5:9])
    meta = layers[0][1]
    assert meta["axis_labels"] == ("example", "y", "x")
    assert meta["contrast_limits"] == (0.0, 255.0)
    assert "scale" not in meta  # the small config's pixel size is unknown
    assert meta["metadata"]["jaxaxon"]["seed"] == SEED
    assert meta["metadata"]["jaxaxon"]["examples"] == N_EXAMPLES


def test_example_stack_reads_what_is_asked(small_dataset):
    ds = open_dataset(small_dataset)
    everything = ds.read(slice(None), ["axon_masks"])["axon_masks"]
    stack = ExampleStack(ds, "axon_masks", np.uint8)
    assert (stack.shape, stack.ndim, stack.dtype, len(stack)) == ((N_EXAMPLES, 64, 64), 3, np.uint8, N_EXAMPLES)
    np.testing.assert_array_equal(stack[-1], everything[-1])
    np.testing.assert_array_equal(stack[1, 10:20, 3], everything[1, 10:20, 3])
    np.testing.assert_array_equal(stack[::2, 0], everything[::2, 0])
    np.testing.assert_array_equal(stack[[3, 0]], everything[[3, 0]])
    np.testing.assert_array_equal(stack[..., 7], everything[..., 7])
    assert stack[2:2].shape == (0, 64, 64)
    with pytest.raises(IndexError, match="out of range"):
        stack[N_EXAMPLES]
    with pytest.raises(ValueError, match="not an image array"):
        ExampleStack(ds, "centerlines")


def test_read_dataset_refuses_other_directories(tmp_path):
    with pytest.raises(ValueError):
        read_dataset(tmp_path / "nothing.zarr")


def _ome(path, data, size_um):
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "YX", "PhysicalSizeX": size_um, "PhysicalSizeY": size_um,
                                                    "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"})  # fmt: skip


def test_tiff_predictions_at_their_pixel_size(tmp_path):
    prob = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    _ome(tmp_path / "cell1_axon_prob.ome.tif", prob, 0.25)
    _ome(tmp_path / "cell1_axon_mask.ome.tif", (prob > 0.5).astype(np.uint8), 250.0 / 1000)

    [(data, meta, kind)] = read_tiff(tmp_path / "cell1_axon_prob.ome.tif")
    assert kind == "image" and meta["name"] == "cell1_axon_prob"
    np.testing.assert_array_equal(data, prob)
    assert meta["contrast_limits"] == (0.0, 1.0)
    assert meta["scale"] == (0.25, 0.25) and meta["units"] == ("um", "um")

    [(mask, meta, kind)] = read_tiff(tmp_path / "cell1_axon_mask.ome.tif")
    assert kind == "labels" and meta["name"] == "cell1_axon_mask"
    assert mask.dtype == np.uint8 and int(mask.sum()) == 10  # values 10/19 .. 19/19 exceed 0.5
    assert meta["scale"] == (0.25, 0.25)


def test_plain_and_float_mask_tiffs(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.arange(6, dtype=np.uint16).reshape(2, 3))
    [(data, meta, kind)] = read_tiff(tmp_path / "plain.tif")
    assert kind == "image" and "scale" not in meta and "contrast_limits" not in meta
    assert data.tolist() == [[0, 1, 2], [3, 4, 5]]
    tifffile.imwrite(tmp_path / "x_mask.tiff", np.array([[0.0, 0.5], [1.0, 0.0]], np.float32))
    [(mask, _, kind)] = read_tiff(tmp_path / "x_mask.tiff")
    assert kind == "labels" and mask.tolist() == [[0, 1], [1, 0]] and mask.dtype == np.uint8
    with pytest.raises(ValueError, match="not a TIFF"):
        read_tiff(tmp_path / "missing.tif")
