"""Linking of detections (jaxaxon.track.link): gaps, crossings, optimal assignment, gating,
registered frames, errors and a generated series with ground-truth detections."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaxon.track.link import link_detections
from jaxaxon.track.register import Registration, transform_points

from . import generated


def _ids(frame: np.ndarray, track: np.ndarray, t: int) -> list[int]:
    return track[frame == t].tolist()


def test_output_layout_and_ids_in_order_of_first_appearance():
    dets = [np.array([[10.0, 10.0], [30.0, 30.0]]), np.array([[50.0, 50.0], [30.5, 30.0], [70.0, 5.0]])]
    frame, track, points = link_detections(dets)
    assert frame.tolist() == [0, 0, 1, 1, 1]
    assert track.tolist() == [0, 1, 2, 1, 3]  # (10, 10) ended; two new tracks numbered in order
    assert np.array_equal(points, np.concatenate(dets))


@pytest.mark.parametrize("gap, same_id", [(1, True), (2, True), (3, False)])
def test_disappearing_bouton_keeps_its_id_up_to_max_gap(gap, same_id):
    a, b = np.array([[20.0, 20.0]]), np.array([[60.0, 60.0]])
    dets = [np.concatenate([a, b])] + [b] * gap + [np.concatenate([b, a + 0.5])]
    frame, track, _ = link_detections(dets, max_gap=2)
    last = len(dets) - 1
    assert _ids(frame, track, 0) == [0, 1]
    assert _ids(frame, track, last) == ([1, 0] if same_id else [1, 2])


def test_empty_frames_count_as_gaps():
    dets = [np.array([[5.0, 5.0]]), np.zeros((0, 2)), np.array([[5.0, 6.0]])]
    frame, track, points = link_detections(dets, max_gap=1)
    assert frame.tolist() == [0, 2] and track.tolist() == [0, 0] and points.shape == (2, 2)
    assert link_detections(dets, max_gap=0)[1].tolist() == [0, 1]


def test_crossing_tracks_keep_their_ids():
    """A moves right along row 20, B left along row 23, 1.5 px a frame; they pass each other
    (same column at t = 4, 3 px apart) but the optimal assignment never swaps them:
    keeping costs 1.5 + 1.5, swapping at least 2 * sqrt(3^2 + 1.5^2) = 6.7."""
    t = np.arange(9)
    a = np.stack([np.full(9, 20.0), 14.0 + 1.5 * t], -1)
    b = np.stack([np.full(9, 23.0), 26.0 - 1.5 * t], -1)
    dets = [np.stack([b[k], a[k]]) if k % 2 else np.stack([a[k], b[k]]) for k in t]
    frame, track, _ = link_detections(dets, gate=4.0)
    for k in t:
        assert _ids(frame, track, k) == ([1, 0] if k % 2 else [0, 1]), k


def test_assignment_is_optimal_not_greedy():
    """Tracks at (0, 0) and (0, 3); detections (0, 2) and (0, 5). Greedy would pair (0, 3)
    with (0, 2) (distance 1) and leave (0, 5) 5 px from (0, 0), beyond the gate: a new track.
    The optimal assignment pairs 2 + 2."""
    dets = [np.array([[0.0, 0.0], [0.0, 3.0]]), np.array([[0.0, 5.0], [0.0, 2.0]])]
    frame, track, _ = link_detections(dets, gate=4.0)
    assert _ids(frame, track, 1) == [1, 0]


def test_gate_is_respected():
    dets = [np.array([[10.0, 10.0]]), np.array([[10.0, 14.0]]), np.array([[10.0, 18.5]])]
    _, track, _ = link_detections(dets, gate=4.0)
    assert track.tolist() == [0, 0, 1]  # 4.0 is within the gate, 4.5 is not
    assert link_detections(dets, gate=5.0)[1].tolist() == [0, 0, 0]


def test_rotated_frame_links_with_registration_only():
    """Frame 1 = frame-0 points rotated by 3 deg about the centre and shifted by (1, 0): with
    the registration every id is kept; without it, exactly the points that moved more than
    the gate get new ids (the points are 20 px apart, so nothing else can match)."""
    grid = np.arange(4.0, 128.0, 20.0)
    p0 = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    reg = Registration(3.0, np.array([1.0, 0.0]), np.array([63.5, 63.5]))
    p1 = transform_points(p0, reg)
    moved = np.linalg.norm(p1 - p0, axis=1)
    assert moved.max() > 4.0 > moved.min()  # the test covers both cases
    frame, track, _ = link_detections([p0, p1], [Registration.identity((128, 128)), reg])
    assert np.array_equal(track[frame == 1], np.arange(len(p0)))
    frame, track, _ = link_detections([p0, p1])
    kept = track[frame == 1] == np.arange(len(p0))
    assert np.array_equal(kept, moved <= 4.0)
    assert np.array_equal(np.sort(track[frame == 1][~kept]), len(p0) + np.arange((~kept).sum()))


def test_bad_inputs_raise_clear_errors():
    ok = np.zeros((1, 2))
    with pytest.raises(ValueError, match=r"frame 1 must have shape \[K, 2\]"):
        link_detections([ok, np.zeros((2, 3))])
    with pytest.raises(ValueError, match="frame 0 contain NaN"):
        link_detections([np.array([[np.nan, 1.0]])])
    with pytest.raises(ValueError, match="2 registrations for 1 frames"):
        link_detections([ok], [Registration.identity((8, 8))] * 2)
    with pytest.raises(ValueError, match="gate must be positive"):
        link_detections([ok], gate=0.0)
    with pytest.raises(ValueError, match="max_gap"):
        link_detections([ok], max_gap=-1)


def test_generated_series_ground_truth_detections():
    """Visible bouton centres of each frame, linked with the registrations found from the
    noisy frames: >= 90 % of the consecutive same-bouton pairs share a track."""
    s = generated.series()
    regs = generated.registrations("image")
    linked = total = 0
    for b in range(generated.BATCH):
        visible = s["bouton_visible"][b]  # [NBOU, T]
        dets = [s["bouton_centers"][b, t][visible[:, t]] for t in range(visible.shape[1])]
        frame, track, _ = link_detections(dets, regs[b])
        track_of = {}  # (bouton, t) -> predicted track
        for t in range(visible.shape[1]):
            for bouton, tid in zip(np.flatnonzero(visible[:, t]), track[frame == t]):
                track_of[bouton, t] = tid
        for bouton, t in track_of:
            if (bouton, t - 1) in track_of:
                total += 1
                linked += track_of[bouton, t - 1] == track_of[bouton, t]
    assert total >= 20  # the series holds enough pairs to measure
    assert linked / total >= 0.9, (linked, total)
