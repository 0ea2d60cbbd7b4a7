"""The training presets: the `real` preset's scale handling and head choice."""

import math

import pytest

from jaxaxon.config import GeneratorConfig
from jaxaxon.train import RunConfig, get_preset, preset_names
from jaxaxon.train.config import RunConfigError, apparent_axon_sigma
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
    wide = GeneratorConfig.from_preset("realistic").replace(sigma_spread=3.0, psf_sigma=(2.0, 2.0), MaxThickness=6.0)
    rc = with_generator(get_preset("real"), wide)
    factor = rc.axon_width / math.hypot(3.0, 2.0)
    assert math.isclose(rc.generator.image_scale, factor, rel_tol=1e-6)
    assert math.isclose(apparent_axon_sigma(rc.generator), rc.axon_width, rel_tol=1e-6)
    assert rc.model.heads == ("axon", "bouton")


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
