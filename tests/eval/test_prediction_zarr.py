"""OME-Zarr predictions: NGFF 0.5 image + label images, validated with ome-zarr-models and
read with ome-zarr's reader."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from ome_zarr_models.v05.image import Image
from ome_zarr_models.v05.image_label import ImageLabel

from jaxaxon.eval.prediction_zarr import write_ome_zarr

PROB = np.array([[0.1, 0.6, 0.2], [0.9, 0.4, 0.7]], np.float32)
MASK = np.array([[0, 1, 0], [1, 0, 1]], np.uint8)


def test_image_and_label_with_a_pixel_size_validate_and_read_back(tmp_path):
    path = write_ome_zarr(tmp_path / "a_axon.ome.zarr", PROB, {"mask": MASK}, pixel_size=0.25,
                          name="a_axon_prob", classes={"mask": "axon"})  # fmt: skip
    group = zarr.open_group(path, mode="r")
    image = Image.from_zarr(group).ome_attributes.multiscales[0]
    assert image.name == "a_axon_prob"
    assert [(a.name, a.type, a.unit) for a in image.axes] == [("y", "space", "micrometer"), ("x", "space", "micrometer")]
    assert image.datasets[0].coordinateTransformations[0].scale == [0.25, 0.25]
    label = ImageLabel.from_zarr(group["labels/mask"]).ome_attributes
    assert label.image_label.source.image == "../../"
    assert [(p.label_value, p.name) for p in label.image_label.properties] == [(1, "axon")]
    assert group["0"].dtype == np.float32 and group["labels/mask/0"].dtype == np.uint8
    assert tuple(group["0"].metadata.dimension_names) == ("y", "x")
    np.testing.assert_array_equal(group["0"][:], PROB)
    np.testing.assert_array_equal(group["labels/mask/0"][:], MASK)
    nodes = list(Reader(parse_url(str(path)))())
    by_name = {n.metadata.get("name"): n for n in nodes if n.data}
    assert set(by_name) == {"a_axon_prob", "mask"}
    np.testing.assert_array_equal(np.asarray(by_name["mask"].data[0]), MASK)
    assert by_name["mask"].metadata["coordinateTransformations"][0] == [{"type": "scale", "scale": [0.25, 0.25]}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_axon.ome.zarr"]


def test_unknown_pixel_size_gives_unitless_axes_of_one_pixel_and_a_rewrite_replaces(tmp_path):
    path = tmp_path / "b.ome.zarr"
    write_ome_zarr(path, np.ones((4, 5), np.float32), {"mask": np.ones((4, 5), np.uint8)})
    write_ome_zarr(path, PROB, {"mask": MASK})  # a second write replaces the first whole
    attrs = json.loads((path / "zarr.json").read_text())["attributes"]["ome"]
    assert attrs["version"] == "0.5"
    assert attrs["multiscales"][0]["axes"] == [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    assert attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"] == [{"type": "scale", "scale": [1.0, 1.0]}]
    Image.from_zarr(zarr.open_group(path, mode="r"))
    np.testing.assert_array_equal(zarr.open_array(path / "0", mode="r")[:], PROB)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.ome.zarr"]


@pytest.mark.parametrize("image, labels, size, match", [
    (np.zeros((2, 2, 2), np.float32), {}, None, "one \\[Y, X\\] image"),
    (PROB, {"mask": MASK[:, :2]}, None, "label 'mask'"),
    (PROB, {"mask": MASK.astype(np.float32)}, None, "label 'mask'"),
    (PROB, {"mask": MASK}, -1.0, "pixel size"),
])  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_left(tmp_path, image, labels, size, match):
    with pytest.raises(ValueError, match=match):
        write_ome_zarr(tmp_path / "c.ome.zarr", image, labels, pixel_size=size)
    assert not list(tmp_path.iterdir())
