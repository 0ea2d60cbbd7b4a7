"""The sections table and the suite loop over it, with fake sections (no JAX work)."""

from __future__ import annotations

import dataclasses

import pytest

from jaxaxon.bench import SECTIONS, sections
from jaxaxon.bench.suite import QUICK, SuiteSettings, run_suite, with_settings
from jaxaxon.cli import build_parser
from jaxaxon.config import ConfigError, GeneratorConfig


def test_the_table_has_one_section_per_cli_choice_in_order():
    assert tuple(sections.REGISTRY) == SECTIONS
    bench = build_parser()._subparsers._group_actions[0].choices["bench"]
    (option,) = [a for a in bench._actions if "--sections" in a.option_strings]
    assert tuple(option.choices) == SECTIONS


def test_unknown_section_is_refused_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown section 'stage'; did you mean 'stages'\?"):
        run_suite(QUICK, sections=("stage",))


@pytest.fixture
def fake_sections(monkeypatch):
    """Every section replaced by one that logs its name; 'series' fails, 'dataset' is not run."""
    ran = []

    def fake(name):
        def run(ctx):
            ran.append(name)
            if name == "series":
                raise RuntimeError("boom")
            return None if name == "dataset" else {"rows": [], "name": name}

        return dataclasses.replace(sections.REGISTRY[name], run=run)

    monkeypatch.setattr(sections, "REGISTRY", {name: fake(name) for name in SECTIONS})
    monkeypatch.setattr("jaxaxon.bench.suite.REGISTRY", sections.REGISTRY)
    return ran


def test_run_suite_runs_the_chosen_sections_in_table_order(fake_sections):
    chosen = ("roofline", "series", "dataset", "generator_batch")
    result = run_suite(QUICK, GeneratorConfig(), sections=chosen)
    assert fake_sections == [s for s in SECTIONS if s in chosen]
    assert result["generator_batch"]["name"] == "generator_batch" and result["roofline"]["name"] == "roofline"
    assert "dataset" not in result  # a section with nothing to run leaves no key
    assert result["series"]["status"] == "error" and "boom" in result["series"]["error"]
    assert result["meta"]["errors"] == ["series: RuntimeError: boom"]  # and the suite went on
    assert result["meta"]["settings"] == dataclasses.asdict(QUICK)


def test_with_settings_converts_by_field_type():
    s = with_settings(QUICK, ["name=tiny", "repeats=2", "batches=4,8", "training_dtypes=float32,bfloat16",
                              "mixing_shares=0,0.5", "stage_sizes="])  # fmt: skip
    assert (s.name, s.repeats, s.batches, s.stage_sizes) == ("tiny", 2, (4, 8), ())
    assert s.training_dtypes == ("float32", "bfloat16") and s.mixing_shares == (0.0, 0.5)
    assert with_settings(QUICK, []) == QUICK


@pytest.mark.parametrize(
    "item, message",
    [
        ("repeat=3", "unknown suite setting 'repeat'; did you mean 'repeats'?"),
        ("repeats=three", "--set repeats: expected int, got 'three'"),
        ("batches=1,x", "--set batches: expected tuple[int, ...]"),
        ("repeats", "expected KEY=VALUE"),
    ],
)
def test_with_settings_refuses_bad_items(item, message):
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("[", r"\[").replace("(", r"\(")):
        with_settings(QUICK, [item])


def test_every_setting_can_be_set_from_text():
    for field in dataclasses.fields(SuiteSettings):
        value = getattr(QUICK, field.name)
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        assert getattr(with_settings(QUICK, [f"{field.name}={text}"]), field.name) == value, field.name


def test_depth_section_configs_and_lines():
    twin, variants = sections.depth_configs(GeneratorConfig(width=128, height=128))
    assert twin.depth_mode == "off" and twin.shape == (128, 128)
    assert [cfg.depth_mode for _, cfg in variants] == ["section", "max", "mean", "mean"]
    assert all(cfg.replace(depth_mode="off", depth_labels="in_focus", defocused_axons=(0.0, 0.0), slab_depth=40.0,
                           axial_sigma=4.0, stack_depth=20.0) == twin for _, cfg in variants)  # fmt: skip
    row = {"items_per_s": 10.0, "ms_per_item": 100.0, "cost_ratio": 1.5}
    rec = {"image_shape": [128, 128], "batch": 4, "settings": sections.DEPTH_BENCH, "budget": 2.0, "rounds": 3,
           "within_budget": True, "rows": [{"variant": "off (2-D twin)", **row, "cost_ratio": 1.0},
                                           {"variant": "max, labels in_focus", **row}]}  # fmt: skip
    lines = sections.section_lines("depth", rec, {})
    assert "all within: True" in lines[0] and any("| max, labels in_focus | 10.0 | 100.00 | 1.50 |" in x for x in lines)
