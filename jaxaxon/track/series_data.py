"""Time series to track and score: generated series datasets and real frame stacks.

Accepted inputs (`load_series`):

- a dataset from ``jaxaxon generate --series`` (frames, axon masks, ground-truth bouton tracks
  from the persistent bouton ids, centrelines);
- ``NAME.npz`` with ``frames`` ``[T, H, W]`` and, optionally, ``masks`` ``[T, H, W]`` (axon
  masks) and ``tracks`` ``[M, 4]`` rows ``(frame, id, row, col)`` (bouton points);
- a folder of frame images (``.png``, ``.tif``, ``.npy``; frames in name order) with an optional
  ``tracks.csv`` (header ``frame,id,row,col``);
- a folder holding several of the two above (one series per ``.npz`` and per frame folder).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from jaxaxon.data.images import IMAGE_SUFFIXES, ImageDataError, read_array, to_float32
from jaxaxon.track.ground_truth import series_tracks
from jaxaxon.track.tracks import Tracks

__all__ = ["SeriesSample", "TRACKS_FILE", "load_series"]

TRACKS_FILE = "tracks.csv"


@dataclasses.dataclass(frozen=True, eq=False)
class SeriesSample:
    """One time series.

    Attributes:
      name: unique name (output files are named after it).
      frames: ``[T, H, W]`` float32.
      axon_masks: ``[T, H, W]`` bool, or None.
      tracks: ground-truth bouton `Tracks` (frame coordinates), or None.
      centrelines: ``[T, NB, NSP, 2]`` ground-truth centreline points, or None.
      centreline_valid: ``[T, NB, NSP]`` bool, or None.
      source: the file or folder it was read from.
    """

    name: str
    frames: np.ndarray
    axon_masks: np.ndarray | None = None
    tracks: Tracks | None = None
    centrelines: np.ndarray | None = None
    centreline_valid: np.ndarray | None = None
    source: str = ""

    def __post_init__(self) -> None:
        t = self.frames.shape[0]
        where = self.source or self.name
        if self.frames.ndim != 3:
            raise ImageDataError(f"{where}: frames must be [T, H, W], got shape {self.frames.shape}")
        if t < 2:
            raise ImageDataError(f"{where}: a series of {t} frame{'s' if t != 1 else ''}; tracking needs at least 2")
        if self.axon_masks is not None and self.axon_masks.shape != self.frames.shape:
            raise ImageDataError(f"{where}: masks of shape {self.axon_masks.shape} for frames {self.frames.shape}")
        if self.tracks is not None:
            if self.tracks.n_frames != t:
                raise ImageDataError(f"{where}: tracks of {self.tracks.n_frames} frames for a series of {t}")
            h, w = self.frames.shape[1:]
            pts = self.tracks.points
            outside = (pts[:, 0] < 0) | (pts[:, 0] > h - 1) | (pts[:, 1] < 0) | (pts[:, 1] > w - 1)
            if outside.any():
                k = int(np.argmax(outside))
                raise ImageDataError(
                    f"{where}: {int(outside.sum())} track point(s) outside the {h}x{w} frames, e.g. frame "
                    f"{self.tracks.frame[k]} id {self.tracks.track_id[k]} at ({pts[k, 0]:g}, {pts[k, 1]:g})"
                )

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def _from_dataset(path: Path, limit: int | None) -> list[SeriesSample]:
    from jaxaxon.data.dataset import open_dataset

    ds = open_dataset(path)
    if ds.kind != "series":
        raise ImageDataError(f"{path}: a dataset of single images; tracking needs one from jaxaxon generate --series")
    n = len(ds) if limit is None else min(limit, len(ds))
    if n == 0:
        raise ImageDataError(f"{path}: the dataset holds no series")
    part = ds.read(slice(0, n), ["images", "axon_masks"])
    meta = ds.read(slice(0, n), ["bouton_centers", "bouton_visible", "bouton_valid", "centerlines", "centerline_valid"])
    return [
        SeriesSample(
            name=f"{path.stem}_{i:06d}",
            frames=part["images"][i].astype(np.float32),
            axon_masks=part["axon_masks"][i].astype(bool),
            tracks=series_tracks(meta["bouton_centers"][i], meta["bouton_visible"][i], meta["bouton_valid"][i]),
            centrelines=meta["centerlines"][i].astype(np.float64),
            centreline_valid=meta["centerline_valid"][i].astype(bool),
            source=str(path),
        )
        for i in range(n)
    ]


def _tracks_from_rows(rows: np.ndarray, n_frames: int, where: str) -> Tracks:
    rows = np.asarray(rows, np.float64)
    if rows.ndim != 2 or rows.shape[1] != 4:
        raise ImageDataError(f"{where}: 'tracks' must be [M, 4] rows (frame, id, row, col), got shape {rows.shape}")
    try:
        return Tracks.from_rows(rows, n_frames)
    except ValueError as err:
        raise ImageDataError(f"{where}: tracks: {err}") from None


def _from_npz(path: Path) -> SeriesSample:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except Exception as err:  # noqa: BLE001 -- zip, pickle and format errors
        raise ImageDataError(f"{path}: cannot be read as a .npz series ({type(err).__name__}: {err})") from None
    if "frames" not in arrays:
        raise ImageDataError(f"{path}: no 'frames' array [T, H, W] (found: {', '.join(sorted(arrays)) or 'none'})")
    frames = arrays["frames"]
    if frames.ndim != 3:
        raise ImageDataError(f"{path}: 'frames' must be [T, H, W], got shape {frames.shape}")
    masks = arrays["masks"].astype(bool) if "masks" in arrays else None
    tracks = _tracks_from_rows(arrays["tracks"], frames.shape[0], str(path)) if "tracks" in arrays else None
    return SeriesSample(path.stem, to_float32(frames, str(path))[0], masks, tracks, source=str(path))


def _from_frame_folder(path: Path) -> SeriesSample:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    frames = [to_float32(read_array(p), str(p))[0] for p in files]
    if len(frames) >= 1:
        shapes = sorted({f.shape for f in frames})
        if len(shapes) > 1:
            first = next(p for p, f in zip(files, frames) if f.shape != frames[0].shape)
            raise ImageDataError(
                f"{path}: frames of different sizes ({files[0].name} {frames[0].shape}, {first.name} "
                f"{frames[files.index(first)].shape}); a series needs frames of one size"
            )
    stack = np.stack(frames) if frames else np.zeros((0, 1, 1), np.float32)
    tracks = None
    if (path / TRACKS_FILE).is_file():
        try:
            tracks = Tracks.from_csv(path / TRACKS_FILE, n_frames=len(frames))
        except ValueError as err:
            raise ImageDataError(f"{path / TRACKS_FILE}: {err}") from None
    return SeriesSample(path.name, stack, None, tracks, source=str(path))


def _is_frame_folder(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())


def load_series(path: str | os.PathLike, *, limit: int | None = None) -> list[SeriesSample]:
    """The time series held by ``path`` (formats in the module docstring).

    Args:
      path: a series dataset, a ``.npz`` series, a frame folder, or a folder of those.
      limit: use only the first ``limit`` series.

    Raises:
      ImageDataError: missing or unreadable data, a series of fewer than 2 frames, frames of
        different sizes, track points outside the frames, no series found, duplicate names.
    """
    path = Path(path)
    if not path.exists():
        raise ImageDataError(f"{path}: no such file or folder")
    if path.is_dir() and (path / "zarr.json").is_file():
        series = _from_dataset(path, limit)
    elif path.is_file():
        if path.suffix.lower() != ".npz":
            raise ImageDataError(f"{path}: a series file must be a .npz with a 'frames' array (or give a frame folder)")
        series = [_from_npz(path)]
    elif _is_frame_folder(path):
        series = [_from_frame_folder(path)]
    else:
        items = sorted(p for p in path.iterdir() if p.suffix.lower() == ".npz" or _is_frame_folder(p))
        if not items:
            raise ImageDataError(
                f"{path}: no series found (expected a jaxaxon series dataset, NAME.npz files with 'frames', or "
                "folders of frame images)"
            )
        series = [_from_npz(p) if p.is_file() else _from_frame_folder(p) for p in items]
    names = [s.name for s in series]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ImageDataError(f"{path}: several series named {', '.join(dup)} (their outputs would share files)")
    return series if limit is None else series[:limit]
