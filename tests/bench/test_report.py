"""Result naming and output-path checks of the benchmark report."""

from __future__ import annotations

import pytest

from jaxaxon.bench.report import OutputError, resolve_out, result_name
from jaxaxon.bench.timing import MemorySampler, load_average


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


def test_memory_sampler_sees_an_allocation():
    import numpy as np

    with MemorySampler(interval=0.001) as sampler:
        block = np.ones(64 * 2**20 // 8)  # 64 MB, touched
        block += 1
    peak, source = sampler.peak()
    assert source in ("rss", "device", "rss_lifetime") and peak > 64 * 2**20
    assert load_average() is None or len(load_average()) == 3


def _result(kind: str, rate: float, overhead: float) -> dict:
    backend = "cpu" if kind == "cpu" else "gpu"
    row = {"batch": 8, "items_per_s": rate}
    training = {"rows": [{"name": "original (float32)", "generation_overhead_fraction": overhead}]}
    return {
        "meta": {"device": {"backend": backend, "device_kind": kind}},
        "generator_batch": {"image_shape": [256, 256], "rows": [row]},
        "training": training,
    }


def test_targets_follow_the_device_kind():
    from jaxaxon.bench.report import _target_lines

    assert _target_lines(_result("cpu", 31.0, 0.5)) == [
        "Targets:",
        "- complete 256x256 generator >= 30 images/s on cpu: 31.0 (met)",
        "",
    ]
    h100 = _target_lines(_result("NVIDIA H100 80GB HBM3", 40_000.0, 0.05))
    assert "50,000 images/s on h100: 40,000.0 (**missed**)" in h100[1] and "5.0% (met)" in h100[2]
    assert _target_lines(_result("NVIDIA A100", 1e6, 0.0)) == []  # no target stated for that device
