"""napari's OME-Zarr reader (napari-ome-zarr) gets the layers of a jaxaxon dataset, headless.

Needs napari and napari-ome-zarr (not in CI), and a dataset written as OME-Zarr (NGFF): skipped
while ``jaxaxon generate`` writes its own zarr layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("napari")
napari_ome_zarr = pytest.importorskip("napari_ome_zarr")


def _ngff_images(root: Path) -> Path | None:
    """The dataset's NGFF image group (``ome.multiscales`` in its ``zarr.json``): the root or a child."""
    for group in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        meta = group / "zarr.json"
        if meta.is_file() and "multiscales" in json.loads(meta.read_text()).get("attributes", {}).get("ome", {}):
            return group
    return None


def test_napari_ome_zarr_reads_a_dataset(small_dataset):
    images = _ngff_images(small_dataset)
    if images is None:
        pytest.skip("jaxaxon datasets are not OME-Zarr (NGFF) yet")
    reader = napari_ome_zarr.napari_get_reader(str(images))
    assert reader is not None
    layers = reader(str(images))
    kinds = [kind for _, _, kind in layers]
    assert "image" in kinds and "labels" in kinds
    for data, _, _ in layers:
        shape = data[0].shape if isinstance(data, list) else data.shape
        assert tuple(shape[-2:]) == (64, 64)
