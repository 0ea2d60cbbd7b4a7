"""Physical scale of `GeneratorConfig`: `rescaled`, the presets' pixel size and their conversion."""

from __future__ import annotations

import dataclasses
import math

import pytest

from jaxaxon.config import LENGTH_FIELDS, PRESET_PIXEL_SIZE, PRESETS, ConfigError, GeneratorConfig

BASE = GeneratorConfig(
    pixel_size=0.5, image_scale=1.0, psf_sigma=(0.5, 2.0), background_scale=(4.0, 32.0), MinRadius=3, MaxRadius=9
)


def test_length_fields_are_the_marked_ones():
    marked = {f.name for f in dataclasses.fields(GeneratorConfig) if f.metadata.get("length")}
    assert set(LENGTH_FIELDS) == marked
    expected = {"rowshift", "MinThickness", "psf_sigma", "stack_depth", "sigma_noise_bouton", "sigma_noise_circle"}
    assert expected <= marked
    assert not {"width", "height", "NSplinePoints", "MaxGapSize", "bouton_size", "pixel_size"} & marked


def test_rescaled_multiplies_every_length():
    out = BASE.rescaled(2.0)
    for name in LENGTH_FIELDS:
        old, new = getattr(BASE, name), getattr(out, name)
        if isinstance(old, tuple):
            assert new == pytest.approx(tuple(2.0 * x for x in old)), name
        else:
            assert new == pytest.approx(2.0 * old), name
    assert out.width == BASE.width and out.height == BASE.height and out.NSplinePoints == BASE.NSplinePoints
    assert out.pixel_size == pytest.approx(0.25) and out.image_scale == pytest.approx(2.0)


def test_rescaled_rounds_integers_and_keeps_them_at_their_lower_bound():
    out = BASE.rescaled(0.5)
    assert (out.MinRadius, out.MaxRadius, out.rowshift) == (2, 5, 10)  # 1.5 -> 2, 4.5 -> 5: half up
    assert all(isinstance(getattr(out, k), int) for k in ("MinRadius", "MaxRadius", "rowshift", "colshift"))
    tiny = BASE.rescaled(0.1)
    assert tiny.MinRadius == 1 and tiny.MaxRadius == 1 and tiny.rowshift == 2  # 0.3 -> 1 (>= 1), 0.9 -> 1
    assert tiny.MaxThickness == pytest.approx(0.3)


def test_rescaled_keeps_an_unknown_pixel_size_unknown():
    out = GeneratorConfig().rescaled(2.0)
    assert out.pixel_size == 0.0 and out.image_scale == 2.0


@pytest.mark.parametrize("factor", [2.0, 3.0, 0.7])
def test_rescaled_round_trip_within_rounding(factor):
    back = BASE.rescaled(factor).rescaled(1.0 / factor)
    for f in dataclasses.fields(GeneratorConfig):
        old, new = getattr(BASE, f.name), getattr(back, f.name)
        if f.name in LENGTH_FIELDS and isinstance(old, int):
            assert abs(new - old) <= math.ceil(max(factor, 1 / factor)), f.name
        elif isinstance(old, (float, tuple)):
            assert new == pytest.approx(old), f.name
        else:
            assert new == old, f.name
    assert BASE.rescaled(2.0).rescaled(0.5) == BASE  # exact in binary for these values


def test_rescaled_by_one_is_the_same_config():
    assert BASE.rescaled(1.0) == BASE


@pytest.mark.parametrize("factor", [0, -1.0, math.inf, math.nan, True, "2"])
def test_rescaled_refuses_bad_factors(factor):
    with pytest.raises(ConfigError, match="rescaled: the factor"):
        BASE.rescaled(factor)


def test_rescaled_too_large_gives_the_usual_error():
    with pytest.raises(ConfigError, match="MaxRadius: 140 is too large"):
        GeneratorConfig().rescaled(7.0)


def test_rescaled_refuses_a_user_kernel(tmp_path):
    import numpy as np

    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    cfg = GeneratorConfig(psf_kernel=str(tmp_path / "k.npy"))
    with pytest.raises(ConfigError, match="psf_kernel"):
        cfg.rescaled(2.0)
    assert cfg.rescaled(1.0) == cfg


