"""`Tracks`: validation, canonical order, per-frame access and the CSV form."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaxon.track import Tracks

ROWS = [(1, 7, 2.5, 3.0), (0, 7, 1.0, 1.0), (1, 2, 0.1, 1 / 3), (0, 2, -4.0, 5.0)]


def test_sorted_by_frame_then_id_with_dtypes():
    tr = Tracks.from_rows(ROWS, n_frames=3)
    assert tr.frame.tolist() == [0, 0, 1, 1] and tr.track_id.tolist() == [2, 7, 2, 7]
    assert tr.points.tolist() == [[-4.0, 5.0], [1.0, 1.0], [0.1, 1 / 3], [2.5, 3.0]]
    assert tr.frame.dtype == np.int64 and tr.track_id.dtype == np.int64 and tr.points.dtype == np.float64
    assert len(tr) == 4 and tr.n_frames == 3 and tr.ids.tolist() == [2, 7]


def test_in_frame():
    tr = Tracks.from_rows(ROWS, n_frames=3)
    ids, pts = tr.in_frame(1)
    assert ids.tolist() == [2, 7] and pts.tolist() == [[0.1, 1 / 3], [2.5, 3.0]]
    ids, pts = tr.in_frame(2)  # a frame without observations
    assert ids.shape == (0,) and pts.shape == (0, 2)
    with pytest.raises(ValueError, match="out of range"):
        tr.in_frame(3)


def test_empty():
    tr = Tracks.from_rows([], n_frames=2)
    assert len(tr) == 0 and tr.points.shape == (0, 2) and tr.ids.size == 0


@pytest.mark.parametrize(
    "rows, n_frames, match",
    [
        ([(2, 0, 1.0, 1.0)], 2, "frame 2 out of range 0..1"),
        ([(-1, 0, 1.0, 1.0)], 2, "frame -1 out of range"),
        ([(0, 3, 1.0, 1.0), (0, 3, 2.0, 2.0)], 1, "track 3 appears twice in frame 0"),
        ([(0, 0, np.nan, 1.0)], 1, "non-finite point"),
        ([(0, 0, 1.0, np.inf)], 1, "non-finite point"),
        ([(0.5, 0, 1.0, 1.0)], 1, "frame must hold integers"),
        ([], -1, "n_frames"),
    ],
)
def test_bad_rows(rows, n_frames, match):
    with pytest.raises(ValueError, match=match):
        Tracks.from_rows(rows, n_frames)


def test_bad_shapes():
    with pytest.raises(ValueError, match="unequal lengths"):
        Tracks(frame=np.array([0, 0]), track_id=np.array([0]), points=np.zeros((2, 2)), n_frames=1)
    with pytest.raises(ValueError, match=r"points \[M, 2\]"):
        Tracks(frame=np.array([0]), track_id=np.array([0]), points=np.zeros((1, 3)), n_frames=1)
    with pytest.raises(ValueError, match=r"\(frame, track_id, row, col\)"):
        Tracks.from_rows([(0, 0, 1.0)], 1)


def test_csv_round_trip(tmp_path):
    tr = Tracks.from_rows(ROWS, n_frames=5)
    path = tmp_path / "tracks.csv"
    tr.to_csv(path)
    text = path.read_text().splitlines()
    assert text[0] == "frame,id,row,col" and text[1] == "0,2,-4.0,5.0" and len(text) == 5
    assert Tracks.from_csv(path, n_frames=5) == tr  # exact floats (1/3 included)
    inferred = Tracks.from_csv(path)  # n_frames = last frame + 1
    assert inferred.n_frames == 2 and np.array_equal(inferred.points, tr.points)
    assert [p.name for p in tmp_path.iterdir()] == ["tracks.csv"]  # no temporary left


def test_csv_empty_and_errors(tmp_path):
    path = tmp_path / "e.csv"
    Tracks.from_rows([], n_frames=3).to_csv(path)
    assert path.read_text() == "frame,id,row,col\n"
    assert Tracks.from_csv(path, n_frames=3) == Tracks.from_rows([], 3)
    assert Tracks.from_csv(path).n_frames == 0
    path.write_text("t,id,row,col\n0,0,1,1\n")
    with pytest.raises(ValueError, match="header"):
        Tracks.from_csv(path)
    path.write_text("frame,id,row,col\n0,0,1\n")
    with pytest.raises(ValueError, match="bad line"):
        Tracks.from_csv(path)
    path.write_text("frame,id,row,col\n3,0,1,1\n")
    with pytest.raises(ValueError, match="out of range"):
        Tracks.from_csv(path, n_frames=2)
