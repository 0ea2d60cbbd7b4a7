"""The experiments' protocol: folds, option checks, results tables.

Fast: no training. The folds use the development images and skip without them.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from jaxaxon.experiments import mixing as mixing_experiment
from jaxaxon.experiments import pretrain as pretrain_finetune
from jaxaxon.experiments import protocol as rp


def _args(shared_real: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    rp.add_arguments(parser)
    return parser.parse_args(["--real", str(shared_real), *extra])


def test_folds_hold_out_the_test_images_without_copying(shared_real, tmp_path):
    folds = rp.prepare_folds(_args(shared_real), tmp_path)
    assert folds.heads == ("axon", "bouton")
    assert folds.train_include == ("burgess2014_bbbDisruption_z*", "burgess2014_noisySparseVessels_z*",
                                   "04", "05", "06", "07", "10", "11", "12")  # fmt: skip
    test = folds.test_dir
    assert (test / "santos2015_lowContrastVessels.npz").is_symlink()
    assert sorted(p.name for p in (test / "images").iterdir()) == ["01.png", "02.png", "08.png", "09.png"]
    assert all(p.is_symlink() for p in (test / "images").iterdir())
    boxes = json.loads((test / "bouton_boxes.json").read_text())
    assert sorted(boxes) == ["01", "02", "08", "09"]
    assert folds.description["boxes_train"] + folds.description["boxes_test"] == 220
    # rebuilding the folds replaces the symlinks, never the shared files
    rp.prepare_folds(_args(shared_real), tmp_path)
    assert (shared_real / "bass2017" / "images" / "01.png").is_file()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--bass-test", "01,08"], "08 and 09 overlap; keep them in the same fold"),
        (["--bass-test", "03"], "unknown bass2017 images ['03']"),
        (["--test-volumes", "burgess2014_bbbDisruption"], "both trained on and held out"),
        (["--train-volumes", "nope"], "nope.npz: no such volume"),
        (["--bass-test", "01,02,04,05,06,07,08,09,10,11,12"], "none is left to train on"),
    ],
)
def test_bad_folds(shared_real, tmp_path, extra, message):
    with pytest.raises(rp.ProtocolError, match=re.escape(message)):
        rp.prepare_folds(_args(shared_real, *extra), tmp_path)


@pytest.mark.parametrize(
    "script, extra, message",
    [
        (mixing_experiment, ["--shares", "1,1.5"], "--shares: expected fractions in 0..1"),
        (mixing_experiment, ["--seeds", "a"], "--seeds: expected comma-separated integers"),
        (pretrain_finetune, ["--real-share", "2"], "--real-share: expected a fraction in 0..1"),
        (pretrain_finetune, ["--preset", "unet"], "no matching autoencoder preset"),
        (pretrain_finetune, ["--ae-preset", "quick"], "not an autoencoder preset"),
    ],
)
def test_scripts_refuse_bad_options_before_training(shared_real, tmp_path, capsys, script, extra, message):
    out = tmp_path / "out"
    assert script.main(["--out", str(out), "--real", str(shared_real), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not any(p.name.startswith(("real", "pretrain", "scratch", "finetune")) for p in out.glob("*"))


def test_real_is_a_required_option(capsys):
    parser = argparse.ArgumentParser()
    rp.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert "--real" in capsys.readouterr().err


def test_scripts_are_thin_entry_points():
    scripts = Path(__file__).resolve().parents[2] / "scripts"
    for path in scripts.glob("*.py"):
        text = path.read_text()
        assert "sys.path" not in text and "shared/" not in text, path.name
