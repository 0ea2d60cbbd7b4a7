"""Linking of per-frame detections into tracks (frame-to-frame optimal assignment).

Every detection is mapped to frame-0 (reference) coordinates with the frames'
registrations (`jaxaxon.track.register`); frame by frame, the detections are matched to the
active tracks' last reference positions by `scipy.optimize.linear_sum_assignment`, pairs
farther apart than ``gate`` being forbidden. A track missed in more than ``max_gap``
consecutive frames ends; unmatched detections start new tracks, numbered 0, 1, 2, ... in
order of first appearance (frame, then detection order).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from jaxaxon.track.register import Registration, inverse_transform_points

__all__ = ["link_detections"]


def _detections(detections: Sequence[np.ndarray]) -> list[np.ndarray]:
    out = []
    for t, det in enumerate(detections):
        pts = np.asarray(det, dtype=np.float64)
        if pts.size == 0:
            pts = pts.reshape(0, 2)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"detections of frame {t} must have shape [K, 2] (row, col), got {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise ValueError(f"detections of frame {t} contain NaN or infinite values")
        out.append(pts)
    return out


def link_detections(
    detections: Sequence[np.ndarray],
    registrations: Sequence[Registration] | None = None,
    gate: float = 4.0,
    max_gap: int = 2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Links the detections of a series of frames into tracks.

    Args:
      detections: ``T`` arrays ``[K_t, 2]`` of (row, col) detections, in each frame's own
        coordinates.
      registrations: ``T`` registrations of the frames to frame 0 (`register_series`);
        None: the frames are already aligned.
      gate: largest distance (pixels, reference coordinates) between a track's last
        position and a detection linked to it.
      max_gap: a track survives at most this many consecutive frames without a detection.

    Returns:
      ``(frame [M], track_id [M], points [M, 2])``: int64 frame index and track id of every
      detection (frame-major, detection order within a frame) and its (row, col) position in
      its own frame's coordinates.
    """
    dets = _detections(detections)
    if registrations is not None and len(registrations) != len(dets):
        raise ValueError(f"got {len(registrations)} registrations for {len(dets)} frames")
    if not gate > 0:
        raise ValueError(f"gate must be positive, got {gate}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    last_pos = np.zeros((0, 2))  # [N, 2] last reference position of every track
    last_frame = np.zeros(0, dtype=np.int64)  # [N] frame it was last seen in
    frames, ids = [], []
    for t, pts in enumerate(dets):
        ref = pts if registrations is None else inverse_transform_points(pts, registrations[t])
        track_of = np.full(len(ref), -1, dtype=np.int64)
        active = np.flatnonzero(t - last_frame - 1 <= max_gap)
        if len(active) and len(ref):
            dist = np.linalg.norm(last_pos[active][:, None, :] - ref[None, :, :], axis=-1)  # [A, K]
            rows, cols = linear_sum_assignment(np.where(dist <= gate, dist, 1e3 * gate + dist.max()))
            ok = dist[rows, cols] <= gate
            track_of[cols[ok]] = active[rows[ok]]
        new = np.flatnonzero(track_of < 0)
        track_of[new] = len(last_pos) + np.arange(len(new))
        last_pos = np.concatenate([last_pos, np.zeros((len(new), 2))])
        last_frame = np.concatenate([last_frame, np.zeros(len(new), dtype=np.int64)])
        last_pos[track_of], last_frame[track_of] = ref, t
        frames.append(np.full(len(ref), t, dtype=np.int64))
        ids.append(track_of)
    if not dets:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2))
    return np.concatenate(frames), np.concatenate(ids), np.concatenate(dets)
