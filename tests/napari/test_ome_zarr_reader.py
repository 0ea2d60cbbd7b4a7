"""napari's OME-Zarr reader (napari-ome-zarr) gets the layers of a jaxaxon dataset, headless."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaxon.data import open_dataset

pytest.importorskip("napari")
napari_ome_zarr = pytest.importorskip("napari_ome_zarr")


def test_napari_ome_zarr_reads_a_dataset_with_its_labels(small_dataset):
    reader = napari_ome_zarr.napari_get_reader(str(small_dataset))
    assert reader is not None, "napari-ome-zarr does not recognise the dataset as OME-Zarr"
    layers = reader(str(small_dataset))
    images = [(data, meta) for data, meta, kind in layers if kind == "image"]
    labels = [(data, meta) for data, meta, kind in layers if kind == "labels"]
    assert len(images) == 1 and len(labels) == 4
    ds = open_dataset(small_dataset)
    expected = ds[:]
    data = images[0][0]
    np.testing.assert_array_equal(np.asarray(data[0] if isinstance(data, list) else data), expected["images"])
    by_name = {meta["name"]: data for data, meta in labels}
    for name in ("axon_masks", "bouton_masks", "bouton_labels", "cell_masks"):
        key = next(k for k in by_name if name in k)
        array = by_name[key][0] if isinstance(by_name[key], list) else by_name[key]
        np.testing.assert_array_equal(np.asarray(array), expected[name])
