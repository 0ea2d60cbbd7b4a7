"""NGFF 0.5 metadata construction (`jaxaxon.data.ngff`), checked by hand and with ome-zarr-models."""

from __future__ import annotations

import pytest
from ome_zarr_models.v05.image import ImageAttrs
from ome_zarr_models.v05.image_label import ImageLabelAttrs
from ome_zarr_models.v05.labels import LabelsAttrs

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
