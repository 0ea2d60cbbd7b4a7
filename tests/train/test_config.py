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


@pytest.mark.parametrize(
    "item, text",
    [
        ("steps=1e300", "steps: expected an integer in 1..2147483647, got 1e+300"),
        ("lr=NaN", "lr: expected a number in (0.0, 10.0], got nan"),
        ("lr=Infinity", "lr: expected a number in (0.0, 10.0], got inf"),
        ("clip_norm=-Infinity", "clip_norm: expected a number in 0..1000000, got -inf"),
        ("dice_smooth=1e308", "dice_smooth: expected a number in 0..1000000, got 1e+308"),
        ("batch_size=100000000000", "batch_size: expected an integer in 1..65536"),
        ("generator.lambdaMax=1e308", "generator.lambdaMax: expected an integer in 0..1000, got 1e+308"),
        ("steps=1" + "0" * 5000, "--set steps: '10000"),
        ('model={"depth": 3, "depth": 4}', "--set model: duplicate key 'depth'"),
        ("x" * 100_000 + "=1", "unknown option 'xxx"),
    ],
    ids=["huge", "nan", "inf", "-inf", "float-overflow", "batch", "generator", "digits", "duplicate", "long-key"],
)
def test_set_refuses_non_finite_huge_and_duplicate_values(item, text):
    with pytest.raises(RunConfigError) as info:
        get_preset("quick").replace(**parse_overrides([item]))
    assert str(info.value).startswith(text) and len(str(info.value)) < 200


def test_every_run_option_number_has_a_finite_range():
    import dataclasses
    import math
    import typing

    from jaxaxon.train.config import RealMixing, RunConfig
    from jaxaxon.validation import interval

    for cls in (RunConfig, RealMixing):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (int, float):
                allowed = interval(f.metadata["bounds"])
                assert math.isfinite(allowed.low) and math.isfinite(allowed.high), f.name


@pytest.mark.parametrize(
    "data, text",
    [
        (b'{"steps": 5, "steps": 6}', "duplicate key 'steps'"),
        ('{"preset": "caf\xe9"}'.encode("latin-1"), "not UTF-8 text"),
    ],
    ids=["duplicate", "latin-1"],
)
def test_a_bad_run_configuration_file_is_one_error_naming_it(tmp_path, data, text):
    from jaxaxon.train.config import read_run_config

    path = tmp_path / "config.json"
    path.write_bytes(data)
    with pytest.raises(RunConfigError) as info:
        read_run_config(path)
    assert str(info.value).startswith(f"cannot read the run configuration {str(path)!r}: ") and text in str(info.value)


def test_train_names_a_latin1_parameter_file(tmp_path, capsys):
    from jaxaxon.cli import main

    path = tmp_path / "latin.json"
    path.write_bytes('{"psf_kernel": "caf\xe9"}'.encode("latin-1"))
    assert main(["train", "--workdir", str(tmp_path / "run"), "--params", str(path), "--no-distributed"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "latin.json" in err and "UTF-8 JSON" in err
    assert not (tmp_path / "run").exists()


def test_set_names_an_unknown_normalise_option():
    with pytest.raises(RunConfigError, match=r"^unknown key 'normalise.clip'$"):
        get_preset("quick").replace(**parse_overrides(["normalise.clip=3"]))
