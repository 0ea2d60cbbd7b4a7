"""benchmarks/fidelity.py: the pass rule and the report table (no generation)."""

from __future__ import annotations

import pytest

from . import load

fidelity = load("fidelity")


def _row(mean, ref_mean, ref_std, z=0.0, passed=True):
    return {"mean": mean, "std": 0.1, "ref_mean": ref_mean, "ref_std": ref_std, "z": z, "pass": passed}


@pytest.mark.parametrize(
    "stat, row, n_scenes, passes",
    [
        ("contrast", _row(1.0, 1.0, 0.5, z=0.9), 42, True),
        ("contrast", _row(1.0, 1.0, 0.5, z=-1.1), 42, False),
        ("psd_bin3", _row(1.0, 1.0, 0.5, z=1.9), 42, True),  # spectrum bins get 2 sd
        ("n_boutons", _row(7.01, 7.0, 0.0), 42, True),  # zero spread: within 1 / n_ref
        ("n_boutons", _row(7.05, 7.0, 0.0), 42, False),
    ],
)
def test_verdict(stat, row, n_scenes, passes):
    assert fidelity.verdict(stat, row, n_scenes) is passes


def test_markdown_has_one_row_per_statistic_and_two_columns_per_mode():
    stats = {"contrast": _row(1.0, 1.2, 0.5, z=-0.4), "n_boutons": _row(7.2, 7.0, 0.0, passed=False)}
    report = {"modes": {"fixed": {"stats": stats}, "original": {"stats": stats}}}
    header, rule, *rows = fidelity.markdown(report).splitlines()
    assert header.count("|") == rule.count("|") == 7 and len(rows) == 2
    assert rows[0].startswith("| contrast | 1.2 ± 0.5 | 1 ± 0.1 | -0.40 |") and "✗" in rows[1]
