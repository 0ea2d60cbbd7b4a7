"""Tracking metrics on hand-made cases with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxaxon.track import (
    Tracks,
    centreline_accuracy,
    centreline_accuracy_details,
    event_scores,
    match_points,
    track_events,
    tracking_scores,
)


def _lines(*branches):
    """``[NB, NSP, 2]`` centrelines and ``[NB, NSP]`` valid from lists of points (padded)."""
    nsp = max(len(b) for b in branches)
    cl, ok = np.zeros((len(branches), nsp, 2)), np.zeros((len(branches), nsp), bool)
    for i, b in enumerate(branches):
        cl[i, : len(b)], ok[i, : len(b)] = b, True
    return cl, ok


# ---- centreline accuracy ---------------------------------------------------------------


def test_point_on_the_line_is_zero():
    cl, ok = _lines([(0, c) for c in range(10)])
    assert centreline_accuracy([(0, 3.5), (0, 7)], cl, ok) == 0.0


def test_perpendicular_distance_3_4_5():
    # line through (0, 0) and (3, 4); q = (0, 5): |3*5 - 4*0| / 5 = 3, while the points are
    # at 5 and sqrt(10) from q
    cl, ok = _lines([(0, 0), (3, 4)])
    assert centreline_accuracy([(0, 5)], cl, ok, window=6) == pytest.approx(3.0)


def test_window_decides_point_or_line_distance():
    # q = (3, 4): (0, 0) at 5, (0, 10) at sqrt(45) ~ 6.71; the line through both is row 0
    cl, ok = _lines([(0, 0), (0, 10)])
    assert centreline_accuracy([(3, 4)], cl, ok, window=5.5) == pytest.approx(5.0)  # one candidate
    assert centreline_accuracy([(3, 4)], cl, ok, window=7.0) == pytest.approx(3.0)  # line
    assert centreline_accuracy([(3, 4)], cl, ok, window=5.0) == pytest.approx(5.0)  # inclusive


def test_unmatched_points_left_out_and_counted():
    cl, ok = _lines([(0, 0), (0, 10)])
    d = centreline_accuracy_details([(3, 4), (100, 100), (0, 5)], cl, ok, window=5.5)
    assert d["n_points"] == 3 and d["n_matched"] == 2
    assert d["mean"] == pytest.approx((5.0 + 0.0) / 2)  # (0, 5): (0, 0) and (0, 10) both at 5
    assert math.isnan(centreline_accuracy([(100, 100)], cl, ok))
    assert math.isnan(centreline_accuracy(np.zeros((0, 2)), cl, ok))


def test_invalid_points_ignored_and_coincident_neighbours():
    cl, ok = _lines([(3, 4), (0, 0), (0, 0)])
    ok[0, 0] = False  # the point at q itself does not exist
    assert centreline_accuracy([(3, 4)], cl, ok, window=6) == pytest.approx(5.0)  # two coincide
    ok[:] = False
    d = centreline_accuracy_details([(3, 4)], cl, ok)
    assert math.isnan(d["mean"]) and (d["n_points"], d["n_matched"]) == (1, 0)


def test_two_nearest_may_be_on_different_branches():
    # nearest points (0, 0) [branch 0] and (2, 0) [branch 1]: line col = 0, q = (1, 1) -> 1
    cl, ok = _lines([(0, 0), (0, -10)], [(2, 0), (12, 0)])
    assert centreline_accuracy([(1, 1)], cl, ok) == pytest.approx(1.0)


def test_centreline_bad_input():
    cl, ok = _lines([(0, 0), (0, 10)])
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        centreline_accuracy([1, 2, 3], cl, ok)
    with pytest.raises(ValueError, match=r"\[NB, NSP, 2\]"):
        centreline_accuracy([(0, 0)], cl, ok[:, :1])
    with pytest.raises(ValueError, match="window"):
        centreline_accuracy([(0, 0)], cl, ok, window=0)
    with pytest.raises(ValueError, match="finite"):
        centreline_accuracy([(np.nan, 0)], cl, ok)


# ---- point matching ----------------------------------------------------------------------


def test_match_points_maximises_count_then_distance():
    # greedy would pair a0-b0 (distance 1) and leave a1 alone; the optimum pairs both
    a, b = [(0, 0), (0, 3)], [(0, 1), (0, -1.5)]
    ia, ib, d = match_points(a, b, gate=2.0)
    assert sorted(zip(ia.tolist(), ib.tolist())) == [(0, 1), (1, 0)]
    assert sorted(d.tolist()) == [1.5, 2.0]
    assert match_points(a, [], 2.0)[0].size == 0


# ---- CLEAR-MOT ---------------------------------------------------------------------------


def _tracks(n_frames, **tracks):
    """``name=[(frame, row, col), ...]`` -> Tracks with ids in keyword order."""
    rows = [(f, i, r, c) for i, obs in enumerate(tracks.values()) for f, r, c in obs]
    return Tracks.from_rows(rows, n_frames)


def test_perfect_tracking():
    gt = _tracks(3, a=[(t, 0, 0) for t in range(3)], b=[(t, 10, 10) for t in range(3)])
    pred = Tracks(frame=gt.frame, track_id=gt.track_id + 7, points=gt.points + [0.3, 0.4], n_frames=3)
    s = tracking_scores(gt, pred, gate=2.0)
    assert s["mota"] == 1.0 and s["id_switches"] == 0 and s["motp"] == pytest.approx(0.5)
    assert (s["tp"], s["fp"], s["fn"], s["n_gt"], s["n_pred"]) == (6, 0, 0, 6, 6)
    assert (s["n_gt_tracks"], s["n_pred_tracks"]) == (2, 2)
    assert s["precision"] == s["recall"] == s["f1"] == s["idf1"] == 1.0


def test_identity_switch_half_way():
    # pred 0 follows a in frames 0-1, then b; pred 1 the reverse: two switches at frame 2
    gt = _tracks(4, a=[(t, 0, 0) for t in range(4)], b=[(t, 10, 0) for t in range(4)])
    p = [(t, 0 if t < 2 else 10, 0) for t in range(4)]
    q = [(t, 10 if t < 2 else 0, 0) for t in range(4)]
    pred = _tracks(4, p=p, q=q)
    s = tracking_scores(gt, pred, gate=2.0)
    assert s["id_switches"] == 2 and s["tp"] == 8 and s["fp"] == s["fn"] == 0
    assert s["mota"] == pytest.approx(1 - 2 / 8)
    assert s["idf1"] == pytest.approx(2 * 4 / 16)  # best pairing: 2 frames each


def test_previous_match_kept_within_gate():
    # frame 1: fresh matching would swap (distances 1, 1); the kept pairs are at 3 and 3
    gt = _tracks(2, a=[(0, 0, 0), (1, 0, 0)], b=[(0, 0, 4), (1, 0, 4)])
    pred = _tracks(2, p=[(0, 0, 1), (1, 0, 3)], q=[(0, 0, 5), (1, 0, 1)])
    s = tracking_scores(gt, pred, gate=3.5)
    assert s["id_switches"] == 0 and s["tp"] == 4
    assert s["motp"] == pytest.approx((1 + 1 + 3 + 3) / 4)
    # with a gate of 2.5 the old pairs break: both gt tracks switch
    assert tracking_scores(gt, pred, gate=2.5)["id_switches"] == 2


def test_switch_counted_against_last_match_across_a_gap():
    gt = _tracks(3, a=[(0, 0, 0), (2, 0, 0)])
    pred = _tracks(3, p=[(0, 0, 0)], q=[(2, 0, 0)])
    assert tracking_scores(gt, pred, gate=1.0)["id_switches"] == 1


def test_miss_and_false_positive():
    gt = _tracks(3, a=[(t, 5, 5) for t in range(3)])
    pred = _tracks(3, p=[(0, 5, 6), (2, 5, 4)], far=[(2, 30, 30)])
    s = tracking_scores(gt, pred, gate=2.0)
    assert (s["tp"], s["fp"], s["fn"], s["id_switches"]) == (2, 1, 1, 0)
    assert s["mota"] == pytest.approx(1 - 2 / 3)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3) and s["motp"] == pytest.approx(1.0)
    assert s["idf1"] == pytest.approx(2 * 2 / 6)  # a paired with p: 2 frames


def test_gate_is_respected_and_inclusive():
    gt = _tracks(1, a=[(0, 0, 0)])
    assert tracking_scores(gt, _tracks(1, p=[(0, 3, 4)]), gate=5.0)["tp"] == 1
    s = tracking_scores(gt, _tracks(1, p=[(0, 3, 4.01)]), gate=5.0)
    assert (s["tp"], s["fp"], s["fn"], s["mota"]) == (0, 1, 1, -1.0)
    assert math.isnan(s["motp"])


def test_empty_inputs():
    empty = Tracks.from_rows([], 2)
    some = _tracks(2, a=[(0, 0, 0)])
    s = tracking_scores(empty, some, gate=1.0)
    assert math.isnan(s["mota"]) and math.isnan(s["recall"]) and s["precision"] == 0.0 and s["fp"] == 1
    s = tracking_scores(some, empty, gate=1.0)
    assert s["mota"] == 0.0 and math.isnan(s["precision"]) and s["recall"] == 0.0 and s["idf1"] == 0.0
    s = tracking_scores(empty, empty, gate=1.0)
    assert math.isnan(s["mota"]) and s["f1"] == 1.0 and math.isnan(s["idf1"])


def test_bad_arguments():
    a = _tracks(2, a=[(0, 0, 0)])
    with pytest.raises(ValueError, match="n_frames"):
        tracking_scores(a, Tracks.from_rows([], 3), gate=1.0)
    with pytest.raises(ValueError, match="gate"):
        tracking_scores(a, a, gate=-1.0)
    with pytest.raises(ValueError, match="Tracks"):
        event_scores(a, a.points, gate=1.0)


# ---- gain / loss events ----------------------------------------------------------------

# bouton a vanishes in frame 2 and returns in frame 3; b is always there
GT = _tracks(5, a=[(t, 5, 5) for t in (0, 1, 3, 4)], b=[(t, 20, 20) for t in range(5)])


def test_track_events():
    ev = track_events(GT)
    assert ev["loss"][0].tolist() == [2] and ev["loss"][1].tolist() == [0] and ev["loss"][2].tolist() == [[5, 5]]
    assert ev["gain"][0].tolist() == [3] and ev["gain"][1].tolist() == [0]
    late = track_events(_tracks(3, a=[(1, 1, 2), (2, 3, 4)], b=[(0, 7, 7), (1, 8, 8)]))
    assert late["gain"][0].tolist() == [1] and late["gain"][2].tolist() == [[1, 2]]
    assert late["loss"][0].tolist() == [2] and late["loss"][2].tolist() == [[8, 8]]  # point at t-1


def test_events_pred_misses_the_return():
    pred = _tracks(5, a=[(0, 5.5, 5), (1, 5.5, 5)], b=[(t, 20, 20) for t in range(5)])
    s = event_scores(GT, pred, gate=2.0)
    assert s["loss"] == dict(precision=1.0, recall=1.0, f1=1.0, tp=1, fp=0, fn=0, n_gt=1, n_pred=1)
    g = s["gain"]
    assert (g["tp"], g["fp"], g["fn"], g["recall"], g["f1"]) == (0, 0, 1, 0.0, 0.0) and math.isnan(g["precision"])
    e = s["events"]
    assert (e["tp"], e["fp"], e["fn"], e["n_gt"], e["n_pred"]) == (1, 0, 1, 2, 1)
    assert e["precision"] == 1.0 and e["recall"] == 0.5 and e["f1"] == pytest.approx(2 / 3)


def test_events_ids_play_no_role_but_frame_and_gate_do():
    # the return found as a new track (id 2): still a gain at frame 3
    pred = _tracks(5, a=[(0, 5, 5), (1, 5, 5)], b=[(t, 20, 20) for t in range(5)], c=[(3, 5, 5), (4, 5, 5)])
    assert event_scores(GT, pred, gate=1.0)["events"]["f1"] == 1.0
    # the return one frame late: a false gain at 4, a missed gain at 3
    late = _tracks(5, a=[(0, 5, 5), (1, 5, 5), (4, 5, 5)], b=[(t, 20, 20) for t in range(5)])
    g = event_scores(GT, late, gate=1.0)["gain"]
    assert (g["tp"], g["fp"], g["fn"]) == (0, 1, 1)
    # the loss placed too far away: a false loss and a missed one
    far = _tracks(5, a=[(0, 5, 5), (1, 5, 8), (3, 5, 5), (4, 5, 5)], b=[(t, 20, 20) for t in range(5)])
    loss = event_scores(GT, far, gate=2.0)["loss"]
    assert (loss["tp"], loss["fp"], loss["fn"]) == (0, 1, 1)
    assert event_scores(GT, far, gate=3.0)["loss"]["tp"] == 1
