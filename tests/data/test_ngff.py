"""NGFF 0.5 metadata construction (`jaxaxon.data.ngff`), checked by hand and with ome-zarr-models."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from ome_zarr_models.v05.image import Image, ImageAttrs
from ome_zarr_models.v05.image_label import ImageLabelAttrs
from ome_zarr_models.v05.labels import LabelsAttrs

from jaxaxon.data import open_dataset, write_dataset
from jaxaxon.data.layout import build_attributes, derive_specs, ngff_groups
from jaxaxon.data.ngff import (
    Axis,
    axis_scale,
    check_axes,
    image_axes,
    label_attrs,
    labels_group_attrs,
    multiscales_attrs,
    ome_attrs,
)
from jaxaxon.synth.image import example_keys


def test_image_axes_of_a_dataset_with_and_without_pixel_size():
    axes = image_axes(("n", "y", "x"), pixel_size=0.4)
    assert [a.to_json() for a in axes] == [
        {"name": "n"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    assert axis_scale(axes, 0.4) == (1.0, 0.4, 0.4)
    unknown = image_axes(("n", "y", "x"), pixel_size=0.0)
    assert [a.to_json() for a in unknown][1] == {"name": "y", "type": "space"}
    assert axis_scale(unknown, 0.0) == (1.0, 1.0, 1.0)
    series = image_axes(("t", "n", "y", "x"), pixel_size=2.0)
    assert [a.type for a in series] == ["time", None, "space", "space"]
    assert axis_scale(series, 2.0, time_step=5.0) == (5.0, 1.0, 2.0, 2.0)


def test_multiscales_dict_and_ome_wrapper():
    axes = image_axes(("n", "y", "x"), pixel_size=0.5)
    attrs = ome_attrs(multiscales_attrs("images", axes, axis_scale(axes, 0.5), path="images"))
    assert attrs == {
        "ome": {
            "version": "0.5",
            "multiscales": [
                {
                    "name": "images",
                    "axes": [
                        {"name": "n"},
                        {"name": "y", "type": "space", "unit": "micrometer"},
                        {"name": "x", "type": "space", "unit": "micrometer"},
                    ],
                    "datasets": [
                        {"path": "images", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5, 0.5]}]}
                    ],
                }
            ],
        }
    }
    model = ImageAttrs.model_validate(attrs["ome"])
    assert list(model.multiscales[0].datasets[0].coordinateTransformations[0].scale) == [1.0, 0.5, 0.5]


def test_translation_and_labels_validate_with_ome_zarr_models():
    axes = image_axes(("y", "x"), pixel_size=1.5)
    ms = multiscales_attrs("a", axes, (1.5, 1.5), translation=(3.0, 0.0))
    assert ms["multiscales"][0]["datasets"][0]["coordinateTransformations"][1] == {
        "type": "translation",
        "translation": [3.0, 0.0],
    }
    ImageAttrs.model_validate(ome_attrs(ms)["ome"])
    assert labels_group_attrs(["axon_masks", "cell_masks"]) == {"labels": ["axon_masks", "cell_masks"]}
    LabelsAttrs.model_validate(ome_attrs(labels_group_attrs(["axon_masks"]))["ome"])
    lab = label_attrs(
        "axon_masks", axes, (1.5, 1.5), colors={1: (255, 0, 0, 255)}, properties={1: {"name": "axon"}}
    )
    assert lab["image-label"] == {
        "colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}],
        "properties": [{"label-value": 1, "name": "axon"}],
        "source": {"image": "../../"},
    }
    model = ImageLabelAttrs.model_validate(ome_attrs(lab)["ome"])
    assert model.image_label.source.image == "../../"


@pytest.mark.parametrize(
    "axes, message",
    [
        ([Axis("x", "space")], "2 to 5 axes"),
        ([Axis("y", "space"), Axis("y", "space")], "unique"),
        ([Axis("y", "space"), Axis("n"), Axis("x", "space")], "space axes, last"),
        ([Axis("n"), Axis("t", "time"), Axis("y", "space"), Axis("x", "space")], "time axis, first"),
        ([Axis("n"), Axis("m", "example"), Axis("y", "space"), Axis("x", "space")], "one axis that is not"),
        ([Axis("c", "channel"), Axis("d", "channel"), Axis("y", "space"), Axis("x", "space")], "one channel"),
    ],
)
def test_axis_rules(axes, message):
    with pytest.raises(ValueError, match=message):
        check_axes(axes)


def test_bad_values_are_refused():
    axes = image_axes(("y", "x"))
    with pytest.raises(ValueError, match="2 entries for 2 axes|entries for"):
        multiscales_attrs("a", axes, (1.0,))
    with pytest.raises(ValueError, match="positive and finite"):
        multiscales_attrs("a", axes, (1.0, 0.0))
    with pytest.raises(ValueError, match="RGBA"):
        label_attrs("a", axes, (1.0, 1.0), colors={1: (1, 2, 3)})
    with pytest.raises(ValueError, match="same label values"):
        label_attrs("a", axes, (1.0, 1.0), colors={1: (1, 2, 3, 4)}, properties={2: {}})
    with pytest.raises(ValueError, match="unique"):
        labels_group_attrs(["a", "a"])
    with pytest.raises(ValueError, match="given twice"):
        ome_attrs({"labels": ["a"]}, {"labels": ["b"]})
    with pytest.raises(ValueError, match="axis name"):
        Axis("")
    assert Axis.from_json({"name": "t", "type": "time", "unit": "second"}) == Axis("t", "time", "second")


# --- written datasets are OME-Zarr ----------------------------------------------------------------


@jax.jit
def _fake_one(key):
    image = jnp.floor(jax.random.uniform(key, (32, 32)) * 256)
    return dict(
        image=image,
        axon_mask=image > 128,
        bouton_mask=image > 240,
        clean=jnp.floor(image / 2),
        bouton_label=jnp.where(image > 240, 3.0, 0.0),
        cell_mask=image < 8,
        shift=jax.random.randint(key, (2,), -5, 5),
    )


def fake_images(key, config, batch_size, start_index=0):
    """A cheap stand-in for `jaxaxon.generate`: ``[B, 32, 32]`` images, masks and labels."""
    return jax.vmap(_fake_one)(example_keys(key, batch_size, start_index))


@pytest.fixture(scope="module")
def sized_dataset(small_cfg, tmp_path_factory) -> Path:
    """A 4-image dataset whose generator config knows its pixel size (0.4 um)."""
    path = tmp_path_factory.mktemp("ngff") / "sized.zarr"
    write_dataset(path, small_cfg.replace(pixel_size=0.4), 4, seed=2, batch_size=2, generator=fake_images)
    return path


LABELS = ["axon_masks", "bouton_masks", "bouton_labels", "cell_masks"]


def test_dataset_validates_with_ome_zarr_models(reference_dataset, small_cfg):
    assert small_cfg.pixel_size == 0  # unknown: scale 1, no unit
    image = Image.from_zarr(zarr.open_group(reference_dataset, mode="r"))
    ms = image.ome_attributes.multiscales[0]
    assert [a.name for a in ms.axes] == ["n", "y", "x"] and [a.unit for a in ms.axes] == [None] * 3
    assert ms.datasets[0].path == "images" and list(ms.datasets[0].coordinateTransformations[0].scale) == [1, 1, 1]
    assert image.labels.attributes.ome.labels == LABELS
    label = image.labels.get_image_labels_group("axon_masks").ome_attributes
    assert label.image_label.colors[0].label_value == 1 and label.image_label.source.image == "../../"
    clean = Image.from_zarr(zarr.open_group(reference_dataset / "clean_images", mode="r"))
    assert clean.ome_attributes.multiscales[0].datasets[0].path == "0"


def test_ome_zarr_reader_opens_images_and_labels_with_the_pixel_size(sized_dataset):
    ds = open_dataset(sized_dataset)
    want = ds[:]
    Image.from_zarr(zarr.open_group(sized_dataset, mode="r"))
    nodes = {Path(str(n.zarr.path)).name if n.zarr.path else "": n for n in Reader(parse_url(str(sized_dataset)))()}
    root = nodes[sized_dataset.name]
    assert root.metadata["name"] == "images"
    assert root.metadata["coordinateTransformations"] == [[{"type": "scale", "scale": [1.0, 0.4, 0.4]}]]
    assert [a.get("unit") for a in root.metadata["axes"]] == [None, "micrometer", "micrometer"]
    np.testing.assert_array_equal(np.asarray(root.data[0]), want["images"])
    for name in LABELS:
        node = nodes[name]
        assert node.metadata["coordinateTransformations"] == [[{"type": "scale", "scale": [1.0, 0.4, 0.4]}]]
        np.testing.assert_array_equal(np.asarray(node.data[0]), want[name], err_msg=name)
    assert want["bouton_labels"].max() == 3 and want["axon_masks"].max() == 1


def test_series_dataset_is_ome_zarr_with_the_time_axis_first(series_dataset):
    image = Image.from_zarr(zarr.open_group(series_dataset, mode="r"))
    axes = image.ome_attributes.multiscales[0].axes
    assert [(a.name, a.type) for a in axes] == [("t", "time"), ("n", None), ("y", "space"), ("x", "space")]
    assert image.labels.attributes.ome.labels == LABELS
    ds = open_dataset(series_dataset)
    node = next(iter(Reader(parse_url(str(series_dataset)))()))
    np.testing.assert_array_equal(np.moveaxis(np.asarray(node.data[0]), 0, 1), ds[:]["images"])  # [T, N] on disk


def test_placement_of_arrays_by_format_and_dimensions(small_cfg):
    outputs = {"image": ((8, 8), np.float32), "axon_mask": ((8, 8), bool), "clean": ((8, 8), np.float32)}
    v3 = {s.name: (s.path, s.n_axis) for s in derive_specs({**outputs, "gap": ((3,), bool)}, small_cfg)}
    assert v3 == {
        "images": ("images", 0),
        "axon_masks": ("labels/axon_masks/0", 0),
        "clean_images": ("clean_images/0", 0),
        "gap": ("metadata/gap", 0),
    }
    v2 = {s.name: s.path for s in derive_specs(outputs, small_cfg, format_version=2)}
    assert v2 == {"images": "images", "axon_masks": "axon_masks", "clean_images": "clean_images"}
    series = {s.name: (s.path, s.stored_dims) for s in derive_specs({"image": ((3, 8, 8), np.float32)}, small_cfg)}
    assert series == {"images": ("images", ("t", "n", "y", "x"))}
    # 4 per-example dimensions (d1..d4) make no NGFF axes: plain arrays, no NGFF groups
    odd = derive_specs({"image": ((2, 2, 2, 2), np.float32), "axon_mask": ((2, 2, 2, 2), bool)}, small_cfg)
    assert [(s.path, s.n_axis) for s in odd] == [("images", 0), ("axon_masks", 0)]
    attrs = build_attributes(
        kind="images", generator="g", config=small_cfg, seed=0, num_examples=2, chunk_size=1, specs=odd
    )
    assert ngff_groups(attrs) == {}
    attrs = build_attributes(
        kind="images", generator="g", config=small_cfg.replace(pixel_size=0.5), seed=0, num_examples=2,
        chunk_size=1, specs=derive_specs(outputs, small_cfg),
    )  # fmt: skip
    groups = ngff_groups(attrs)
    assert sorted(groups) == ["", "clean_images", "labels", "labels/axon_masks"]
    assert groups["labels"] == {"ome": {"version": "0.5", "labels": ["axon_masks"]}}
    assert groups[""]["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"] == [1, 0.5, 0.5]
