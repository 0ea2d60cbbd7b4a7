"""The `found ...` line of predict and evaluate (jaxaxon.data.inventory)."""

from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from jaxaxon.data.images import Sample
from jaxaxon.data.inventory import Inventory, load_inputs, take_inventory


def test_a_folder_is_counted_by_kind_with_what_was_skipped(tmp_path):
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / name)
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((4, 4), np.uint16))
    np.savez(tmp_path / "vol.npz", image=np.zeros((3, 4, 4), np.uint8))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "d.bmp")
    samples, inventory = load_inputs(tmp_path)
    assert len(samples) == inventory.n_images == 6
    assert inventory.describe() == (
        "found 2 PNG, 1 TIFF, 1 volume (.npz, 3 slices): 6 images; skipped d.bmp (unsupported file type '.bmp'); "
        "supported inputs: .png, .tif, .tiff, .npy, .jpg, .jpeg, .npz"
    )
    assert inventory.to_dict() == {
        "n_images": 6, "labelled": 0, "files": {"PNG": 2, "TIFF": 1}, "volumes": {"vol.npz": 3}, "datasets": {},
        "skipped": ["d.bmp (unsupported file type '.bmp')"],
    }  # fmt: skip


def test_single_files_and_datasets(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 4)))
    assert load_inputs(tmp_path / "x.npy")[1].describe() == "found 1 NumPy: 1 image"
    np.savez(tmp_path / "v.npz", image=np.zeros((2, 4, 4)), mask=np.zeros((2, 4, 4)))
    inventory = load_inputs(tmp_path / "v.npz")[1]
    assert inventory.describe() == "found 1 volume (.npz, 2 slices): 2 images" and inventory.labelled == 2
    image = np.zeros((4, 4), np.float32)
    samples = [Sample(name=f"d_{i}", image=image, mask=image > 0, source="/x/val.zarr") for i in range(4)]
    assert take_inventory(samples).describe() == "found 1 dataset (zarr, 4 images): 4 images"
    assert Inventory().describe() == "found nothing: 0 images"


def test_an_npz_that_is_not_a_volume_is_listed_not_warned_about(tmp_path, recwarn):
    np.save(tmp_path / "x.npy", np.zeros((4, 4)))
    np.savez(tmp_path / "stats.npz", images=np.zeros((2, 4, 4)))
    assert load_inputs(tmp_path)[1].skipped == ("stats.npz (no 'image' array)",)
    assert not [w for w in recwarn if "stats.npz" in str(w.message)]
