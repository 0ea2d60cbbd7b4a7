"""Tracking end to end: the tracker on generated series, `jaxaxon evaluate` on series, `jaxaxon track`."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

import jaxaxon
from jaxaxon.cli import main
from jaxaxon.track import TrackerConfig, Tracks, event_scores, series_tracks, tracking_scores
from jaxaxon.track.pipeline import pool_scores, track_points
from jaxaxon.train import train


def test_tracker_recovers_default_series_from_true_detections():
    """The issue's acceptance: series of the default parameters (256x256, 6 frames, rotations up
    to 4 degrees), ground-truth detections, registration from the noisy frames: MOTA >= 0.8."""
    batch = jax.tree.map(np.asarray, jaxaxon.generate_series(jax.random.key(0), jaxaxon.GeneratorConfig(), 2))
    scores = []
    for b in range(2):
        gt = series_tracks(batch.bouton_centers[b], batch.bouton_visible[b], batch.bouton_valid[b])
        pred = track_points(batch.image[b], [gt.in_frame(t)[1] for t in range(gt.n_frames)], TrackerConfig())
        s = tracking_scores(gt, pred, 4.0)
        assert s["tp"] == s["n_gt"] and s["fp"] == 0  # every point kept where it was
        assert s["mota"] >= 0.8
        scores.append({"bouton_tracking": s, "bouton_events": event_scores(gt, pred, 4.0)})
    pooled = pool_scores(scores)["bouton_tracking"]
    assert pooled["n_gt"] == sum(s["bouton_tracking"]["n_gt"] for s in scores)
    switches = sum(s["bouton_tracking"]["id_switches"] for s in scores)
    assert pooled["mota"] == pytest.approx(1 - switches / pooled["n_gt"])


def test_pool_scores_sums_counts():
    gt = Tracks.from_rows([(0, 0, 5.0, 5.0), (1, 0, 5.0, 5.0), (1, 1, 20.0, 20.0)], 2)
    pred = Tracks.from_rows([(0, 3, 5.0, 5.0), (1, 3, 5.5, 5.0), (1, 4, 40.0, 40.0)], 2)
    one = {"bouton_tracking": tracking_scores(gt, pred, 2.0), "bouton_events": event_scores(gt, pred, 2.0)}
    pooled = pool_scores([one, one])["bouton_tracking"]
    # per series: 2 hits, 1 miss (id 1), 1 false positive (id 4)
    assert (pooled["tp"], pooled["fn"], pooled["fp"], pooled["n_gt"]) == (4, 2, 2, 6)
    assert pooled["mota"] == pytest.approx(1 - 4 / 6) and pooled["precision"] == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def bouton_run(tiny, tmp_path_factory):
    """A 4-step tiny run with both heads (the tracker needs a bouton head)."""
    workdir = tmp_path_factory.mktemp("bouton_run") / "run"
    train(workdir, tiny.replace(**{"model.heads": ["axon", "bouton"], "steps": 4}), progress=False, log=lambda s: None)
    return workdir


def test_evaluate_on_a_series_dataset(bouton_run, series_dataset, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(bouton_run), "--data", str(series_dataset), "--out", str(out),
                 "--detections", "truth", "--gate", "3"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "bouton tracking: MOTA" in printed and "centreline tracking accuracy" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["detections"] == "truth" and metrics["tracker"]["gate"] == 3.0
    assert 0 <= metrics["segmentation"]["dice"] <= 1
    pooled = metrics["tracking"]["pooled"]
    # ground-truth detections: every true point is found at its place, only identities can differ
    assert pooled["bouton_tracking"]["fn"] == 0 and pooled["bouton_tracking"]["fp"] == 0
    assert pooled["centreline_accuracy"]["n_points"] > 0
    assert [s["name"] for s in metrics["tracking"]["per_series"]] == ["s_000000", "s_000001"]
    back = Tracks.from_csv(out / "s_000000_tracks.csv", n_frames=4)
    assert len(back) == pooled["bouton_tracking"]["n_pred"] - metrics["tracking"]["per_series"][1][
        "bouton_tracking"]["n_pred"]  # fmt: skip
    assert (out / "s_000001_overlay.png").stat().st_size > 0


def test_track_writes_tracks_and_overlays(bouton_run, tmp_path, capsys):
    frames = np.asarray(jaxaxon.generate_series(jax.random.key(1), _small_series(), 1).image[0])
    np.savez(tmp_path / "movie.npz", frames=frames)
    out = tmp_path / "tracks"
    assert main(["track", "--checkpoint", str(bouton_run), "--input", str(tmp_path / "movie.npz"),
                 "--out", str(out)]) == 0  # fmt: skip
    assert "movie: " in capsys.readouterr().out
    record = json.loads((out / "tracks.json").read_text())
    tracks = Tracks.from_csv(out / "movie_tracks.csv", n_frames=frames.shape[0])
    assert record["series"][0]["n_points"] == len(tracks) and math.isfinite(record["zoom"])
    assert (out / "movie_overlay.png").is_file()


def _small_series():
    from .test_ground_truth import SERIES

    return SERIES


@pytest.mark.parametrize(
    "argv, message",
    [
        (["track", "--input", "{one}"], "a series of 1 frame; tracking needs at least 2"),
        (["track", "--input", "{nothing}"], "no such file or folder"),
        (["evaluate", "--series", "--data", "{unlabelled}"], "no ground truth (bouton tracks or axon masks)"),
        (["track", "--input", "{unlabelled}", "--gate", "-1"], "argument --gate: expected a positive finite number"),
    ],
)
def test_bad_series_input_is_one_line(argv, message, bouton_run, tmp_path, capsys):
    np.savez(tmp_path / "one.npz", frames=np.zeros((1, 16, 16)))
    np.savez(tmp_path / "unlabelled.npz", frames=np.random.default_rng(0).random((3, 16, 16)))
    paths = {"one": tmp_path / "one.npz", "nothing": tmp_path / "nothing", "unlabelled": tmp_path / "unlabelled.npz"}
    argv = [a.format(**paths) for a in argv] + ["--checkpoint", str(bouton_run), "--out", str(tmp_path / "o")]
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"jaxaxon {argv[0]}: error: ") and message in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_axon_only_checkpoint_cannot_track(tiny_run, tmp_path, capsys):
    np.savez(tmp_path / "m.npz", frames=np.zeros((2, 16, 16)))
    assert main(["track", "--checkpoint", str(tiny_run[0]), "--input", str(tmp_path / "m.npz"),
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert "needs a segmentation checkpoint with bouton head(s)" in capsys.readouterr().err
