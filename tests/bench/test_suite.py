"""The benchmark suite, run end to end through ``jaxaxon bench`` on tiny sizes.

No timing assertions: figures are checked for presence, consistency and units only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math

import numpy as np
import pytest

from jaxaxon.bench import SECTIONS
from jaxaxon.bench.generator import STAGES
from jaxaxon.bench.suite import ORIGINAL_OCTAVE_SECONDS, SuiteSettings
from jaxaxon.cli import main

pytestmark = pytest.mark.bench

# Tiny: the small 64x64 config at batch 4 (the compile the dataset tests use), a 32x32 size
# point, an invalid 16x16 size (MaxRadius 8 needs a side above 16), 2 virtual devices, the
# 'quick' training step on 2 generated 64x64 images, one real share of 2 random images.
TINY = SuiteSettings(
    name="tiny",
    batches=(4,),
    sizes=(16, 32, 64),
    pixels_per_call=4 * 64 * 64,
    stage_sizes=(),
    stage_batches=(4,),
    series_batch=1,
    dataset_n=8,
    dataset_batch=4,
    dataset_repeats=1,
    training_presets=("quick",),
    training_steps=1,
    training_rounds=1,
    training_batch=2,
    training_dataset_steps=2,
    mixing_shares=(0.5,),
    mixing_images=2,
    mixing_size=96,
    scaling_devices=(1, 2),
    scaling_per_device_batch=2,
    memory_batches=(2, 4),
    presets=("original", "randomised"),
    memory_budget_batch=8,
    memory_budget_bytes=10**9,
    bandwidth_bytes=2**22,
    repeats=2,
)


def _set_items(settings: SuiteSettings) -> list[str]:
    items = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        items += ["--set", f"{field.name}={text}"]
    return items


@pytest.fixture(scope="module")
def suite(small_cfg, tmp_path_factory):
    """``jaxaxon bench`` with every setting of `TINY` given by ``--set``: (result, progress lines, report)."""
    tmp = tmp_path_factory.mktemp("bench")
    small_cfg.to_json(tmp / "small.json")
    out, err = io.StringIO(), io.StringIO()
    argv = ["bench", "--quick", "--params", str(tmp / "small.json"), *_set_items(TINY), "--dir", str(tmp),
            "--out", str(tmp / "out" / "cpu.json")]  # fmt: skip
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    assert status == 0, err.getvalue()
    result = json.loads((tmp / "out" / "cpu.json").read_text())
    return result, err.getvalue().splitlines(), out.getvalue()


def _timed(record):
    return record["items_per_s"] > 0 and record["compile_s"] > 0 and record["median_s"] > 0 and record["peak_bytes"] > 0


def test_every_section_is_reported_with_its_context(suite, small_cfg):
    result, messages, _ = suite
    assert set(SECTIONS) <= set(result)
    json.loads(json.dumps(result))  # plain JSON
    meta = result["meta"]
    assert meta["device"]["jax_version"] and meta["device"]["backend"] == "cpu"
    assert meta["config"]["width"] == small_cfg.width and meta["settings"]["name"] == "tiny"
    assert meta["errors"] == [] and meta["wall_s"] > 0 and meta["settings"] == json.loads(json.dumps(dataclasses.asdict(TINY)))
    assert len(meta["load_average_start"]) == 3
    assert messages and any("generator 64x64 batch 4" in m for m in messages)


def test_generator_rows_are_timed_with_memory(suite):
    result, _, _ = suite
    (row,) = result["generator_batch"]["rows"]
    assert row["batch"] == 4 and _timed(row)
    assert math.isclose(row["items_per_s"], 4 / row["median_s"])
    assert len(row["runs_s"]) == TINY.repeats and row["median_s"] == float(np.median(row["runs_s"]))
    assert row["memory_source"] in ("device", "rss", "rss_lifetime")
    compiled = row["compiled"]
    assert (
        compiled["total_bytes"]
        == compiled["argument_bytes"] + compiled["output_bytes"] + compiled["temp_bytes"] - compiled["alias_bytes"]
    )
    assert compiled["output_bytes"] > 4 * 64 * 64 * 4  # at least the float32 images


def test_size_sweep_keeps_pixels_per_call_and_reports_invalid_sizes(suite):
    rows = {r["size"]: r for r in suite[0]["generator_size"]["rows"]}
    assert rows[16]["status"] == "invalid" and "MaxRadius" in rows[16]["reason"]
    assert rows[32]["batch"] == 16 and rows[64]["batch"] == 4 and _timed(rows[32])
    assert rows[32]["static_sizes"]["max_walk_steps"] < rows[64]["static_sizes"]["max_walk_steps"]
    assert math.isclose(rows[32]["megapixels_per_s"], rows[32]["items_per_s"] * 32 * 32 / 1e6)
    assert rows[64]["items_per_s"] == suite[0]["generator_batch"]["rows"][0]["items_per_s"]  # timed once, reused


def test_every_stage_is_timed(suite):
    stages = suite[0]["stages"]
    assert {r["stage"] for r in stages["rows"] if _timed(r)} == set(STAGES)
    shares = stages["shares"]
    assert shares["batch"] == 4 and math.isclose(sum(shares["share"].values()), 1.0)


def test_series_dataset_training_and_mixing(suite):
    result, _, _ = suite
    series = result["series"]
    assert _timed(series) and math.isclose(series["frames_per_s"], series["items_per_s"] * 6)
    dataset = result["dataset"]
    assert all(v > 0 for v in dataset["examples_per_s"].values()) and dataset["n"] == 8
    (row,) = result["training"]["rows"]
    assert row["preset"] == "quick" and row["onfly_steps_per_s"] > 0 and row["pregen_steps_per_s"] > 0
    assert row["dtype"] == "float32" and row["generation_overhead_fraction"] < 1
    assert len(row["round_times_s"]["onfly"]) == TINY.training_rounds
    assert row["generated_images_per_step"] == 2 and row["tile"] == 64
    assert row["dataset_images"] == 4 and len(row["round_times_s"]["data"]) == TINY.training_rounds
    assert math.isclose(row["data_vs_onfly"], row["data_steps_per_s"] / row["onfly_steps_per_s"])
    assert math.isclose(row["data_images_per_s"], 2 * row["data_steps_per_s"])
    mixing = result["mixing"]
    assert set(mixing["variants"]) == {"share=0.5", "pregen"} and mixing["real_size"] == 96
    assert mixing["variants"]["share=0.5"]["real_per_step"] == 1 and mixing["variants"]["pregen"]["time_vs_pregen"] == 1


def test_scaling_runs_on_virtual_devices_with_the_same_images(suite):
    scaling = suite[0]["scaling"]
    assert scaling["virtual_cpu_devices"] == 2
    rows = {r["devices"]: r for r in scaling["rows"]}
    assert scaling["per_device_batch"] == 1 and "hang" in scaling["note"]  # see jaxaxon.bench.scaling
    assert rows[1]["efficiency"] == 1.0 and rows[2]["global_batch"] == 2 and _timed(rows[2])
    assert math.isclose(rows[2]["efficiency"], rows[2]["items_per_s"] / (2 * rows[1]["items_per_s"]))
    assert scaling["identical_to_one_device"] is True


def test_memory_is_linear_in_batch_and_checked_against_the_budget(suite):
    memory = suite[0]["memory"]
    assert [r["batch"] for r in memory["rows"]] == [2, 4]
    assert memory["linear"] and memory["bytes_per_image_total"] > 0
    budget = memory["budget"]
    assert budget["extrapolated"] is True and budget["fits"] is True
    assert math.isclose(budget["needed_bytes"], memory["fixed_bytes"] + 8 * memory["bytes_per_image_total"])
    arrays = memory["largest_arrays"]["arrays"]
    assert arrays and arrays[0]["bytes"] >= arrays[-1]["bytes"]


def test_roofline_bounds(suite):
    roof = suite[0]["roofline"]
    counts = roof["bytes_per_image"]
    # image + clean float32, bouton label int32, three bool masks: 15 bytes per pixel, plus records
    assert 15 * 64 * 64 < counts["outputs"] < counts["pipeline"]
    this = roof["bounds"]["this_device"]
    assert this["images_per_s_outputs_only"] > this["images_per_s_pipeline"] > 0
    assert roof["bandwidth"]["device_stream_bytes_per_s"] > 0 and roof["bandwidth"]["host_copy_bytes_per_s"] > 0
    assert math.isclose(
        roof["fraction_of_bound_pipeline"], roof["measured_images_per_s"] / this["images_per_s_pipeline"]
    )


def test_report_and_result_files(suite, tmp_path):
    result, _, text = suite
    for section in SECTIONS:
        assert result[section] and "status" not in result[section], section
    for expected in ("images/s", "Time series", "write_dataset end to end", "on the fly steps/s", "real crops per step",
                     "virtual CPU devices", "Linear fit", "Roofline", "faster"):  # fmt: skip
        assert expected in text, expected
    from jaxaxon.bench.report import write_results

    paths = write_results(result, tmp_path / "out" / "cpu.json")
    names = sorted(p.name for p in paths)
    assert names == ["cpu.json", "cpu.md", "cpu_batch.png", "cpu_memory.png", "cpu_size.png"]
    assert json.loads((tmp_path / "out" / "cpu.json").read_text()) == result
    assert all(p.stat().st_size > 0 for p in paths)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names  # no temporary files left
    # a directory names the file after the device kind
    (tmp_path / "dir").mkdir()
    assert write_results(result, tmp_path / "dir")[0] == tmp_path / "dir" / "cpu.json"


def test_cli_checks_the_output_before_running(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["bench", "--quick", "--out", str(blocker / "cpu.json")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["bench", "--quick", "--out", str(tmp_path / "result.txt")]) == 2
    assert "expected a .json file name" in capsys.readouterr().err


def test_cli_runs_selected_sections(tmp_path, capsys):
    assert (
        main(["bench", "--quick", "--sections", "roofline", "--repeats", "1", "--out", str(tmp_path / "r.json")]) == 0
    )
    out = capsys.readouterr().out
    assert "Roofline (256x256)" in out and f"wrote {tmp_path / 'r.json'}" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert "roofline" in saved and "generator_batch" not in saved and saved["meta"]["settings"]["repeats"] == 1


def test_original_cost_matches_the_reference(shared_reference):
    stats = json.loads((shared_reference / "original_stats.json").read_text())["seconds_per_item_octave"]
    assert stats == ORIGINAL_OCTAVE_SECONDS


def test_presets_are_timed_relative_to_original(suite):
    result, _, _ = suite
    rows = {r["preset"]: r for r in result["presets"]["rows"]}
    assert set(rows) == {"original", "randomised"}
    assert all(_timed(r) for r in rows.values())
    assert rows["original"]["relative_to_original"] == 1.0
    assert math.isclose(
        rows["randomised"]["relative_to_original"], rows["randomised"]["items_per_s"] / rows["original"]["items_per_s"]
    )
    assert "| randomised |" in suite[2] and "'randomised' preset within 2x of 'original'" in suite[2]
