"""The training presets: the `real` preset's scale handling and head choice."""

import math

import numpy as np
import pytest

from jaxaxon.config import GeneratorConfig
from jaxaxon.train import RunConfig, get_preset, preset_names
from jaxaxon.train.config import RunConfigError, _ridge_scale, apparent_axon_sigma, training_width
from jaxaxon.train.presets import with_generator


def test_every_preset_builds():
    for name in preset_names():
        assert get_preset(name).preset == name


def test_real_preset_rescales_the_generator_to_its_axon_width():
    rc = get_preset("real")
    assert math.isclose(apparent_axon_sigma(rc.generator), rc.axon_width, rel_tol=1e-6)
    base = GeneratorConfig.from_preset("realistic")
    factor = rc.axon_width / apparent_axon_sigma(base)
    assert math.isclose(rc.generator.image_scale, base.image_scale * factor, rel_tol=1e-6)
    assert math.isclose(rc.generator.MaxThickness, base.MaxThickness * factor, rel_tol=1e-6)


def test_real_preset_with_a_calibrated_file_records_the_factor():
    wide = GeneratorConfig.from_preset("realistic").replace(
        sigma_spread=3.0, psf_sigma=(2.0, 2.0), MinThickness=20.0, MaxThickness=24.0, SegmentationThreshold=6.0
    )
    rc = with_generator(get_preset("real"), wide)
    factor = rc.axon_width / math.hypot(3.0, 2.0)  # branches far thicker than their profile: an uncut Gaussian
    assert math.isclose(rc.generator.image_scale, factor, rel_tol=1e-4)
    assert math.isclose(apparent_axon_sigma(rc.generator), rc.axon_width, rel_tol=1e-6)
    assert rc.model.heads == ("axon", "bouton")


def test_real_preset_pools_the_photons_when_it_shrinks_the_images():
    """Wide tubes are shrunk to the network's axon width; each training pixel then stands for
    1 / factor**2 recorded pixels, as in the resampled real images (`GeneratorConfig.rescaled`)."""
    wide = GeneratorConfig.from_preset("realistic").replace(
        sigma_spread=3.0, psf_sigma=(2.0, 2.0), MinThickness=20.0, MaxThickness=24.0, SegmentationThreshold=6.0
    )
    pooled = with_generator(get_preset("real"), wide).generator
    factor = pooled.image_scale
    assert factor < 0.5
    assert pooled.photons == pytest.approx(tuple(p / factor**2 for p in wide.photons), rel=1e-6)
    assert pooled.read_noise == pytest.approx(tuple(r / factor for r in wide.read_noise), rel=1e-6)


def test_rescaling_is_not_repeated_when_a_stored_config_is_read_back():
    rc = with_generator(get_preset("real"), GeneratorConfig.from_preset("realistic").replace(sigma_spread=2.5))
    again = RunConfig.from_dict(rc.to_dict())
    assert again.generator == rc.generator


def test_real_preset_drops_the_bouton_head_for_files_without_boutons():
    no_boutons = GeneratorConfig.from_preset("realistic").replace(MinNbBouton=0, MaxNbBouton=0)
    assert with_generator(get_preset("real"), no_boutons).model.heads == ("axon",)
    kept = with_generator(get_preset("real"), no_boutons, heads_given=True)
    assert kept.model.heads == ("axon", "bouton")
    assert with_generator(get_preset("quick"), no_boutons).model.heads == get_preset("quick").model.heads


def test_other_presets_keep_their_scale():
    assert get_preset("quick").axon_width == 0
    assert get_preset("quick").generator.image_scale == 1.0


def test_an_axon_width_the_generator_cannot_reach_is_a_clear_error():
    with pytest.raises(RunConfigError, match="axon_width"):
        get_preset("real").replace(axon_width=60.0)


