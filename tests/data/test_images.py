"""Reading images, labelled folders and volumes (jaxaxon.data.images)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from jaxaxon.data.images import (
    ImageDataError,
    iter_samples,
    load_samples,
    read_array,
    read_boxes,
    read_image,
    read_mask,
    read_pixel_size,
    scan_folder,
    slice_names,
    to_float32,
    validate_boxes,
)


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _folder(tmp_path, *, boxes=None):
    """images/ with a uint8 PNG, a uint16 PNG, a float32 TIFF and a float64 .npy, masks for all."""
    rng = np.random.default_rng(0)
    imgs = {
        "a": rng.integers(0, 256, (20, 30), dtype=np.uint8),
        "b": rng.integers(0, 65536, (17, 9), dtype=np.uint16),
        "c": rng.random((12, 12)).astype(np.float32) * 1000,
        "d": rng.random((8, 5)) - 0.5,
    }
    _png(tmp_path / "images/a.png", imgs["a"])
    _png(tmp_path / "images/b.png", imgs["b"])
    tifffile.imwrite(tmp_path / "images/c.tif", imgs["c"])
    np.save(tmp_path / "images/d.npy", imgs["d"])
    masks = {k: rng.random(v.shape) > 0.7 for k, v in imgs.items()}
    _png(tmp_path / "masks/a.png", masks["a"].astype(np.uint8) * 255)
    tifffile.imwrite(tmp_path / "masks/b.tiff", masks["b"].astype(np.uint16) * 7)
    np.save(tmp_path / "masks/c.npy", masks["c"])
    _png(tmp_path / "masks/d.png", masks["d"])  # mode "1"
    if boxes is not None:
        (tmp_path / "bouton_boxes.json").write_text(json.dumps(boxes))
    return imgs, masks


def test_labelled_folder_reads_every_format_unchanged(tmp_path):
    imgs, masks = _folder(tmp_path, boxes={"a": [[0, 0, 5, 6], [10, 20, 20, 30]], "c": []})
    samples = load_samples(tmp_path)
    assert [s.name for s in samples] == ["a", "b", "c", "d"]
    dtypes = {s.name: s.dtype for s in samples}
    assert dtypes == {"a": "uint8", "b": "uint16", "c": "float32", "d": "float64"}
    for s in samples:
        assert s.image.dtype == np.float32 and s.image.shape == imgs[s.name].shape
        np.testing.assert_allclose(s.image, imgs[s.name].astype(np.float32))
        assert s.mask.dtype == bool
        np.testing.assert_array_equal(s.mask, masks[s.name])
    by = {s.name: s for s in samples}
    np.testing.assert_array_equal(by["a"].boxes, [[0, 0, 5, 6], [10, 20, 20, 30]])
    assert by["a"].boxes.dtype == np.int64
    assert by["c"].boxes.shape == (0, 4)  # listed with no boutons: labelled, zero boxes
    assert by["b"].boxes is None  # not listed: not labelled for boutons


def test_folder_without_masks_and_plain_folder(tmp_path):
    _png(tmp_path / "lab/images/x.png", np.full((4, 6), 3, np.uint8))
    (s,) = load_samples(tmp_path / "lab")
    assert s.mask is None and s.boxes is None and s.shape == (4, 6)
    # a folder of loose images (for prediction)
    _png(tmp_path / "plain/p.png", np.zeros((3, 3), np.uint8))
    np.save(tmp_path / "plain/q.npy", np.ones((2, 5), np.float32))
    (tmp_path / "plain/._p.png").write_bytes(b"resource fork")  # hidden files are ignored
    assert [x.name for x in load_samples(tmp_path / "plain")] == ["p", "q"]
    # a single image file
    (one,) = load_samples(tmp_path / "plain/q.npy")
    assert one.shape == (2, 5) and one.name == "q"


def test_colour_rules(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    _png(tmp_path / "rgb_equal.png", np.stack([grey] * 3, -1))
    np.testing.assert_array_equal(read_array(tmp_path / "rgb_equal.png"), grey)
    green = np.zeros((3, 4, 3), np.uint8)
    green[..., 1] = grey
    _png(tmp_path / "green.png", green)
    np.testing.assert_array_equal(read_array(tmp_path / "green.png"), grey)
    rgba = np.concatenate([np.stack([grey] * 3, -1), np.full((3, 4, 1), 255, np.uint8)], -1)
    _png(tmp_path / "rgba.png", rgba)
    np.testing.assert_array_equal(read_array(tmp_path / "rgba.png"), grey)
    colour = np.stack([grey, grey[::-1], grey], -1)
    _png(tmp_path / "colour.png", colour)
    with pytest.raises(ImageDataError, match="colour image.*channels differ"):
        read_array(tmp_path / "colour.png")
    tifffile.imwrite(tmp_path / "planar.tif", np.stack([grey] * 3), photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_array(tmp_path / "planar.tif"), grey)
    tifffile.imwrite(tmp_path / "colour.tif", colour, photometric="rgb")
    with pytest.raises(ImageDataError, match="colour image"):
        read_array(tmp_path / "colour.tif")
    np.save(tmp_path / "squeeze.npy", grey[None, :, :, None])
    assert read_array(tmp_path / "squeeze.npy").shape == (3, 4)


@pytest.mark.parametrize(
    "arr, match",
    [
        (np.zeros((4, 4), bool), "dtype bool is not an image"),
        (np.zeros((4, 4), np.complex64), "unsupported dtype complex64"),
        (np.array([[np.nan, 1.0]]), "NaN or infinite"),
        (np.zeros((3, 4, 5), np.uint8), "3-D stack"),
        (np.zeros((0, 4), np.uint8), "empty"),
    ],
)
def test_bad_arrays_are_refused(tmp_path, arr, match):
    np.save(tmp_path / "x.npy", arr)
    with pytest.raises(ImageDataError, match=match):
        read_image(tmp_path / "x.npy")


def test_object_and_unknown_files_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([[None, 1]], dtype=object), allow_pickle=True)
    with pytest.raises(ImageDataError, match="without pickle"):
        read_image(tmp_path / "obj.npy")
    (tmp_path / "x.bmp").write_bytes(b"BM")
    with pytest.raises(ImageDataError, match="unsupported file type '.bmp'"):
        read_image(tmp_path / "x.bmp")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ImageDataError, match="cannot be read as an image"):
        read_image(tmp_path / "broken.png")
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 5, 5), np.uint8), photometric="minisblack")
    with pytest.raises(ImageDataError, match="3-D stack.*NAME.npz"):
        read_image(tmp_path / "stack.tif")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "m.jpg")
    with pytest.raises(ImageDataError, match="JPEG"):
        read_mask(tmp_path / "m.jpg")
    assert read_image(tmp_path / "m.jpg").shape == (4, 4)  # JPEG is fine for images


def test_size_mismatch_is_an_error(tmp_path):
    _png(tmp_path / "images/a.png", np.zeros((10, 12), np.uint8))
    _png(tmp_path / "masks/a.png", np.zeros((10, 11), np.uint8))
    with pytest.raises(ImageDataError, match="mask is 10x11 but its image .* is 10x12"):
        load_samples(tmp_path)


def test_folder_structure_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageDataError, match="no images found"):
        load_samples(tmp_path / "empty")
    with pytest.raises(ImageDataError, match="no such file or folder"):
        load_samples(tmp_path / "missing")
    # mask without image
    _png(tmp_path / "f1/images/a.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "f1/masks/a.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "f1/masks/b.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageDataError, match="masks without an image .*: b"):
        load_samples(tmp_path / "f1")
    # image without mask while masks/ exists
    _png(tmp_path / "f2/images/a.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "f2/images/b.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "f2/masks/a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageDataError, match="no mask for images b"):
        load_samples(tmp_path / "f2")
    # unsupported file in images/, duplicate stems
    _png(tmp_path / "f3/images/a.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "f3/images/notes.txt").write_text("hi")
    with pytest.raises(ImageDataError, match="unsupported image file type '.txt'"):
        load_samples(tmp_path / "f3")
    _png(tmp_path / "f4/images/a.png", np.zeros((4, 4), np.uint8))
    np.save(tmp_path / "f4/images/a.npy", np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageDataError, match="two image files named 'a'"):
        load_samples(tmp_path / "f4")


@pytest.mark.parametrize(
    "boxes, match",
    [
        ({"a": [[0, 0, 5, 13]]}, "outside the 10x12 image"),
        ({"a": [[-1, 0, 5, 5]]}, "outside the 10x12 image"),
        ({"a": [[5, 0, 5, 5]]}, "row1 > row0"),
        ({"a": [[0, 4, 5, 3]]}, "col1 > col0"),
        ({"a": [[0, 0, 5]]}, "expected \\[row0, col0, row1, col1\\]"),
        ({"a": [[0, 0, 5, 5.5]]}, "must be integers"),
        ({"zz": [[0, 0, 5, 5]]}, "match no image: zz"),
        ([[0, 0, 1, 1]], "expected an object"),
    ],
)
def test_bad_boxes(tmp_path, boxes, match):
    _png(tmp_path / "images/a.png", np.zeros((10, 12), np.uint8))
    (tmp_path / "bouton_boxes.json").write_text(json.dumps(boxes))
    with pytest.raises(ImageDataError, match=match):
        load_samples(tmp_path)


def test_malformed_json_and_integral_floats(tmp_path):
    (tmp_path / "b.json").write_text('{"a": [[0, 0, 1, 1]')
    with pytest.raises(ImageDataError, match="malformed JSON"):
        read_boxes(tmp_path / "b.json")
    (tmp_path / "c.json").write_text('{"a": [[0.0, 1, 2.0, 3]]}')
    np.testing.assert_array_equal(read_boxes(tmp_path / "c.json")["a"], [[0, 1, 2, 3]])
    np.testing.assert_array_equal(validate_boxes(np.zeros((0,)), (5, 5)), np.zeros((0, 4)))


def test_volume_files(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (3, 8, 9), dtype=np.uint8)
    mask = (rng.random((3, 8, 9)) > 0.5).astype(np.uint8)
    np.savez(tmp_path / "vol.npz", image=image, mask=mask)
    _png(tmp_path / "images/flat.png", np.zeros((5, 5), np.uint8))
    (tmp_path / "bouton_boxes.json").write_text(json.dumps({"vol_z001": [[0, 0, 2, 2]], "flat": []}))
    samples = load_samples(tmp_path)
    assert [s.name for s in samples] == ["flat", "vol_z000", "vol_z001", "vol_z002"]
    for z, s in enumerate(samples[1:]):
        assert (s.volume, s.z, s.dtype) == ("vol", z, "uint8")
        np.testing.assert_array_equal(s.image, image[z])
        np.testing.assert_array_equal(s.mask, mask[z] != 0)
    assert samples[2].boxes.tolist() == [[0, 0, 2, 2]] and samples[1].boxes is None
    # the volume file on its own
    assert len(load_samples(tmp_path / "vol.npz")) == 3
    # box for a slice the volume does not have
    (tmp_path / "bouton_boxes.json").write_text(json.dumps({"vol_z007": []}))
    with pytest.raises(ImageDataError, match="vol_z007"):
        load_samples(tmp_path)


def test_bad_volumes(tmp_path):
    np.savez(tmp_path / "a.npz", image=np.zeros((2, 4, 4), np.uint8), mask=np.zeros((2, 4, 5), np.uint8))
    with pytest.raises(ImageDataError, match="'mask' has shape"):
        load_samples(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", image=np.zeros((2, 4, 4), np.complex64))
    with pytest.raises(ImageDataError, match="unsupported dtype complex64"):
        load_samples(tmp_path / "b.npz")
    other = tmp_path / "other"
    other.mkdir()
    np.savez(other / "stats.npz", images=np.zeros((2, 4, 4)))
    _png(other / "images/x.png", np.zeros((4, 4), np.uint8))
    with pytest.warns(UserWarning, match="stats.npz: skipped, not a volume"):
        assert [s.name for s in load_samples(other)] == ["x"]


def test_iter_samples_checks_structure_before_reading(tmp_path):
    _png(tmp_path / "images/a.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "bouton_boxes.json").write_text(json.dumps({"typo": []}))
    it = iter_samples(tmp_path)
    with pytest.raises(ImageDataError, match="typo"):
        next(it)


def test_shared_real_bass2017(shared_real):
    with pytest.warns(UserWarning, match="mean_images.npz"):
        samples = load_samples(shared_real / "bass2017")
    assert len(samples) == 11
    assert all(s.shape == (512, 512) and s.dtype == "uint8" and s.mask is None for s in samples)
    assert sum(len(s.boxes) for s in samples) == 220
    assert {s.name: len(s.boxes) for s in samples}["04"] == 39


def test_shared_real_vesselnn(shared_real):
    samples = load_samples(shared_real / "vesselnn")
    assert len(samples) == 15 + 15 + 10
    assert all(s.shape == (512, 512) and s.mask is not None and s.boxes is None for s in samples)
    vols = {s.volume for s in samples}
    assert vols == {"santos2015_lowContrastVessels", "burgess2014_bbbDisruption", "burgess2014_noisySparseVessels"}
    fg = np.mean([s.mask.mean() for s in samples if s.volume == "burgess2014_noisySparseVessels"])
    assert abs(fg - 0.4205) < 0.01  # index.json's foreground fraction


# --------------------------------------------------------------------------- pixel size metadata


@pytest.mark.parametrize(
    "size, unit, expected", [(0.25, "µm", 0.25), (250.0, "nm", 0.25), (0.0003, "mm", 0.3), (0.5, "um", 0.5)]
)
def test_pixel_size_from_ome_tiff(tmp_path, size, unit, expected):
    path = tmp_path / "a.ome.tif"
    tifffile.imwrite(path, np.zeros((8, 9), np.uint16), ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": size, "PhysicalSizeXUnit": unit})  # fmt: skip
    assert read_pixel_size(path) == pytest.approx(expected)
    assert read_image(path).shape == (8, 9)


@pytest.mark.parametrize("unit, per_unit, expected", [("um", 0.3, 0.3), ("micron", 0.3, 0.3), ("mm", 0.0004, 0.4),
                                                      ("\\u00B5m", 0.2, 0.2)])  # fmt: skip
def test_pixel_size_from_imagej_tiff(tmp_path, unit, per_unit, expected):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.zeros((8, 9), np.uint8), imagej=True, resolution=(1 / per_unit, 1 / per_unit),
                     metadata={"unit": unit})  # fmt: skip
    assert read_pixel_size(path) == pytest.approx(expected, rel=1e-5)


def test_no_pixel_size_without_metadata(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((8, 9), np.uint8), resolution=(72, 72))  # a print resolution
    tifffile.imwrite(tmp_path / "ij.tif", np.zeros((8, 9), np.uint8), imagej=True)
    tifffile.imwrite(tmp_path / "odd.tif", np.zeros((8, 9), np.uint8), imagej=True, resolution=(2, 2),
                     metadata={"unit": "parsec"})  # fmt: skip
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    for name in ("plain.tif", "ij.tif", "odd.tif", "a.png", "broken.tif", "missing.tif"):
        assert read_pixel_size(tmp_path / name) is None, name


# --- every input accounted for, names unique, values kept finite -------------------------------


def test_images_and_volumes_of_one_folder_are_all_read(tmp_path):
    _png(tmp_path / "a.png", np.full((6, 6), 1, np.uint8))
    _png(tmp_path / "b.png", np.full((6, 6), 2, np.uint8))
    np.savez(tmp_path / "vol.npz", image=np.zeros((3, 6, 6), np.uint8))
    (tmp_path / "notes.txt").write_text("hi")
    _png(tmp_path / "c.bmp", np.zeros((6, 6), np.uint8))
    (tmp_path / "day2").mkdir()
    assert [s.name for s in load_samples(tmp_path)] == ["a", "b", "vol_z000", "vol_z001", "vol_z002"]
    scan = scan_folder(tmp_path)
    assert scan.depths == {tmp_path / "vol.npz": 3}
    assert scan.skipped == (
        "c.bmp (unsupported file type '.bmp')",
        "day2/ (a sub-folder; only images/ and masks/ are read)",
        "notes.txt (unsupported file type '.txt')",
    )


def test_names_shared_by_an_image_and_a_volume_slice_are_refused_before_reading(tmp_path):
    _png(tmp_path / "images/vol_z000.png", np.zeros((4, 4), np.uint8))
    np.savez(tmp_path / "vol.npz", image=np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(ImageDataError, match="images/vol_z000.png and slice 0 of vol.npz are both named 'vol_z000'"):
        scan_folder(tmp_path)
    with pytest.raises(ImageDataError, match="both named"):
        next(iter_samples(tmp_path))


def test_image_files_beside_images_folder_are_refused(tmp_path):
    _png(tmp_path / "images/a.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "b.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageDataError, match=r"also image files beside it \(b.png\)"):
        load_samples(tmp_path)


def test_masks_pair_with_the_image_files_of_the_folder(tmp_path):
    _png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "masks/a.png", np.full((4, 4), 255, np.uint8))
    (s,) = load_samples(tmp_path)
    assert s.mask.all()


def test_volume_depth_is_read_from_the_header(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", image=np.zeros((1001, 2, 2), np.uint8))
    np.savez(tmp_path / "flat.npz", image=np.zeros((3, 3), np.float32))
    (tmp_path / "bad.npz").write_bytes(b"PK not a zip")
    with pytest.raises(ImageDataError, match="bad.npz: cannot be read as a NumPy .npz volume"):
        scan_folder(tmp_path)
    (tmp_path / "bad.npz").unlink()
    scan = scan_folder(tmp_path)
    assert scan.depths == {tmp_path / "c.npz": 1001, tmp_path / "flat.npz": 1}
    assert slice_names("c", 1001)[-1] == "c_z1000" and slice_names("c", 3) == ["c_z000", "c_z001", "c_z002"]


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e30])
def test_values_beyond_the_safe_range_are_scaled_by_a_power_of_two(tmp_path, scale):
    rng = np.random.default_rng(0)
    base = rng.random((5, 7))
    np.save(tmp_path / "x.npy", base * scale)
    (s,) = load_samples(tmp_path / "x.npy")
    assert np.all(np.isfinite(s.image)) and s.image.dtype == np.float32 and s.exponent != 0
    np.testing.assert_allclose(s.image, base * scale * 2.0**s.exponent, rtol=1e-6)
    assert 0.5 <= np.abs(s.image).max() < 1
    np.savez(tmp_path / "v.npz", image=np.stack([base * scale, base]))
    first, second = load_samples(tmp_path / "v.npz")
    assert first.exponent == s.exponent and second.exponent == 0


def test_to_float32_keeps_ordinary_values_and_refuses_non_finite():
    x = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    out, exponent = to_float32(x)
    assert exponent == 0 and out.dtype == np.float32
    np.testing.assert_array_equal(out, x)
    assert to_float32(np.zeros((2, 2)))[1] == 0
    assert to_float32(np.full((2, 2), 2.0**40))[1] == 0 and to_float32(np.full((2, 2), 2.0**41))[1] == -42
    for bad in (np.nan, np.inf):
        with pytest.raises(ImageDataError, match="img: contains NaN or infinite values"):
            to_float32(np.array([[1.0, bad]]), "img")
