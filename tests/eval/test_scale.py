"""Input resampling at inference (`jaxaxon.eval.scale`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxaxon.config import GeneratorConfig
from jaxaxon.eval.scale import ScaleError, Zoom, input_zoom, resample, resample_back, resolve_zoom, zoomed_shape
from jaxaxon.train.config import RunConfig


def run(pixel_size: float = 0.0, image_scale: float = 1.0) -> RunConfig:
    return RunConfig(generator=GeneratorConfig(pixel_size=pixel_size, image_scale=image_scale))


KNOWN, UNKNOWN = run(0.4), run(0.0, image_scale=0.5)


def test_default_is_the_runs_image_scale():
    assert resolve_zoom(run()) == Zoom(1.0, "run")
    assert resolve_zoom(UNKNOWN) == Zoom(0.5, "run")


def test_scale_flag_wins():
    assert resolve_zoom(KNOWN, scale=0.5, file_pixel_size=0.8) == Zoom(0.5, "flag")
    assert input_zoom(UNKNOWN, scale=3) == 3.0


def test_pixel_size_over_the_runs():
    assert resolve_zoom(KNOWN, pixel_size=0.8, file_pixel_size=0.2) == Zoom(pytest.approx(2.0), "flag", 0.8)
    assert resolve_zoom(KNOWN, file_pixel_size=0.2) == Zoom(pytest.approx(0.5), "metadata", 0.2)


def test_metadata_is_ignored_for_a_run_of_unknown_pixel_size():
    assert resolve_zoom(UNKNOWN, file_pixel_size=0.2) == Zoom(0.5, "run")


def test_explicit_pixel_size_needs_a_known_run_pixel_size():
    with pytest.raises(ScaleError, match="unknown.*--scale"):
        input_zoom(UNKNOWN, pixel_size=0.2)


@pytest.mark.parametrize("kwargs", [dict(scale=0), dict(scale=-1), dict(scale=math.inf), dict(pixel_size=math.nan),
                                    dict(scale=True), dict(scale=1.0, pixel_size=0.4)])  # fmt: skip
def test_bad_values_are_refused(kwargs):
    with pytest.raises(ScaleError):
        input_zoom(KNOWN, **kwargs)


def test_resample_shapes_and_dtypes():
    image = np.random.default_rng(0).integers(0, 255, (50, 37)).astype(np.uint8)
    half = resample(image, 0.5)
    assert half.shape == (25, 19) and half.dtype == np.float32
    double = resample(image, 2.0)
    assert double.shape == (100, 74) and double.dtype == np.float32
    back = resample_back(np.stack([half, half / 255], -1), image.shape)
    assert back.shape == (50, 37, 2) and back.dtype == np.float32
    assert resample_back(half, (50, 37)).shape == (50, 37)
    assert zoomed_shape((3, 3), 0.01) == (1, 1)


def test_zoom_one_is_the_identity():
    image = np.random.default_rng(1).normal(size=(20, 30)).astype(np.float32)
    np.testing.assert_array_equal(resample(image, 1.0), image)
    probs = np.random.default_rng(2).uniform(size=(20, 30, 2)).astype(np.float32)
    np.testing.assert_array_equal(resample_back(probs, (20, 30)), probs)


def test_shrinking_is_antialiased_and_back_keeps_the_range():
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (40, 20))  # one-pixel columns
    half = resample(stripes, 0.5)
    assert np.allclose(half[2:-2, 2:-2], 0.5, atol=1e-5)  # averaged, not aliased to 0 or 1
    probs = np.random.default_rng(3).uniform(size=(10, 10, 1)).astype(np.float32)
    up = resample_back(probs, (25, 25))
    assert up.min() >= probs.min() and up.max() <= probs.max()


def test_huge_or_bad_zooms_are_refused():
    with pytest.raises(ScaleError, match="limit"):
        zoomed_shape((1000, 1000), 1000.0)
    with pytest.raises(ScaleError, match="zoom"):
        resample(np.zeros((4, 4)), 0.0)
    with pytest.raises(ScaleError, match="2-D"):
        resample(np.zeros((2, 4, 4)), 0.5)
