"""The sim-to-real experiment: option checks, per-set held-out folders, the results table (no training)."""

from __future__ import annotations

import argparse

from jaxaxon.experiments import protocol as rp
from jaxaxon.experiments import sim2real

ENV = {"device": "cpu", "platform": "cpu", "cpu_count": 2, "jax": "0.10"}


def test_unknown_sets_are_refused_before_anything_is_written(shared_real, tmp_path, capsys):
    out = tmp_path / "out"
    assert sim2real.main(["--out", str(out), "--real", str(shared_real), "--sets", "bass2017,nope"]) == 2
    assert "--sets: expected names among bass2017, vesselnn" in capsys.readouterr().err
    assert not out.exists()


def test_each_set_gets_its_own_held_out_folder(shared_real, tmp_path):
    parser = argparse.ArgumentParser()
    rp.add_arguments(parser)
    folds = rp.prepare_folds(parser.parse_args(["--real", str(shared_real)]), tmp_path)
    dirs = sim2real._test_dirs(folds, tmp_path)
    assert sorted(p.name for p in dirs["vesselnn"].iterdir()) == ["santos2015_lowContrastVessels.npz"]
    assert sorted(p.name for p in dirs["bass2017"].iterdir()) == ["bouton_boxes.json", "images"]
    assert sorted(p.name for p in (dirs["bass2017"] / "images").iterdir()) == ["01.png", "02.png", "08.png", "09.png"]
    sim2real._test_dirs(folds, tmp_path)  # rebuilt in place: only the links are replaced
    assert (shared_real / "bass2017" / "images" / "01.png").is_file()


def test_training_images_are_the_training_fold_without_labels(shared_real, tmp_path):
    parser = argparse.ArgumentParser()
    rp.add_arguments(parser)
    args = parser.parse_args(["--real", str(shared_real)])
    folds = rp.prepare_folds(args, tmp_path)
    bass = sim2real._training_images(args, folds, "bass2017")
    vessels = sim2real._training_images(args, folds, "vesselnn")
    assert len(bass) == 7 and all(x.shape == (512, 512) for x in bass)
    assert len(vessels) == 25  # 15 + 10 slices of the two training volumes


def test_results_table_has_one_row_per_run_and_baseline():
    result = {
        "command": "python scripts/sim2real_experiment.py", "environment": ENV, "folds_text": "folds",
        "training": {"preset": "real", "steps": 10, "batch_size": 8, "crop": 96},
        "runs": [{"set": "bass2017", "seed": 0, "zoom": "0.941", "train_seconds": 12.4, "bouton_f1": 0.61234},
                 {"set": "vesselnn", "seed": 0, "zoom": "0.5", "train_seconds": 3.0, "dice": 0.5}],
        "baselines": [{"name": "LoG blobs", "bouton_f1": 0.7}],
    }  # fmt: skip
    rows = [line for line in sim2real.markdown(result).splitlines() if line.startswith("|")]
    header, _, *body = rows
    assert len(body) == 3
    assert body[0].startswith("| bass2017 | 0 | 0.941 |") and "0.612" in body[0]
    assert body[2].startswith("| LoG blobs |") and "0.700" in body[2]
    assert "input zoom" in header


def test_calibrate_set_passes_its_options_and_reuses_a_written_file(tmp_path, monkeypatch):
    import jaxaxon.calibrate

    calls = []

    class Done:
        params = {"preset": "realistic"}

    def fake(images, **options):
        calls.append(options)
        return Done()

    monkeypatch.setattr(jaxaxon.calibrate, "calibrate", fake)
    path = tmp_path / "calib" / "bass2017.json"
    options = {"profile": "bar", "psf": "spectrum", "corrections": 4, "depth": "mean"}
    assert sim2real.calibrate_set([], path, log=lambda _: None, **options) == path
    assert calls == [{"profile": "bar", "psf": "spectrum", "corrections": 4, "depth_mode": "mean"}] and path.is_file()
    sim2real.calibrate_set([], path, log=lambda _: None)
    assert len(calls) == 1
