"""`jaxaxon preview`: argument and output path errors are one line (exit 2), nothing written."""

from __future__ import annotations

import pytest

from jaxaxon.cli import main


def test_seed_out_of_range_names_the_valid_range(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["preview", "--seed", "1180591620717411303424", "--out", str(tmp_path / "p.png")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "jaxaxon preview: error: argument --seed: expected a seed in 0..4294967295, got 1180591620717411303424"
        " (see jaxaxon preview --help)"
    )


@pytest.mark.parametrize(
    "out, message",
    [("notes.txt", "expected a file name ending in .png"), ("a_dir", "is a folder"), ("notes.txt/p.png", "is a file")],
)
def test_out_that_cannot_be_a_png_is_refused(out, message, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "a_dir").mkdir()
    assert main(["preview", "--n", "1", "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"jaxaxon preview: error: --out {tmp_path / out}: ") and message in err and "\n" not in err
    assert (tmp_path / "notes.txt").read_text() == "keep me" and not list((tmp_path / "a_dir").iterdir())
