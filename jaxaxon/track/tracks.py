"""Point tracks over the frames of a time series: one (row, col) point per track and frame.

A `Tracks` holds M observations ``(frame, track_id, point)``, stored sorted by frame then
track id. A track is absent from the frames it has no observation in; a track may vanish and
return (a gap). CSV form: header ``frame,id,row,col``, one observation a line.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Iterable

import numpy as np

from jaxaxon.atomic import write_text_atomic

__all__ = ["CSV_HEADER", "Tracks"]

CSV_HEADER = ("frame", "id", "row", "col")


def _as_int(values, name: str) -> np.ndarray:
    a = np.asarray(values)
    if a.size == 0:
        return np.zeros(a.shape, np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or (np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)))):
        raise ValueError(f"Tracks: {name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class Tracks:
    """Tracked points of one time series.

    Attributes:
      frame: ``[M]`` int64 frame of each observation, ``0..n_frames-1``.
      track_id: ``[M]`` int64 track of each observation; at most one per (frame, track_id).
      points: ``[M, 2]`` float64 finite (row, col) positions in frame coordinates.
      n_frames: number of frames T of the series (frames without observations included).

    The constructor converts the fields to these dtypes and sorts the observations by
    (frame, track_id); it raises ValueError on unequal lengths, frames out of range,
    duplicate (frame, track_id) pairs or non-finite points.
    """

    frame: np.ndarray
    track_id: np.ndarray
    points: np.ndarray
    n_frames: int

    def __post_init__(self) -> None:
        if isinstance(self.n_frames, bool) or int(self.n_frames) != self.n_frames or self.n_frames < 0:
            raise ValueError(f"Tracks: n_frames must be a non-negative integer, got {self.n_frames!r}")
        frame, track_id = _as_int(self.frame, "frame"), _as_int(self.track_id, "track_id")
        points = np.asarray(self.points, dtype=np.float64)
        if points.size == 0 and points.ndim < 2:
            points = points.reshape(0, 2)
        if frame.ndim != 1 or track_id.ndim != 1 or points.ndim != 2 or points.shape[1] != 2:
            shapes = f"{frame.shape}, {track_id.shape}, {points.shape}"
            raise ValueError(f"Tracks: expected frame [M], track_id [M], points [M, 2]; got {shapes}")
        if not len(frame) == len(track_id) == len(points):
            lengths = f"frame {len(frame)}, track_id {len(track_id)}, points {len(points)}"
            raise ValueError(f"Tracks: unequal lengths: {lengths}")
        bad = (frame < 0) | (frame >= self.n_frames)
        if np.any(bad):
            raise ValueError(f"Tracks: frame {int(frame[bad][0])} out of range 0..{int(self.n_frames) - 1}")
        if not np.all(np.isfinite(points)):
            i = int(np.flatnonzero(~np.all(np.isfinite(points), axis=1))[0])
            raise ValueError(f"Tracks: non-finite point {points[i].tolist()} (frame {frame[i]}, track {track_id[i]})")
        order = np.lexsort((track_id, frame))
        frame, track_id, points = frame[order], track_id[order], points[order]
        dup = (np.diff(frame) == 0) & (np.diff(track_id) == 0)
        if np.any(dup):
            i = int(np.flatnonzero(dup)[0])
            raise ValueError(f"Tracks: track {track_id[i]} appears twice in frame {frame[i]}")
        fields = dict(frame=frame, track_id=track_id, points=points, n_frames=int(self.n_frames))
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, float, float]], n_frames: int) -> Tracks:
        """Builds tracks from ``(frame, track_id, row, col)`` tuples."""
        rows = [tuple(r) for r in rows]
        if any(len(r) != 4 for r in rows):
            raise ValueError("Tracks.from_rows: every row must be (frame, track_id, row, col)")
        a = np.array(rows, dtype=np.float64).reshape(-1, 4)
        return cls(frame=a[:, 0], track_id=a[:, 1], points=a[:, 2:], n_frames=n_frames)

    def __len__(self) -> int:
        return len(self.frame)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tracks):
            return NotImplemented
        return (
            self.n_frames == other.n_frames
            and np.array_equal(self.frame, other.frame)
            and np.array_equal(self.track_id, other.track_id)
            and np.array_equal(self.points, other.points)
        )

    __hash__ = None  # mutable numpy fields

    @property
    def ids(self) -> np.ndarray:
        """``[N]`` sorted distinct track ids."""
        return np.unique(self.track_id)

    def in_frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Track ids ``[K]`` (ascending) and points ``[K, 2]`` present in frame ``t``."""
        if not 0 <= t < self.n_frames:
            raise ValueError(f"Tracks.in_frame: frame {t} out of range 0..{self.n_frames - 1}")
        sel = self.frame == t
        return self.track_id[sel], self.points[sel]

    def to_csv(self, path: str | os.PathLike) -> None:
        """Writes ``frame,id,row,col`` lines atomically (floats in round-trip precision)."""
        buf = io.StringIO()
        buf.write(",".join(CSV_HEADER) + "\n")
        for f, i, (r, c) in zip(self.frame.tolist(), self.track_id.tolist(), self.points.tolist()):
            buf.write(f"{f},{i},{r!r},{c!r}\n")
        write_text_atomic(path, buf.getvalue())

    @classmethod
    def from_csv(cls, path: str | os.PathLike, n_frames: int | None = None) -> Tracks:
        """Reads a `to_csv` file; ``n_frames`` defaults to the largest frame + 1 (0 when empty)."""
        with open(path, newline="") as f:
            lines = [row for row in csv.reader(f) if row]
        if not lines or tuple(s.strip() for s in lines[0]) != CSV_HEADER:
            raise ValueError(f"Tracks.from_csv: {path}: first line must be the header {','.join(CSV_HEADER)}")
        try:
            rows = [(int(a), int(b), float(c), float(d)) for a, b, c, d in lines[1:]]
        except ValueError as e:  # wrong field count or a non-number
            raise ValueError(f"Tracks.from_csv: {path}: bad line ({e})") from None
        if n_frames is None:
            n_frames = max((r[0] for r in rows), default=-1) + 1
        return cls.from_rows(rows, n_frames)
