"""Prediction files for Fiji and napari: OME-TIFF writing and `jaxaxon predict`'s outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jax
import numpy as np
import pytest
import tifffile
from PIL import Image

import jaxaxon
from jaxaxon.cli import main
from jaxaxon.data.images import read_pixel_size
from jaxaxon.eval.evaluate import predict_folder, probability_maps
from jaxaxon.eval.prediction_files import prediction_files, write_ome_tiff, write_prediction
from jaxaxon.train.inference import load_model


def _pixels(path) -> dict:
    """The attributes of the OME-XML ``Pixels`` element of an OME-TIFF."""
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome, path
        root = ET.fromstring(tif.ome_metadata)
    (pixels,) = [e for e in root.iter() if e.tag.endswith("}Pixels")]
    return dict(pixels.attrib)


def test_ome_tiff_with_a_pixel_size(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(3, 4) / 11
    path = write_ome_tiff(tmp_path / "a.ome.tif", data, pixel_size=0.25)
    attrs = _pixels(path)
    assert (attrs["SizeY"], attrs["SizeX"], attrs["Type"]) == ("3", "4", "float")
    assert float(attrs["PhysicalSizeX"]) == float(attrs["PhysicalSizeY"]) == 0.25
    assert attrs["PhysicalSizeXUnit"] == attrs["PhysicalSizeYUnit"] == "\u00b5m"
    assert read_pixel_size(path) == 0.25
    with tifffile.TiffFile(path) as tif:
        np.testing.assert_array_equal(tif.asarray(), data)
        assert tif.series[0].axes == "YX"
        page = tif.pages[0]
        assert page.tags["XResolution"].value == (40000, 1)  # 1e4 um per cm / 0.25 um
        assert page.tags["ResolutionUnit"].value == 3  # centimetre
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_ome_tiff_without_a_pixel_size_has_no_physical_size(tmp_path):
    path = write_ome_tiff(tmp_path / "m.ome.tif", np.eye(3, dtype=np.uint8))
    assert not any(key.startswith("PhysicalSize") for key in _pixels(path))
    assert read_pixel_size(path) is None
    np.testing.assert_array_equal(tifffile.imread(path), np.eye(3, dtype=np.uint8))


@pytest.mark.parametrize("array, size, match", [(np.zeros((2, 3, 3)), None, "one \\[Y, X\\] image"),
                                                (np.zeros((3, 3)), 0.0, "pixel size"),
                                                (np.zeros((3, 3)), float("nan"), "pixel size")])  # fmt: skip
def test_ome_tiff_refuses_bad_input(tmp_path, array, size, match):
    with pytest.raises(ValueError, match=match):
        write_ome_tiff(tmp_path / "x.ome.tif", array, pixel_size=size)
    assert not list(tmp_path.iterdir())


def test_write_prediction_files_and_mask_values(tmp_path):
    prob = np.array([[0.1, 0.5], [0.7, 0.9]], np.float32)
    files = write_prediction(tmp_path, "im", "axon", prob, threshold=0.5, pixel_size=2.0)
    assert {k: p.name for k, p in files.items()} == prediction_files("im", "axon") == {
        "prob": "im_axon_prob.ome.tif", "mask": "im_axon_mask.ome.tif",
        "prob_png": "im_axon_prob.png", "mask_png": "im_axon_mask.png",
    }  # fmt: skip
    np.testing.assert_array_equal(tifffile.imread(files["prob"]), prob)
    mask = tifffile.imread(files["mask"])
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, [[0, 0], [1, 1]])  # strictly above the threshold
    np.testing.assert_array_equal(np.asarray(Image.open(files["mask_png"])), [[0, 0], [255, 255]])
    np.testing.assert_array_equal(np.asarray(Image.open(files["prob_png"])), [[26, 128], [178, 229]])
    assert read_pixel_size(files["mask"]) == 2.0
    with pytest.raises(ValueError, match="unknown prediction format 'png'"):
        prediction_files("im", "axon", "png")


# --- jaxaxon predict end to end -----------------------------------------------------------------


@pytest.fixture(scope="module")
def images(small_cfg):
    """Three 64x64 uint16 images."""
    batch = jaxaxon.generate(jax.random.key(7), small_cfg, 3, 0)
    return [np.asarray(batch.image[i]).astype(np.uint16) for i in range(3)]


def test_predict_writes_ome_tiff_with_the_inputs_pixel_size(tiny_run, images, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "ome.ome.tif", images[0], ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 500.0, "PhysicalSizeXUnit": "nm"})  # fmt: skip
    tifffile.imwrite(src / "ij.tif", images[1], imagej=True, resolution=(1 / 0.8, 1 / 0.8), metadata={"unit": "um"})
    Image.fromarray(images[2].astype(np.uint8)).save(src / "plain.png")
    out = tmp_path / "pred"
    written = predict_folder(tiny_run[0], src, out, threshold=0.4)
    assert [p.name for p in written] == ["ij_axon_prob.ome.tif", "ome.ome_axon_prob.ome.tif", "plain_axon_prob.ome.tif"]
    expected_size = {"ij": pytest.approx(0.8, rel=1e-6), "ome.ome": pytest.approx(0.5), "plain": None}
    record = json.loads((out / "predictions.json").read_text())
    assert record["format"] == "tiff" and record["pixel_size_unit"] == "micrometer"
    model, rc = load_model(tiny_run[0])
    inputs = {"ij": images[1], "ome.ome": images[0], "plain": images[2].astype(np.uint8)}
    listed = set()
    for entry in record["files"]:
        name = entry["name"]
        assert entry["pixel_size"] == expected_size[name]
        for role in ("prob", "mask"):
            path = out / entry[role]
            listed.add(path.name)
            assert read_pixel_size(path) == expected_size[name]
            if expected_size[name] is None:
                assert "PhysicalSizeX" not in _pixels(path)
        listed.update((entry["prob_png"], entry["mask_png"]))
        # round trip: the file holds the in-memory map
        in_memory = probability_maps(model, rc, [inputs[name]])[0][..., 0]
        on_disk = tifffile.imread(out / entry["prob"])
        assert on_disk.dtype == np.float32
        np.testing.assert_array_equal(on_disk, in_memory)
        np.testing.assert_array_equal(tifffile.imread(out / entry["mask"]), in_memory > 0.4)
    assert listed | {"predictions.json"} == {p.name for p in out.iterdir()}


def test_pixel_size_flag_is_written_into_the_files(tiny_run, images, tmp_path, monkeypatch):
    import jaxaxon.train.inference as inference

    load = inference.load_model

    def known(path):  # --pixel-size needs a run of known pixel size
        model, rc = load(path)
        return model, rc.replace(generator=rc.generator.replace(pixel_size=0.4))

    monkeypatch.setattr(inference, "load_model", known)
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "ij.tif", images[1], imagej=True, resolution=(1 / 0.8, 1 / 0.8), metadata={"unit": "um"})
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(out),
                 "--pixel-size", "0.4"]) == 0  # fmt: skip
    assert read_pixel_size(out / "ij_axon_prob.ome.tif") == pytest.approx(0.4)  # the flag beats the file's 0.8
    assert read_pixel_size(out / "ij_axon_mask.ome.tif") == pytest.approx(0.4)


def test_predict_format_zarr_writes_valid_ome_zarr_that_reads_back(tiny_run, images, tmp_path):
    import zarr
    from ome_zarr_models.v05.image import Image as NgffImage
    from ome_zarr_models.v05.image_label import ImageLabel

    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "ij.tif", images[1], imagej=True, resolution=(1 / 0.8, 1 / 0.8), metadata={"unit": "um"})
    Image.fromarray(images[2].astype(np.uint8)).save(src / "plain.png")
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(out),
                 "--format", "zarr", "--threshold", "0.4"]) == 0  # fmt: skip
    record = json.loads((out / "predictions.json").read_text())
    assert record["format"] == "zarr"
    assert [(f["prob"], f["mask"]) for f in record["files"]] == [
        ("ij_axon.ome.zarr", "ij_axon.ome.zarr/labels/mask"), ("plain_axon.ome.zarr", "plain_axon.ome.zarr/labels/mask")
    ]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["predictions.json", "ij_axon.ome.zarr", "plain_axon.ome.zarr", "ij_axon_prob.png", "ij_axon_mask.png",
         "plain_axon_prob.png", "plain_axon_mask.png"]
    )  # fmt: skip
    model, rc = load_model(tiny_run[0])
    for name, image, size in (("ij", images[1], 0.8), ("plain", images[2].astype(np.uint8), None)):
        group = zarr.open_group(out / f"{name}_axon.ome.zarr", mode="r")
        scale = NgffImage.from_zarr(group).ome_attributes.multiscales[0].datasets[0].coordinateTransformations[0].scale
        ImageLabel.from_zarr(group["labels/mask"])
        assert scale == ([pytest.approx(size, rel=1e-6)] * 2 if size else [1.0, 1.0])
        in_memory = probability_maps(model, rc, [image])[0][..., 0]
        np.testing.assert_array_equal(group["0"][:], in_memory)
        np.testing.assert_array_equal(group["labels/mask/0"][:], in_memory > 0.4)
