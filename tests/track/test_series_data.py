"""Loading series to track: generated datasets, .npz stacks, frame folders; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jaxaxon.data import write_dataset
from jaxaxon.data.images import ImageDataError
from jaxaxon.track import Tracks
from jaxaxon.track.series_data import TRACKS_FILE, load_series


def test_dataset_series_carry_their_ground_truth(series_dataset):
    series = load_series(series_dataset)
    assert [s.name for s in series] == ["s_000000", "s_000001"]
    s = series[0]
    assert s.frames.shape == (4, 64, 64) and s.axon_masks.dtype == bool and s.axon_masks.any()
    assert s.tracks.n_frames == 4 and len(s.tracks) > 0
    assert s.centrelines.shape[:1] == (4,) and s.centreline_valid.any()
    assert len(load_series(series_dataset, limit=1)) == 1


def test_single_image_dataset_is_refused(small_cfg, tmp_path):
    path = tmp_path / "img.zarr"
    write_dataset(path, small_cfg, 2, seed=0, batch_size=2)
    with pytest.raises(ImageDataError, match="a dataset of single images; tracking needs one from jaxaxon generate --"):
        load_series(path)


def test_npz_and_frame_folders(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 20, 30)).astype(np.uint8)
    rows = np.array([[0, 7, 5.0, 6.0], [2, 7, 5.5, 6.5]])
    np.savez(tmp_path / "a.npz", frames=frames, tracks=rows)
    folder = tmp_path / "b"
    folder.mkdir()
    for t, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"frame{t:02d}.png")
    Tracks.from_rows([(1, 3, 2.0, 2.0)], 3).to_csv(folder / TRACKS_FILE)
    a, b = load_series(tmp_path)
    assert (a.name, b.name) == ("a", "b")
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.tracks.track_id.tolist() == [7, 7] and a.tracks.points[1].tolist() == [5.5, 6.5]
    assert b.tracks.frame.tolist() == [1] and b.tracks.n_frames == 3 and b.axon_masks is None


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: np.savez(d / "x.npz", frames=np.zeros((1, 8, 8))), "a series of 1 frame; tracking needs at least 2"),
        (lambda d: np.savez(d / "x.npz", image=np.zeros((2, 8, 8))), "no 'frames' array"),
        (lambda d: np.savez(d / "x.npz", frames=np.zeros((2, 8, 8)), tracks=np.array([[0, 1, 3.0, 9.0]])),
         r"1 track point\(s\) outside the 8x8 frames, e.g. frame 0 id 1 at \(3, 9\)"),
        (lambda d: np.savez(d / "x.npz", frames=np.zeros((2, 8, 8)), tracks=np.array([[5, 1, 3.0, 3.0]])),
         "tracks: "),
        (lambda d: np.savez(d / "x.npz", frames=np.zeros((2, 8, 8)), tracks=np.zeros((2, 3))), r"must be \[M, 4\]"),
        (lambda d: (d / "x.npz").write_bytes(b"not a zip"), "cannot be read as a .npz series"),
        (lambda d: None, "no series found"),
    ],
)
def test_bad_series_are_clear_errors(make, message, tmp_path):
    make(tmp_path)
    with pytest.raises(ImageDataError, match=message):
        load_series(tmp_path)


def test_frames_of_different_sizes_are_refused(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "0.png")
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(tmp_path / "1.png")
    with pytest.raises(ImageDataError, match=r"frames of different sizes \(0.png \(8, 8\), 1.png \(8, 9\)\)"):
        load_series(tmp_path)
