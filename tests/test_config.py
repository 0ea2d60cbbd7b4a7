"""Tests of jaxaxon/config.py: the parameter file format, validation and derived sizes."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon import config as config_module
from jaxaxon.config import ConfigError, GeneratorConfig

BUNDLED = Path(config_module.__file__).parent / "params" / "256x256.json"


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


# --- defaults and the shipped files -------------------------------------------------------------


def test_default_equals_shipped_reference(shared_reference):
    path = shared_reference / "256x256.json"
    if not path.is_file():
        pytest.skip("256x256.json is not in ../shared/reference")
    assert GeneratorConfig.from_json(path) == GeneratorConfig()
    assert GeneratorConfig.from_dict(_load(path)) == GeneratorConfig()


def test_default_equals_bundled_file():
    assert BUNDLED.is_file()
    assert GeneratorConfig.from_json(BUNDLED) == GeneratorConfig()
    assert GeneratorConfig.from_json(config_module.default_params_path()) == GeneratorConfig()
    # every key of the bundled file is a field with the same value
    cfg = GeneratorConfig()
    for key, value in _load(BUNDLED).items():
        assert getattr(cfg, key) == value, key


def test_default_values_match_the_spec():
    cfg = GeneratorConfig()
    assert cfg.shape == (256, 256)
    assert (cfg.MinAxons, cfg.MaxAxons, cfg.MinBran, cfg.MaxBran) == (2, 2, 2, 2)
    assert cfg.crossingOK is False and cfg.negative_image is False
    assert cfg.AxonProfile == cfg.BranchProfile == "cosine"
    assert cfg.compat == "fixed" and cfg.fixed


# --- JSON round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"width": 128, "height": 96, "conformity": 0.9, "crossingOK": True},
        {"compat": "original", "branch_candidates": 8, "scene_attempts": 3, "AxonProfile": "linear"},
    ],
)
def test_json_round_trip(tmp_path, changes):
    cfg = GeneratorConfig().replace(**changes)
    path = tmp_path / "params.json"
    cfg.to_json(path)
    assert GeneratorConfig.from_json(path) == cfg
    data = _load(path)
    original_keys = set(_load(BUNDLED))
    # the original's key set is kept; jaxaxon's own options only where they differ from defaults
    assert original_keys <= set(data)
    assert set(data) - original_keys == {k for k in ("compat", "branch_candidates", "scene_attempts") if k in changes}
    # booleans are written in the original's 0/1 style
    assert data["crossingOK"] in (0, 1) and not isinstance(data["crossingOK"], bool)
    assert not list(tmp_path.glob("*.tmp")), "to_json left a temporary file"


def test_to_json_of_default_has_exactly_the_original_key_set(tmp_path, shared_reference):
    path = tmp_path / "p.json"
    GeneratorConfig().to_json(path)
    ref = shared_reference / "256x256.json"
    if not ref.is_file():
        pytest.skip("256x256.json is not in ../shared/reference")
    assert list(_load(path)) == list(_load(ref))  # same keys, same order


def test_to_dict_and_from_dict_round_trip():
    cfg = GeneratorConfig(width=100, height=80, compat="original", MaxGapSize=0, MinGapSize=0)
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    assert GeneratorConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert "compat" not in GeneratorConfig().to_dict(include_defaults_of_options=False)
    assert "compat" in GeneratorConfig().to_dict()


def test_missing_keys_take_defaults():
    assert GeneratorConfig.from_dict({"width": 128}) == GeneratorConfig(width=128)
    assert GeneratorConfig.from_dict({}) == GeneratorConfig()


def test_json_spellings_are_coerced():
    cfg = GeneratorConfig.from_dict({"crossingOK": 1, "negative_image": 0, "width": 128.0, "StepSize": 2})
    assert cfg.crossingOK is True and cfg.negative_image is False
    assert cfg.width == 128 and type(cfg.width) is int
    assert cfg.StepSize == 2.0 and type(cfg.StepSize) is float


# --- replace --------------------------------------------------------------------------------------


def test_replace():
    cfg = GeneratorConfig()
    new = cfg.replace(MaxAxons=3, conformity=0.95)
    assert (new.MaxAxons, new.conformity) == (3, 0.95)
    assert cfg.MaxAxons == 2  # frozen original unchanged
    assert new == dataclasses.replace(cfg, MaxAxons=3, conformity=0.95)
    assert cfg.replace() == cfg
    with pytest.raises(ConfigError, match="MaxAxons"):
        cfg.replace(MaxAxons=1)  # below MinAxons
    with pytest.raises(ConfigError, match="did you mean 'MaxAxons'"):
        cfg.replace(MaxAxon=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.width = 10  # type: ignore[misc]


# --- errors: one ConfigError naming the key --------------------------------------------------------

ERROR_CASES = [
    # (changes, key that must be named, extra text that must appear)
    ({"MinAxon": 2}, "MinAxon", "did you mean 'MinAxons'"),
    ({"stepsize": 2}, "stepsize", "StepSize"),
    ({"totally_unrelated_key": 1}, "totally_unrelated_key", "unknown key"),
    ({"width": "256"}, "width", "integer"),
    ({"StepSize": "2"}, "StepSize", "number"),
    ({"MinAxons": 2.5}, "MinAxons", "integer"),
    ({"crossingOK": "yes"}, "crossingOK", "0/1"),
    ({"crossingOK": 2}, "crossingOK", "0/1"),
    ({"width": True}, "width", "integer"),
    ({"AxonProfile": 3}, "AxonProfile", "string"),
    ({"conformity": float("nan")}, "conformity", "between 0 and 1, got nan"),
    ({"MinAxons": 3, "MaxAxons": 2}, "MinAxons", "MaxAxons"),
    ({"MinThickness": 3.5, "MaxThickness": 3.0}, "MinThickness", "MaxThickness"),
    ({"MinRadius": 9, "MaxRadius": 5}, "MinRadius", "MaxRadius"),
    ({"lambdaMin": 15, "lambdaMax": 14}, "lambdaMin", "lambdaMax"),
    ({"conformity": 0.0}, "conformity", "between 0 and 1"),
    ({"conformity": 1.0}, "conformity", "between 0 and 1"),
    ({"conformity": 1.5}, "conformity", "between 0 and 1"),
    ({"conformity": -0.2}, "conformity", "between 0 and 1"),
    ({"width": 0}, "width", "positive"),
    ({"height": -5}, "height", "positive"),
    ({"StepSize": 0}, "StepSize", "positive"),
    ({"MinThickness": 0}, "MinThickness", "positive"),
    ({"sigma_spread": -1}, "sigma_spread", "positive"),
    ({"branch_candidates": 0}, "branch_candidates", "positive"),
    ({"MaxAxonIntensity": 150}, "MaxAxonIntensity", "0..100"),
    ({"MinBrightnessBouton": -1}, "MinBrightnessBouton", "0..100"),
    ({"MaxBrightnessCircles": 101}, "MaxBrightnessCircles", "0..100"),
    ({"AxonProfile": "cosin"}, "AxonProfile", "did you mean 'cosine'"),
    ({"BranchProfile": "gaussian"}, "BranchProfile", "constant"),
    ({"compat": "matlab"}, "compat", "original"),
    ({"width": 8}, "width", "16"),
    ({"StepSize": 70}, "StepSize", "too large"),
    ({"MaxThickness": 70, "width": 256}, "MaxThickness", "too large"),
    ({"MaxGapSize": 100}, "MaxGapSize", "NSplinePoints"),
    ({"conformity": 0.01, "StepSize": 0.5}, "conformity", "static limit"),
    ({"conformity": 0.99, "StepSize": 0.01}, "StepSize", "static limit"),
    # every number has a finite range, said in the message
    ({"lambdaMax": 1e308}, "lambdaMax", "expected an integer in 0..1000, got 1e+308"),
    ({"sigma_noise_max": 1e308}, "sigma_noise_max", "expected a number in 0..1000 grey levels, got 1e+308"),
    ({"sigma_noise_min": float("inf")}, "sigma_noise_min", "in 0..1000 grey levels, got inf"),
    ({"sigma_spread": 1e-300}, "sigma_spread", "expected a number in 0.01..8192, got 1e-300"),
    ({"StepSize": 5e-324}, "StepSize", "0.01..8192"),
    ({"MinAxons": 10**5000}, "MinAxons", "in 1..1024, got an integer of about 5,001 digits"),
    ({"maxIntensity": 2**30}, "maxIntensity", "1..16777216"),
    ({"photons": [1, float("inf")]}, "photons", "expected a range in 0.001..1000000, got inf"),
    ({"gamma": [1e-300, 1]}, "gamma", "0.001..10"),
    ({"AxonProfile": "x" * 50_000_000}, "AxonProfile", "... (50,000,000 characters) (choose one of"),
]


@pytest.mark.parametrize("changes, key, text", ERROR_CASES, ids=lambda v: ",".join(v) if isinstance(v, dict) else None)
def test_invalid_parameters_name_the_key(changes, key, text):
    with pytest.raises(ConfigError) as info:
        GeneratorConfig.from_dict(changes)
    message = str(info.value)
    assert key in message
    assert text in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("changes, key, text", [c for c in ERROR_CASES if c[1] in {f.name for f in dataclasses.fields(GeneratorConfig)}][:12])
def test_invalid_values_in_a_file_name_the_key_and_file(tmp_path, changes, key, text):
    data = {**_load(BUNDLED), **changes}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        GeneratorConfig.from_json(path)
    assert key in str(info.value) and text in str(info.value)
    assert "bad.json" in str(info.value)


def test_direct_construction_is_validated():
    with pytest.raises(ConfigError, match="width"):
        GeneratorConfig(width="256")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="conformity"):
        GeneratorConfig(conformity=1.0)
    with pytest.raises(ConfigError, match="MinAxons"):
        GeneratorConfig(MinAxons=5)


def test_invalid_json_text(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"width": 256,, }')
    with pytest.raises(ConfigError, match="not valid JSON") as info:
        GeneratorConfig.from_json(path)
    assert "broken.json" in str(info.value)


def test_json_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(ConfigError, match="JSON object"):
        GeneratorConfig.from_json(path)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read") as info:
        GeneratorConfig.from_json(tmp_path / "missing.json")
    assert "missing.json" in str(info.value)
    with pytest.raises(ConfigError, match="cannot read"):
        GeneratorConfig.from_json(tmp_path)  # a directory


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "p.json"
    GeneratorConfig().to_json(path)
    before = path.read_text()
    with pytest.raises(OSError):
        GeneratorConfig(width=128).to_json(tmp_path / "no_such_dir" / "p.json")
    assert path.read_text() == before


# --- derived sizes --------------------------------------------------------------------------------


def test_max_branches_and_shape():
    cfg = GeneratorConfig(MaxAxons=3, MaxBran=4, width=100, height=60)
    assert cfg.max_branches == 12
    assert cfg.shape == (60, 100)
    assert GeneratorConfig().max_branches == 4


@pytest.mark.parametrize("changes", [{}, {"conformity": 0.5}, {"conformity": 0.999, "StepSize": 1.0}, {"width": 64, "height": 48}])
def test_max_walk_steps_covers_both_regimes(changes):
    cfg = GeneratorConfig().replace(**changes)
    steps = cfg.max_walk_steps
    assert isinstance(steps, int)
    assert cfg.max_control_points == steps + 1
    # a straight crossing of the image (the diagonal) fits at least twice
    assert steps * cfg.StepSize >= 2 * math.hypot(cfg.width, cfg.height)
    # diffusive regime: the static length is many times the expected squared exit time
    a = math.acos(cfg.conformity)
    rho = math.sin(a) / a
    msd = cfg.StepSize**2 * (1 + rho) / (1 - rho)
    assert steps >= 10 * (min(cfg.shape) / 2) ** 2 / msd - 1
    assert steps <= config_module.MAX_WALK_STEPS


def test_max_walk_steps_grows_when_the_walk_gets_more_diffusive():
    a = GeneratorConfig(conformity=0.99).max_walk_steps
    b = GeneratorConfig(conformity=0.5).max_walk_steps
    c = GeneratorConfig(conformity=0.5, StepSize=1.0).max_walk_steps
    assert c > b and c >= 2 * b - 2
    assert a > 0 and b > 0


@pytest.mark.parametrize("max_thickness", [0.5, 1.0, 1.5, 2.0, 2.99, 3.0, 4.2])
def test_raster_halfwidth_covers_every_window(max_thickness):
    cfg = GeneratorConfig(MinThickness=min(0.5, max_thickness), MaxThickness=max_thickness)
    hw = cfg.raster_halfwidth
    assert hw == math.ceil(max_thickness) + 1
    rng = np.random.default_rng(0)
    p = rng.uniform(-5, 300, 20000)
    t = rng.uniform(0.01, max_thickness, 20000)
    t[:100] = max_thickness
    centre = np.round(p)
    assert np.all(np.floor(p - t) >= centre - hw)
    assert np.all(np.ceil(p + t) <= centre + hw)


def test_scene_attempts_defaults():
    assert GeneratorConfig().n_scene_attempts == 4
    assert GeneratorConfig(compat="original").n_scene_attempts == 64
    assert GeneratorConfig(scene_attempts=7).n_scene_attempts == 7
    assert GeneratorConfig(compat="original").fixed is False


# --- hashing (static jit argument) ----------------------------------------------------------------


def test_configs_are_hashable_and_equal_configs_hash_equal(tmp_path):
    a = GeneratorConfig()
    b = GeneratorConfig.from_json(BUNDLED)
    c = GeneratorConfig(StepSize=2)  # int spelling of a float field
    assert a == b == c
    assert hash(a) == hash(b) == hash(c)
    assert len({a, b, c, GeneratorConfig(width=128)}) == 2
    path = tmp_path / "p.json"
    GeneratorConfig(width=128, crossingOK=1).to_json(path)
    assert hash(GeneratorConfig.from_json(path)) == hash(GeneratorConfig(width=128, crossingOK=True))


def test_equal_configs_share_one_jit_compilation():
    traces = []

    def f(x, cfg):
        traces.append(cfg)
        return x * cfg.width + cfg.StepSize

    jf = jax.jit(f, static_argnums=1)
    x = jnp.float32(1.0)
    assert float(jf(x, GeneratorConfig())) == 258.0
    assert float(jf(x, GeneratorConfig.from_json(BUNDLED))) == 258.0
    assert float(jf(x, GeneratorConfig(StepSize=2))) == 258.0
    assert len(traces) == 1
    assert float(jf(x, GeneratorConfig(width=128))) == 130.0
    assert len(traces) == 2


# --- every number finite, at its bounds too ------------------------------------------------------


def test_every_number_has_a_finite_range():
    import typing

    from jaxaxon.validation import interval

    hints = typing.get_type_hints(GeneratorConfig)
    for f in dataclasses.fields(GeneratorConfig):
        if hints[f.name] in (int, float, tuple[float, float]):
            allowed = interval(f.metadata["bounds"])
            assert allowed.low is not None and allowed.high is not None, f.name
            assert math.isfinite(allowed.low) and math.isfinite(allowed.high), f.name


@pytest.mark.parametrize("name", sorted(config_module.PRESETS))
def test_presets_validate(name):
    GeneratorConfig.from_preset(name)


@pytest.mark.parametrize("path", sorted(BUNDLED.parent.glob("*.json")), ids=lambda p: p.name)
def test_shipped_parameter_files_validate(path):
    GeneratorConfig.from_json(path)


def test_a_long_value_is_cut_in_the_message():
    with pytest.raises(ConfigError) as info:
        GeneratorConfig.from_dict({"psf_kernel": "k" * 50_000_000})
    assert "(50,000,000 characters)" in str(info.value) and len(str(info.value)) < 300


def test_walk_steps_of_a_conformity_next_to_1_are_finite():
    assert GeneratorConfig(conformity=1 - 1e-16).max_walk_steps == GeneratorConfig().max_walk_steps


_AT_UPPER_BOUNDS = {  # the original imaging model's noise and the intensity keys at their largest
    "sigma_noise_min": 1000, "sigma_noise_max": 1000, "lambdaMin": 1000, "lambdaMax": 1000,
    "sigma_noise_axon": 100, "MinPeriod": 50000, "MaxPeriod": 50000, "maxIntensity": 2**24,
    "straightBranching": 819200, "sigma_noise_bouton": 8192, "sigma_noise_circle": 8192,
    "SegmentationThreshold": 8192, "sigma_spread": 8192,
    "axon_brightness": 100, "bouton_brightness": 100, "cell_brightness": 100,
}  # fmt: skip
_MICROSCOPE_AT_BOUNDS = {  # the microscope's keys at the ends that could overflow or divide by ~0
    "noise_model": "microscope", "photons": 1e6, "gain": 1e6, "offset": 1e6, "read_noise": 1e6, "dark_counts": 1e4,
    "bias": 5, "background": 10, "background_contrast": 10, "background_scale": 1e4, "background_exponent": 8,
    "bias_scale": 0.01,
    "psf_sigma": 20, "psf_aspect": 0.001, "gamma": 0.001, "saturation": 0.001, "sigma_spread": 0.01,
    "MinThickness": 0.01, "MaxThickness": 0.01,
    "axon_brightness": 0.001, "bouton_brightness": 0.001, "cell_brightness": 0.001,
}  # fmt: skip


@pytest.mark.slow  # one compilation each (about 20 s on a CPU)
@pytest.mark.parametrize("changes", [_AT_UPPER_BOUNDS, _MICROSCOPE_AT_BOUNDS], ids=["original", "microscope"])
def test_the_generator_is_finite_at_the_bounds(small_cfg, changes):
    from jaxaxon.synth.image import generate

    cfg = small_cfg.replace(**changes)
    batch = generate(jax.random.key(0), cfg, 2)
    for name, value in vars(batch).items():
        if isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating):
            assert bool(jnp.all(jnp.isfinite(value))), name
    assert 0 <= float(batch.image.min()) and float(batch.image.max()) <= cfg.maxIntensity


# --- parameter files: encodings and duplicate keys -------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_file_with_a_byte_order_mark_is_read(tmp_path, encoding):
    path = tmp_path / "p.json"
    path.write_bytes(json.dumps({"width": 128, "psf_kernel": ""}).encode(encoding))
    assert GeneratorConfig.from_json(path).width == 128


@pytest.mark.parametrize(
    "data, text",
    [
        ('{"width": 128, "psf_kernel": "é"}'.encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 30)"),
        (b'{"width": 128, "MaxAxons": 3, "width": 64}', "duplicate key 'width'"),
    ],
    ids=["latin-1", "duplicate"],
)
def test_a_bad_file_is_one_config_error_naming_it(tmp_path, data, text):
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        GeneratorConfig.from_json(path)
    assert str(info.value).startswith(f"cannot read parameter file {str(path)!r}: ") and text in str(info.value)


def test_generate_on_a_latin1_file_prints_one_line(tmp_path, capsys):
    from jaxaxon.cli import main

    path = tmp_path / "latin.json"
    path.write_bytes('{"psf_kernel": "caf\xe9"}'.encode("latin-1"))
    argv = ["generate", "--out", str(tmp_path / "out"), "--params", str(path), "--n", "1", "--no-distributed"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "latin.json" in err and "UTF-8 JSON" in err
    assert not (tmp_path / "out").exists()