def test_presets_declare_their_nominal_pixel_size():
    assert GeneratorConfig.from_preset("original") == GeneratorConfig()
    assert GeneratorConfig.from_preset("original").pixel_size == 0.0
    for name in ("realistic", "randomised"):
        cfg = GeneratorConfig.from_preset(name)
        assert cfg.pixel_size == PRESET_PIXEL_SIZE and cfg.image_scale == 1.0
        # axon FWHM ~1 um, bouton diameters (2 * (floor(thickness) + 1) px) in 1.5-3.5 um
        assert 0.8 <= 2.3548 * cfg.sigma_spread * cfg.pixel_size <= 1.2
        lo, hi = 2 * (math.floor(cfg.MinThickness) + 1), 2 * (math.floor(cfg.MaxThickness) + 1)
        assert 1.5 <= lo * cfg.pixel_size and hi * cfg.pixel_size <= 3.5


@pytest.mark.parametrize("name", ["realistic", "randomised"])
def test_preset_converted_to_a_pixel_size(name):
    base = GeneratorConfig.from_preset(name)
    out = GeneratorConfig.from_dict({"preset": name, "pixel_size": 0.2})
    assert out == base.rescaled(2.0).replace(image_scale=base.image_scale)
    assert out.pixel_size == 0.2 and out.image_scale == 1.0
    assert out.MaxThickness == pytest.approx(2 * base.MaxThickness)
    assert out.sigma_spread == pytest.approx(2 * base.sigma_spread)  # a default the preset keeps


def test_preset_conversion_then_the_files_own_keys():
    out = GeneratorConfig.from_dict({"preset": "realistic", "pixel_size": 0.8, "MaxRadius": 7, "width": 128})
    assert out.MaxRadius == 7 and out.width == 128
    assert out.MinRadius == 3 and out.psf_sigma == pytest.approx((0.55, 0.55))


def test_preset_at_its_own_pixel_size_or_without_one_is_unchanged():
    base = GeneratorConfig.from_preset("realistic")
    assert GeneratorConfig.from_dict({"preset": "realistic", "pixel_size": PRESET_PIXEL_SIZE}) == base
    assert GeneratorConfig.from_dict({"preset": "realistic", "pixel_size": 0}) == base.replace(pixel_size=0.0)
    assert GeneratorConfig.from_dict({"preset": "original", "pixel_size": 0.2}) == GeneratorConfig(pixel_size=0.2)


def test_preset_conversion_errors_name_the_conversion():
    with pytest.raises(ConfigError, match="preset 'realistic' converted to pixel_size 0.05: MaxRadius"):
        GeneratorConfig.from_dict({"preset": "realistic", "pixel_size": 0.05})
    with pytest.raises(ConfigError, match="pixel_size"):
        GeneratorConfig.from_dict({"preset": "realistic", "pixel_size": -1})


def test_preset_outputs_do_not_depend_on_the_declared_pixel_size():
    """The generator never reads pixel_size or image_scale: a preset's images are unchanged."""
    import jax
    import numpy as np

    import jaxaxon

    small = dict(width=64, height=64, NSplinePoints=60, rowshift=6, colshift=6, MaxRadius=12)
    cfg = GeneratorConfig.from_preset("realistic", **small)
    unknown = cfg.replace(pixel_size=0.0)
    a = jaxaxon.generate(jax.random.key(3), cfg, 2, 0)
    b = jaxaxon.generate(jax.random.key(3), unknown, 2, 0)
    np.testing.assert_array_equal(np.asarray(a.image), np.asarray(b.image))
    np.testing.assert_array_equal(np.asarray(a.axon_mask), np.asarray(b.axon_mask))
    assert PRESETS["original"] == {}


def test_rescaled_pooled_scales_the_photon_budget_of_a_coarser_grid():
    noisy = BASE.replace(photons=(10.0, 20.0), dark_counts=(0.1, 0.2), read_noise=(1.0, 2.0))
    pooled = noisy.rescaled(0.5, pooled=True)
    assert pooled.photons == pytest.approx((40.0, 80.0)) and pooled.dark_counts == pytest.approx((0.4, 0.8))
    assert pooled.read_noise == pytest.approx((2.0, 4.0))
    assert pooled.replace(photons=noisy.photons, dark_counts=noisy.dark_counts, read_noise=noisy.read_noise) == (
        noisy.rescaled(0.5)
    )
    for same in (noisy.rescaled(0.5), noisy.rescaled(2.0, pooled=True)):  # kept: same dwell time, or enlarged
        assert (same.photons, same.dark_counts, same.read_noise) == (noisy.photons, noisy.dark_counts, noisy.read_noise)


def test_rescaled_pooled_caps_the_photons_at_their_bound():
    bright = BASE.replace(photons=(5e5, 9e5))
    assert bright.rescaled(0.1, pooled=True).photons == (1e6, 1e6)  # x100, capped: no error
