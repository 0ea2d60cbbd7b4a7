"""Dataset integrity (jaxaxon.data.integrity): damaged chunks are detected on read, by `verify` and by
`evaluate`, named by example, and rewritten byte-identically by a re-run of `generate`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import jaxaxon.data.dataset as dataset_module
from jaxaxon.cli import main
from jaxaxon.data import DatasetError, open_dataset, verify_dataset, write_dataset
from jaxaxon.data.integrity import describe_examples
from jaxaxon.data.layout import read_attributes
from jaxaxon.eval.evaluate import load_labelled

from .dataset_reference import BATCH, SEED, N


def _flip_100_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(100, 200):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-30])


# (damage, chunk file, damaged examples)
DAMAGE = {
    "deleted image chunk": (lambda p: p.unlink(), "images/c/1/0/0", range(4, 8)),
    "100 flipped bytes in an image chunk": (_flip_100_bytes, "images/c/1/0/0", None),
    "truncated last image chunk": (_truncate, "clean_images/0/c/2/0/0", range(8, 10)),
    "100 flipped bytes in a metadata chunk": (_flip_100_bytes, "metadata/centerlines/c/0/0/0/0", range(0, 4)),
    "deleted metadata chunk": (lambda p: p.unlink(), "metadata/gap/c/2/0/0", range(8, 10)),
}


def _damage(root: Path, case: str) -> tuple[str, Path]:
    fn, rel, _ = DAMAGE[case]
    fn(root / rel)
    array = rel.split("/c/")[0]
    return array, root / rel


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_detected_named_and_repaired_byte_identically(
    case, dataset_copy, reference_dataset, small_cfg, tree, capsys
):
    array, _ = _damage(dataset_copy, case)
    name = next(n for n, a in read_attributes(dataset_copy)["arrays"].items() if a["path"] == array)
    expected = DAMAGE[case][2]

    report = verify_dataset(dataset_copy)
    assert not report.ok and {d.array for d in report.damage} == {array}
    bad = report.damaged_examples
    if expected is not None:
        assert bad == tuple(expected)
    else:  # flipped bytes inside one inner chunk: that example (or two) only
        assert 1 <= len(bad) <= 2 and all(4 <= i < 8 for i in bad)

    ds = open_dataset(dataset_copy)  # opening is cheap and does not read chunks
    with pytest.raises(DatasetError) as err:
        ds.read(slice(0, N))
    message = str(err.value)
    assert "\n" not in message and str(dataset_copy) in message and repr(array) in message
    assert describe_examples(bad) in message and "jaxaxon verify" in message
    with pytest.raises(DatasetError, match=describe_examples(bad)):
        next(ds.batches(N, names=[name]))
    intact = next(i for i in range(N) if i not in bad and i // BATCH not in {b // BATCH for b in bad})
    ds.read(intact)  # examples in intact chunks still read

    assert main(["verify", str(dataset_copy)]) == 2
    out = capsys.readouterr().out
    assert f"{len(bad)} of {N} examples damaged ({describe_examples(bad)})" in out and repr(array) in out

    summary = write_dataset(dataset_copy, small_cfg, N, seed=SEED, batch_size=BATCH)
    assert summary.repaired == bad and summary.written == 0
    assert tree.bytes(dataset_copy) == tree.bytes(reference_dataset)
    assert verify_dataset(dataset_copy).ok


def test_evaluate_names_the_damaged_examples(dataset_copy):
    _damage(dataset_copy, "deleted image chunk")
    with pytest.raises(DatasetError, match=r"'images' examples 4-7: chunk file missing"):
        load_labelled(dataset_copy)


@pytest.mark.parametrize("garbage", [b"\x00\xffgarbage", b"{not json", b"[]"])
def test_evaluate_on_a_garbage_zarr_json_says_the_dataset_is_damaged(garbage, dataset_copy, capsys):
    (dataset_copy / "zarr.json").write_bytes(garbage)
    with pytest.raises(DatasetError, match="zarr.json"):
        load_labelled(dataset_copy)
    assert main(["verify", str(dataset_copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "zarr.json" in err and "unsupported" not in err


def test_clean_dataset_verifies_and_is_left_alone(dataset_copy, small_cfg, tree, capsys):
    before = tree.state(dataset_copy)
    assert main(["verify", str(dataset_copy)]) == 0
    assert f"{N} examples intact" in capsys.readouterr().out
    summary = write_dataset(dataset_copy, small_cfg, N, seed=SEED, batch_size=BATCH)
    assert summary.written == 0 and summary.repaired == ()
    assert tree.state(dataset_copy) == before


def test_layout_has_a_checksum_on_every_chunk(reference_dataset):
    attrs = json.loads((reference_dataset / "zarr.json").read_text())["attributes"]["jaxaxon"]
    assert attrs["format_version"] == 3
    images = json.loads((reference_dataset / "images" / "zarr.json").read_text())
    shard = images["codecs"][0]["configuration"]
    assert shard["codecs"][-1]["name"] == "crc32c" and shard["index_codecs"][-1]["name"] == "crc32c"
    meta = json.loads((reference_dataset / "metadata" / "failed_cells" / "zarr.json").read_text())
    assert meta["codecs"][-1]["name"] == "crc32c"
    # every chunk is stored, also those equal to the fill value
    for name, record in attrs["arrays"].items():
        assert len(list((reference_dataset / record["path"] / "c").iterdir())) == 3, name


def test_old_format_dataset_reads_and_is_not_resumed(small_cfg, reference_dataset, tmp_path, tree):
    old = tmp_path / "old.zarr"
    write_dataset(old, small_cfg, N, seed=SEED, batch_size=BATCH, format_version=1)
    images = json.loads((old / "images" / "zarr.json").read_text())
    assert all(c["name"] != "crc32c" for c in images["codecs"][0]["configuration"]["codecs"])
    ds = open_dataset(old)
    np.testing.assert_array_equal(ds[0:N]["images"], open_dataset(reference_dataset)[0:N]["images"])
    report = verify_dataset(old)
    assert report.ok and report.format_version == 1 and "format 1" in report.lines()[-1]
    before = tree.state(old)
    with pytest.raises(DatasetError, match="dataset format: existing 1, requested 3"):
        write_dataset(old, small_cfg, N, seed=SEED, batch_size=BATCH)
    assert tree.state(old) == before


class _Failed:
    """Stands in for a tensorstore write future whose commit failed."""

    def __init__(self, error: Exception):
        self.commit = self
        self.error = error

    def result(self):
        raise self.error


def test_full_disk_is_one_line_and_the_rerun_completes(
    small_params, reference_dataset, tmp_path, tree, monkeypatch, capsys
):
    out = tmp_path / "full.zarr"
    real = dataset_module._write_arrays
    full = ValueError('RESOURCE_EXHAUSTED: Error writing local file "x": [OS error 28: No space left on device]')

    def write_until_full(arrays, names, lo, hi, host):
        return real(arrays, names, lo, hi, host) if lo < BATCH else [_Failed(full)]

    monkeypatch.setattr(dataset_module, "_write_arrays", write_until_full)
    argv = ["generate", "--n", str(N), "--out", str(out), "--params", str(small_params), "--seed", str(SEED),
            "--batch", str(BATCH)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        f"jaxaxon generate: error: no space left on device writing {out}; "
        "free space and re-run the same command to resume"
    )
    monkeypatch.setattr(dataset_module, "_write_arrays", real)
    assert main(argv) == 0
    assert tree.bytes(out) == tree.bytes(reference_dataset)


def test_generate_rerun_reports_the_rewritten_examples(small_params, dataset_copy, reference_dataset, tree, capsys):
    (dataset_copy / "labels" / "bouton_labels" / "0" / "c" / "0" / "0" / "0").unlink()
    argv = ["generate", "--n", str(N), "--out", str(dataset_copy), "--params", str(small_params), "--seed", str(SEED)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"rewrote the damaged chunks of {dataset_copy}: 4 of {N} images were damaged (0-3)" in out
    assert tree.bytes(dataset_copy) == tree.bytes(reference_dataset)


def test_describe_examples():
    assert describe_examples([7, 1, 2, 3, 9, 10]) == "1-3, 7, 9-10"
    assert describe_examples(range(0, 40, 2)).endswith("and 8 more")


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 192 KiB tmpfs (skips without the privilege to mount one)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "none", str(mnt)], capture_output=True)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs needs privileges")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_a_real_full_disk_is_one_line_and_the_rerun_completes(
    small_tmpfs, small_params, reference_dataset, tree, capsys
):
    out = small_tmpfs / "full.zarr"
    argv = ["generate", "--n", str(N), "--out", str(out), "--params", str(small_params), "--seed", str(SEED),
            "--batch", str(BATCH)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"jaxaxon generate: error: no space left on device writing {out}; free space")
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_tmpfs)], check=True)
    assert main(argv) == 0
    assert tree.bytes(out) == tree.bytes(reference_dataset)


@pytest.mark.parametrize("case", ["deleted image chunk", "garbage zarr.json"])
def test_evaluate_cli_on_a_damaged_dataset_is_one_line_exit_2(case, tiny_run, dataset_copy, tmp_path, capsys):
    if case == "garbage zarr.json":
        (dataset_copy / "zarr.json").write_text("{garbage")
        expected = "zarr.json is not valid JSON"
    else:
        _damage(dataset_copy, case)
        expected = "array 'images' examples 4-7: chunk file missing"
    argv = ["evaluate", "--checkpoint", str(tiny_run[0]), "--data", str(dataset_copy), "--out", str(tmp_path / "ev")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("jaxaxon evaluate: error:") and expected in err
