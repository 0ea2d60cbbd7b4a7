import pytest

from jaxaxon.train import get_preset
from jaxaxon.train.config import RunConfigError, parse_overrides


def test_parse_overrides_reads_json_values_and_keeps_plain_strings():
    out = parse_overrides(["lr=0.001", "model.heads=[\"axon\", \"bouton\"]", "preset=my run", "flag=true"])
    assert out == {"lr": 0.001, "model.heads": ["axon", "bouton"], "preset": "my run", "flag": True}
    rc = get_preset("quick").replace(**{k: v for k, v in out.items() if k != "flag"})
    assert rc.lr == 0.001 and rc.model.heads == ("axon", "bouton") and rc.preset == "my run"


@pytest.mark.parametrize("item", ["lr", "=3"])
def test_parse_overrides_refuses_items_without_key_or_value(item):
    with pytest.raises(RunConfigError, match="KEY=VALUE"):
        parse_overrides([item])


def test_run_config_records_the_scale_it_trained_at(tmp_path):
    import json

    from jaxaxon.config import GeneratorConfig
    from jaxaxon.train.config import RunConfig, read_run_config

    rc = get_preset("quick").replace(generator=GeneratorConfig(pixel_size=0.2, image_scale=0.5))
    (tmp_path / "config.json").write_text(json.dumps(rc.to_dict()))
    back = read_run_config(tmp_path / "config.json")
    assert back == rc and (back.generator.pixel_size, back.generator.image_scale) == (0.2, 0.5)
    old = rc.to_dict()  # a config.json written before these keys existed
    for key in ("pixel_size", "image_scale"):
        del old["generator"][key]
    (tmp_path / "old.json").write_text(json.dumps(old))
    legacy = read_run_config(tmp_path / "old.json")
    assert (legacy.generator.pixel_size, legacy.generator.image_scale) == (0.0, 1.0)
    assert RunConfig.from_dict(rc.to_dict()) == rc