def _ridge_scale_by_convolution(sigma: float, halfwidth: float, psf: float) -> float:
    """The same peak found by brute force: the cut profile sampled finely, smoothed numerically."""
    from scipy.ndimage import gaussian_filter1d

    dx = 0.01
    x = np.arange(-60, 60 + dx, dx)
    profile = np.where(np.abs(x) <= halfwidth, np.exp(-(x**2) / (2 * sigma**2)), 0.0)
    scales = np.exp(np.linspace(np.log(0.2), np.log(20), 300))
    response = [s**1.5 * abs(gaussian_filter1d(profile, math.hypot(s, psf) / dx, order=2)[len(x) // 2]) for s in scales]
    return float(scales[int(np.argmax(response))])


@pytest.mark.parametrize(
    "sigma, halfwidth, psf", [(1.4, 2.25, 0.7), (11.0, 10.2, 0.7), (1.0, 1.75, 1.1), (2.0, 100.0, 0.0)]
)
def test_ridge_scale_matches_a_numerical_ridge_detector(sigma, halfwidth, psf):
    assert math.isclose(_ridge_scale(sigma, halfwidth, psf), _ridge_scale_by_convolution(sigma, halfwidth, psf), rel_tol=0.02)


def test_ridge_scale_limits_and_scaling():
    assert math.isclose(_ridge_scale(1.5, 1e6, 0.0), 1.5, rel_tol=1e-4)  # uncut Gaussian line
    assert math.isclose(_ridge_scale(3.0, 1e6, 2.0), math.hypot(3.0, 2.0), rel_tol=1e-4)
    assert math.isclose(_ridge_scale(1e5, 10.0, 0.0), math.sqrt(2 / 3) * 10.0, rel_tol=1e-3)  # flat bar
    base = _ridge_scale(1.4, 2.25, 0.7)
    assert math.isclose(_ridge_scale(1.4 * 1.7, 2.25 * 1.7, 0.7 * 1.7), 1.7 * base, rel_tol=1e-9)
    assert _ridge_scale(1.4, 1.0, 0.7) < base < _ridge_scale(1.4, 4.0, 0.7)  # thicker branches look wider


def test_flat_tubes_are_scaled_by_their_thickness_not_their_profile():
    vessels = GeneratorConfig.from_preset("realistic").replace(
        sigma_spread=11.0, MinThickness=6.0, MaxThickness=19.0, SegmentationThreshold=10.0
    )
    width = apparent_axon_sigma(vessels)
    assert 0.55 * 12.5 < width < 0.85 * 12.5 < math.hypot(11.0, 1.1)
    assert training_width(vessels) == width  # the thinnest tube is more than half as wide
    rc = with_generator(get_preset("real"), vessels)
    assert math.isclose(apparent_axon_sigma(rc.generator), rc.axon_width, rel_tol=1e-6)
    assert RunConfig.from_dict(rc.to_dict()).generator == rc.generator


def test_tubes_of_widely_varying_width_keep_the_thinnest_resolved():
    """Flat tubes from 1.3 to 19 px half-width (calibrated vessels): the median tube alone would
    shrink the thinnest below half the axon width; the factor is set by the thinnest instead."""
    vessels = GeneratorConfig.from_preset("realistic").replace(
        sigma_spread=11.0, MinThickness=1.3, MaxThickness=19.0, SegmentationThreshold=10.0
    )
    thinnest = _ridge_scale(11.0, 1.3, 1.1)
    assert training_width(vessels) == pytest.approx(2 * thinnest)
    assert 2 * thinnest < apparent_axon_sigma(vessels)
    rc = with_generator(get_preset("real"), vessels)
    g = rc.generator
    thinnest_after = _ridge_scale(g.sigma_spread, g.MinThickness, sum(g.psf_sigma) / 2)
    assert math.isclose(thinnest_after, rc.axon_width / 2, rel_tol=1e-6)
    assert apparent_axon_sigma(rc.generator) > rc.axon_width
    assert RunConfig.from_dict(rc.to_dict()).generator == rc.generator  # the stored config is not rescaled again
