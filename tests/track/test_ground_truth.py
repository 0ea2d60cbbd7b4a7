"""Ground-truth tracks of a generated series, and the metrics on them."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxaxon
from jaxaxon.track import (
    centreline_accuracy,
    event_scores,
    series_centrelines,
    series_tracks,
    track_events,
    tracking_scores,
)

from ..conftest import SMALL

# the config of tests/synth/test_series.py (one compilation when both modules run)
SERIES = SMALL.replace(NbImages=4, maxRotAngle=4, probBoutonInFirstImage=0.3)


@pytest.fixture(scope="module")
def series():
    batch = jaxaxon.generate_series(jax.random.key(0), SERIES, 1)
    return jax.tree.map(lambda x: np.asarray(x[0]), batch)


def test_series_tracks_follow_visibility(series):
    gt = series_tracks(series.bouton_centers, series.bouton_visible, series.bouton_valid)
    shown = series.bouton_visible & series.bouton_valid[:, None]  # [NBOU, T]
    assert gt.n_frames == SERIES.NbImages and len(gt) == shown.sum() > 0
    for t in range(gt.n_frames):
        ids, pts = gt.in_frame(t)
        assert ids.tolist() == np.flatnonzero(shown[:, t]).tolist()
        assert np.allclose(pts, series.bouton_centers[t, ids])
    # boutons show in one run of frames: a gain at the first frame (if > 0), a loss after the last
    ev = track_events(gt)
    assert len(ev["gain"][0]) and len(ev["loss"][0])  # key 0 has both (checked: 2 gains, 2 losses)
    first, end = series.bouton_first_frame, series.bouton_first_frame + series.bouton_duration
    placed = np.flatnonzero(series.bouton_valid)
    assert sorted(ev["gain"][1].tolist()) == sorted(b for b in placed if first[b] > 0)
    assert sorted(ev["loss"][1].tolist()) == sorted(b for b in placed if end[b] < SERIES.NbImages)
    assert all(t == first[b] for t, b in zip(ev["gain"][0], ev["gain"][1]))
    assert all(t == end[b] for t, b in zip(ev["loss"][0], ev["loss"][1]))


def test_metrics_of_ground_truth_against_itself(series):
    gt = series_tracks(series.bouton_centers, series.bouton_visible, series.bouton_valid)
    s = tracking_scores(gt, gt, gate=2.0)
    assert s["mota"] == 1.0 and s["id_switches"] == 0 and s["motp"] == 0.0 and s["idf1"] == 1.0
    assert event_scores(gt, gt, gate=2.0)["events"]["f1"] == 1.0
    cl, ok = series_centrelines(series.centerlines, series.centerline_valid, SERIES.NbImages - 1)
    assert centreline_accuracy(cl[ok], cl, ok) == 0.0


def test_bad_shapes(series):
    with pytest.raises(ValueError, match="bouton_visible"):
        series_tracks(series.bouton_centers, series.bouton_visible.T, series.bouton_valid)
    with pytest.raises(ValueError, match="out of range"):
        series_centrelines(series.centerlines, series.centerline_valid, SERIES.NbImages)
