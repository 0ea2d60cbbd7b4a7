"""benchmarks/profile_generator.py: traces the generator and attributes device time to its stages."""

from __future__ import annotations

import json

import pytest

from ..conftest import SMALL
from . import load

profile_generator = load("profile_generator")

pytestmark = pytest.mark.bench


def test_scope_of_finds_the_generator_stages():
    name = "jit(_generate_jit)/vmap(scene)/while/body/closed_call/spline/vmap()/while"
    assert profile_generator.scope_of(name) == "scene/spline"
    assert profile_generator.scope_of("jit(_generate_jit)/vmap(noise)/dot_general") == "noise"
    assert profile_generator.scope_of("") == "other"


def test_hlo_sources_reads_op_names_under_both_spellings():
    text = '  %fusion.12 = f32[4]{0} fusion(f32[4]{0} %p), kind=kLoop, metadata={op_name="jit(f)/scene/add" source_file="x.py" source_line=3}'
    sources = profile_generator.hlo_sources(text)
    assert sources["fusion.12"] == "jit(f)/scene/add"
    assert sources["fusion_12"] == "jit(f)/scene/add"  # GPU kernels are named with underscores


def test_profile_of_a_small_batch_attributes_time_to_stages(tmp_path, capsys):
    params = tmp_path / "small.json"
    SMALL.to_json(params)
    out = tmp_path / "profile.json"
    assert profile_generator.main(["--params", str(params), "--batch", "2", "--calls", "1", "--top", "5", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["batch"] == 2 and summary["images_per_s"] > 0
    lines = [info for info in summary["by_line"].values() if info["events"] > 0]
    assert lines and all(len(info["rows"]) <= 5 for info in lines)
    scopes = set().union(*(info["by_scope_ms"] for info in lines))
    assert {"scene", "noise"} <= {s.split("/")[0] for s in scopes}  # named stages reach the trace
    assert "images/s" in capsys.readouterr().out
