"""Output path checks made before any work (jaxaxon.outpaths)."""

from __future__ import annotations

import os

import pytest

from jaxaxon.outpaths import OutputPathError, check_output_file, check_output_folder


def test_output_folders(tmp_path):
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()
    assert check_output_folder(tmp_path) == tmp_path
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    with pytest.raises(OutputPathError, match=r"^--out .*a_file: is an existing file, not a folder"):
        check_output_folder(a_file)
    with pytest.raises(OutputPathError, match=r"^--workdir .*a_file/run: cannot be created, .*a_file is a file"):
        check_output_folder(a_file / "run", "--workdir")
    assert a_file.read_text() == "keep me"


def test_output_files(tmp_path):
    assert check_output_file(tmp_path / "sub" / "p.png", (".png",)) == tmp_path / "sub" / "p.png"
    (tmp_path / "old.PNG").write_bytes(b"old")
    check_output_file(tmp_path / "old.PNG", (".png",))  # an existing picture is replaced
    with pytest.raises(OutputPathError, match="expected a file name ending in .png"):
        check_output_file(tmp_path / "data.npy", (".png",))
    (tmp_path / "d.png").mkdir()
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path / "d.png", (".png",))
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputPathError, match="cannot be created"):
        check_output_file(tmp_path / "f" / "p.png", (".png",))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputPathError, match="permission denied"):
            check_output_folder(ro / "out")
        with pytest.raises(OutputPathError, match="permission denied"):
            check_output_folder(ro)
    finally:
        ro.chmod(0o700)
