"""The widget's computation: probability and mask layers from a network, at the resolved zoom."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaxon.eval.evaluate import probability_maps
from jaxaxon.eval.scale import ScaleError
from jaxaxon.napari.segment import layer_pixel_size, segment_layers


@pytest.mark.parametrize(
    "scale, unit, expected",
    [(0.5, "micrometer", 0.5), (500, "nanometer", 0.5), (0.002, "mm", 2.0), (2.0, "\u00b5m", 2.0),
     (1.0, "pixel", None), (1.0, None, None), (0.0, "um", None), (float("inf"), "um", None)],
)  # fmt: skip
def test_layer_pixel_size(scale, unit, expected):
    got = layer_pixel_size(scale, unit)
    assert got is None if expected is None else got == pytest.approx(expected)


def test_segment_layers_match_the_tiled_predictor(tiny_model, grey_image):
    model, rc = tiny_model
    spatial = {"scale": (0.3, 0.3), "translate": (5.0, 0.0)}
    layers = segment_layers(model, rc, grey_image, name="img", threshold=0.4, spatial=spatial)
    assert [(m["name"], kind) for _, m, kind in layers] == [("img axon probability", "image"), ("img axon mask", "labels")]
    (prob, prob_meta, _), (mask, mask_meta, _) = layers
    expected = probability_maps(model, rc, [grey_image])[0][..., 0]
    assert prob.shape == (40, 48) and prob.dtype == np.float32
    np.testing.assert_array_equal(prob, expected)
    np.testing.assert_array_equal(mask, (expected > 0.4).astype(np.uint8))
    assert prob_meta["scale"] == mask_meta["scale"] == (0.3, 0.3)
    assert prob_meta["translate"] == (5.0, 0.0)
    assert prob_meta["contrast_limits"] == (0.0, 1.0) and prob_meta["colormap"] == "green"
    assert mask_meta["colormap"] == {None: "green"}
    record = prob_meta["metadata"]["jaxaxon"]
    assert (record["zoom"], record["zoom_source"], record["threshold"]) == (1.0, "run", 0.4)


def test_segment_layers_predict_every_plane(tiny_model, grey_image):
    model, rc = tiny_model
    stack = np.stack([grey_image, grey_image[::-1]])
    (prob, _, _), _ = segment_layers(model, rc, stack)
    assert prob.shape == (2, 40, 48)
    np.testing.assert_array_equal(prob[1], probability_maps(model, rc, [grey_image[::-1]])[0][..., 0])


def test_segment_layers_zoom_precedence(tiny_model, grey_image):
    model, rc = tiny_model
    zoomed = segment_layers(model, rc, grey_image, zoom=0.5)
    assert zoomed[0][0].shape == (40, 48)  # resampled back to the image's grid
    assert zoomed[0][1]["metadata"]["jaxaxon"]["zoom_source"] == "flag"
    # the run's pixel size is unknown: the layer's is ignored, a user's is an error
    assert segment_layers(model, rc, grey_image, layer_pixel_size=0.8)[0][1]["metadata"]["jaxaxon"]["zoom"] == 1.0
    with pytest.raises(ScaleError, match="pixel size is unknown"):
        segment_layers(model, rc, grey_image, pixel_size=0.8)
    known = rc.replace(**{"generator.pixel_size": 0.4})
    record = segment_layers(model, known, grey_image, layer_pixel_size=0.2)[0][1]["metadata"]["jaxaxon"]
    assert (record["zoom"], record["zoom_source"], record["pixel_size"]) == (0.5, "metadata", 0.2)
    record = segment_layers(model, known, grey_image, layer_pixel_size=0.2, pixel_size=0.8)[0][1]["metadata"]["jaxaxon"]
    assert (record["zoom"], record["zoom_source"]) == (2.0, "flag")  # the user's pixel size wins


@pytest.mark.parametrize(
    "image, kwargs, message",
    [(np.zeros(5), {}, "expected an image"), (np.zeros((4, 4), bool), {}, "grey-value"),
     (np.zeros((8, 8)), {"threshold": 1.5}, "threshold"), (np.zeros((8, 8)), {"zoom": 2, "pixel_size": 1}, "either")],
)  # fmt: skip
def test_segment_layers_rejects(tiny_model, image, kwargs, message):
    model, rc = tiny_model
    with pytest.raises(ValueError, match=message):
        segment_layers(model, rc, image, **kwargs)
