"""benchmarks/fingerprint.py: batch fingerprints and the comparison of two runs."""

from __future__ import annotations

import json

import pytest

from ..conftest import SMALL
from . import load

fingerprint = load("fingerprint")

pytestmark = pytest.mark.bench


def _row(preset, batch, sha, accessed):
    return {"preset": preset, "batch": batch, "sha256": sha, "bytes_accessed_per_image": accessed}


def test_compare_reports_identity_and_the_byte_ratio():
    old = [_row("original", 8, "a", 100e6), _row("realistic", 8, "b", 80e6)]
    new = [_row("original", 8, "a", 75e6), _row("realistic", 8, "c", 40e6), _row("randomised", 8, "d", 1e6)]
    lines, same = fingerprint.compare(new, old)
    assert not same
    assert lines[2] == "| original | 8 | yes | 100.0 | 75.0 | 0.75 |"
    assert lines[3] == "| realistic | 8 | **no** | 80.0 | 40.0 | 0.50 |"
    assert "not in the old run" in lines[4]
    assert fingerprint.compare(new[:1], old)[1]


def test_digest_is_reproducible_and_follows_the_images():
    a = fingerprint.batch_digest(SMALL, 2)
    assert a == fingerprint.batch_digest(SMALL, 2)
    assert a != fingerprint.batch_digest(SMALL.replace(sigma_noise_max=2 * SMALL.sigma_noise_max + 0.1), 2)


def test_main_writes_and_compares(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fingerprint.GeneratorConfig, "from_preset", classmethod(lambda cls, name: SMALL))
    first = tmp_path / "first.json"
    assert fingerprint.main(["--presets", "small", "--batches", "2", "--out", str(first)]) == 0
    saved = json.loads(first.read_text())
    (row,) = saved["rows"]
    assert row["preset"] == "small" and row["batch"] == 2 and row["bytes_accessed_per_image"] > 0
    assert fingerprint.main(["--presets", "small", "--batches", "2", "--compare", str(first)]) == 0
    assert "| small | 2 | yes |" in capsys.readouterr().out
    saved["rows"][0]["sha256"] = "0" * 64
    first.write_text(json.dumps(saved))
    assert fingerprint.main(["--presets", "small", "--batches", "2", "--compare", str(first)]) == 1
