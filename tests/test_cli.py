"""`jaxaxon` command line: usage errors are one line with exit status 2."""

from __future__ import annotations

import pytest

from jaxaxon.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "--checkpoint", "x", "--input", "y", "--out", "z", "--threshold", "2"], "--threshold"),
        (["preview", "--seed", "1180591620717411303424"], "expected a seed in 0..4294967295"),
        (["evaluate", "--checkpoint", "x", "--data", "y", "--frangi-sigmas", "abc"], "expected a positive number"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("jaxaxon") and message in err, err
