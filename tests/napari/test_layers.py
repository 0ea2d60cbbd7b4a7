"""Layer data tuples: spatial keywords from a pixel size, and the layers of one generated example."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaxon.napari.layers import example_layers, labels_layer, spatial_kwargs


def test_spatial_kwargs_known_and_unknown_pixel_size():
    assert spatial_kwargs(0.4, 2) == {"scale": (0.4, 0.4), "units": ("um", "um")}
    assert spatial_kwargs(0.25, 3, ("example", "y", "x")) == {
        "axis_labels": ("example", "y", "x"), "scale": (1.0, 0.25, 0.25), "units": ("pixel", "um", "um"),
    }  # fmt: skip
    assert spatial_kwargs(None, 2) == {}
    assert spatial_kwargs(0.0, 3) == {}


@pytest.mark.parametrize(
    "args, message",
    [((-1.0, 2), "pixel size"), ((float("nan"), 2), "pixel size"), ((0.4, 1), "at least 2 axes"),
     ((0.4, 2, ("y",)), "1 axis labels")],
)  # fmt: skip
def test_spatial_kwargs_rejects(args, message):
    with pytest.raises(ValueError, match=message):
        spatial_kwargs(*args)


def test_labels_layer_makes_booleans_integers():
    data, meta, kind = labels_layer(np.array([[True, False]]), "m", {})
    assert kind == "labels" and data.dtype == np.uint8 and data.tolist() == [[1, 0]]
    assert meta == {"name": "m", "opacity": 0.6}
    assert labels_layer(np.zeros((1, 1), np.uint8), "m", {}, colour="lime")[1]["colormap"] == {None: "lime"}


def test_example_layers_order_names_and_scale():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    mask = image > 5
    arrays = {"axon_masks": mask, "images": image, "unrelated": image}
    layers = example_layers(arrays, key="array", pixel_size=0.5, max_intensity=255, prefix="d: ", metadata={"k": 1})
    assert [(m["name"], kind) for _, m, kind in layers] == [("d: image", "image"), ("d: axon mask", "labels")]
    (img, img_meta, _), (lab, lab_meta, _) = layers
    assert img is image and img_meta["contrast_limits"] == (0.0, 255.0)
    assert img_meta["scale"] == lab_meta["scale"] == (0.5, 0.5)
    assert lab.dtype == np.uint8 and int(lab.sum()) == 6  # values 6..11
    assert lab_meta["colormap"] == {None: "lime"} and "colormap" not in img_meta
    assert img_meta["metadata"] == {"k": 1} and img_meta["visible"] is True


def test_example_layers_rejects():
    with pytest.raises(ValueError, match="key must be"):
        example_layers({}, key="name", pixel_size=None, max_intensity=1)
    with pytest.raises(ValueError, match="no image arrays"):
        example_layers({"x": np.zeros((2, 2))}, key="field", pixel_size=None, max_intensity=1)
