"""The suite's report: one table per section built from the result, targets, result files.

Checks structure (a header row and one row per result, the figures in them) and verdicts,
not exact wording.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jaxaxon.bench import SECTIONS
from jaxaxon.bench.report import (
    TARGET_IMAGES_PER_S,
    TARGET_ONFLY_OVERHEAD,
    OutputError,
    markdown,
    resolve_out,
    result_name,
    target_lines,
)
from jaxaxon.bench.sections import section_lines
from jaxaxon.bench.table import num

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
COMMITTED = sorted(p for p in RESULTS.glob("*.json") if "meta" in json.loads(p.read_text()))


def tables(lines: list[str]) -> list[list[list[str]]]:
    """The Markdown tables in ``lines``: each a list of rows of stripped cells."""
    found, current = [], []
    for line in [*lines, ""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            found.append(current)
            current = []
    return found


def test_committed_results_are_found():
    assert {p.stem for p in COMMITTED} >= {"cpu", "h100", "h200"}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_every_section_of_a_committed_result_is_a_table_of_its_rows(path):
    result = json.loads(path.read_text())
    text = markdown(result)
    assert text.startswith(f"**{result['meta']['device']['device_kind']}**")
    for name in (s for s in SECTIONS if s in result):
        record = result[name]
        found = tables(section_lines(name, record, result))
        ok_rows = [r for r in record.get("rows", []) if "items_per_s" in r]
        if name in ("generator_batch", "presets", "generator_size", "stages"):
            (table,) = found
            header, rule, *rows = table
            assert all(c == "---" for c in rule) and len(rule) == len(header)
            assert len(rows) == len(ok_rows), name
            for row, record_row in zip(rows, ok_rows):
                assert len(row) == len(header)
                assert num(record_row["items_per_s"]) in row  # the figure, formatted, in its own row
                accessed = ((record_row.get("compiled") or {}).get("xla_cost") or {}).get("bytes_accessed")
                if name in ("generator_batch", "presets"):  # XLA's bytes per image, or n/a
                    per_image = f"{accessed / record_row['batch'] / 1e6:,.1f}" if accessed else "n/a"
                    assert row[header.index("XLA MB accessed/image")] == per_image
        if name == "training":
            header, _, *rows = found[0]
            assert len(rows) == len(record["rows"])
            for row, r in zip(rows, record["rows"]):
                assert row[0] == r["name"] and f"{r['generation_overhead_fraction']:.1%}" in row
        if name == "memory":
            header, _, *rows = found[0]
            assert [int(r[0]) for r in rows] == [r["batch"] for r in record["rows"]]
        for lines_of_section in found:
            assert all(len(row) == len(lines_of_section[0]) for row in lines_of_section)
        assert section_lines(name, record, result)[-1] == ""  # sections are separated


def test_a_failed_section_is_one_status_line():
    result = json.loads((RESULTS / "cpu.json").read_text())
    failed = {"status": "error", "error": "RuntimeError: boom"}
    for name in SECTIONS:
        lines = section_lines(name, failed, result)
        assert lines[0].endswith("error (RuntimeError: boom)") and tables(lines) == []


def _result(kind: str, rate: float, overhead: float) -> dict:
    backend = "cpu" if kind == "cpu" else "gpu"
    row = {"batch": 8, "items_per_s": rate}
    training = {"rows": [{"name": "original (float32)", "generation_overhead_fraction": overhead}]}
    return {
        "meta": {"device": {"backend": backend, "device_kind": kind}},
        "generator_batch": {"image_shape": [256, 256], "rows": [row]},
        "training": training,
    }


@pytest.mark.parametrize("factor, verdict", [(1.1, "(met)"), (0.9, "(**missed**)")])
def test_generator_target_follows_the_rate(factor, verdict):
    (line,) = target_lines(_result("cpu", factor * TARGET_IMAGES_PER_S["cpu"], 0.0))[1:-1]
    assert line.endswith(verdict) and num(factor * TARGET_IMAGES_PER_S["cpu"]) in line


@pytest.mark.parametrize(
    "overhead, verdict", [(0.5 * TARGET_ONFLY_OVERHEAD, "(met)"), (2 * TARGET_ONFLY_OVERHEAD, "(**missed**)")]
)
def test_overhead_target_applies_on_an_h100_only(overhead, verdict):
    lines = target_lines(_result("NVIDIA H100 80GB HBM3", 1e6, overhead))[1:-1]
    assert len(lines) == 2 and lines[0].endswith("(met)") and lines[1].endswith(verdict)
    assert f"{overhead:.1%}" in lines[1]
    assert target_lines(_result("NVIDIA A100", 1e6, overhead)) == []  # no target stated for that device


def test_randomised_preset_target_uses_the_measured_ratio():
    result = _result("NVIDIA A100", 1.0, 0.0)
    result["presets"] = {"rows": [{"preset": "original"}, {"preset": "randomised", "relative_to_original": 0.25}]}
    (line,) = target_lines(result)[1:-1]
    assert "4.00x slower" in line and line.endswith("(**missed**)")


@pytest.mark.parametrize(
    "device, name",
    [
        ({"backend": "cpu", "device_kind": "cpu"}, "cpu"),
        ({"backend": "gpu", "device_kind": "NVIDIA H100 80GB HBM3"}, "h100"),
        ({"backend": "gpu", "device_kind": "NVIDIA H200"}, "h200"),
        ({"backend": "tpu", "device_kind": "TPU v5 lite"}, "tpu_v5_lite"),
    ],
)
def test_result_name(device, name):
    assert result_name(device) == name


def test_resolve_out(tmp_path):
    assert resolve_out(tmp_path / "a" / "r.json") == tmp_path / "a" / "r.json"
    assert resolve_out(tmp_path, {"backend": "cpu"}) == tmp_path / "cpu.json"
    assert (
        resolve_out(f"{tmp_path}/new/", {"backend": "gpu", "device_kind": "NVIDIA H100"})
        == tmp_path / "new" / "h100.json"
    )
    assert list((tmp_path / "a").iterdir()) == []  # the writability probe is removed
    with pytest.raises(OutputError, match=r"\.json"):
        resolve_out(tmp_path / "r.csv")
    (tmp_path / "e" / "cpu.json").mkdir(parents=True)
    with pytest.raises(OutputError, match="is a directory"):
        resolve_out(tmp_path / "e", {"backend": "cpu"})
