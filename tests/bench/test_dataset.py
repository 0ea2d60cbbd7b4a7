"""The dataset benchmark runs and reports what it claims (no timing assertions)."""

from __future__ import annotations

import json

from jaxaxon.bench.dataset import LABELS, MEASUREMENTS, lines, run_dataset_benchmark


def test_dataset_benchmark_smoke(small_cfg, tmp_path):
    # batch 4 with the small config: the generator compile the dataset tests use
    result = run_dataset_benchmark(small_cfg, 8, 4, repeats=1, workdir=tmp_path)
    json.dumps(result)
    assert set(result["examples_per_s"]) == set(MEASUREMENTS)
    assert all(v > 0 for v in result["examples_per_s"].values())
    assert result["bytes_on_disk"] > 0 and result["example_shape"] == [64, 64]
    assert list(tmp_path.iterdir()) == []  # its datasets are cleaned up
    head, blank, *table = lines(result)
    assert head.startswith("8 images of 64x64, batch 4") and blank == ""
    assert "images/s (median)" in table[0] and len(table) == 2 + len(MEASUREMENTS) + 4
    assert table[-3].startswith("| checks cost (storage-only format 2 - format 1) / write format 1 |")
    assert result["checks_cost"] < 1 and result["checks_cost_cpu"] < 1 and result["verify_over_write"] > 0
    assert result["bytes_per_example_format1"] > 0 and len(result["cpu_seconds"]["store_only"]) == 3
    for measurement, row in zip(MEASUREMENTS, table[2:]):
        assert row.startswith(f"| {LABELS[measurement]} | {result['examples_per_s'][measurement]:.1f} |")
