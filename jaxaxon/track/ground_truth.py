"""Ground-truth tracks and centrelines of one generated time series (one element of
`jaxaxon.synth.series.SeriesBatch`, e.g. ``batch.bouton_centers[b]``)."""

from __future__ import annotations

import numpy as np

from jaxaxon.track.tracks import Tracks

__all__ = ["series_centrelines", "series_tracks"]


def series_tracks(bouton_centers, bouton_visible, bouton_valid) -> Tracks:
    """The boutons of one series as tracks: track id = bouton index, one observation per
    frame the bouton shows in (placed and visible), at its centre in that frame.

    Args:
      bouton_centers: ``[T, NBOU, 2]`` bouton centres in frame coordinates (row, col).
      bouton_visible: ``[NBOU, T]`` bool, shown in frame t.
      bouton_valid: ``[NBOU]`` bool, the bouton exists.

    Returns:
      `Tracks` with ``n_frames = T``.
    """
    centers = np.asarray(bouton_centers, dtype=np.float64)
    visible, valid = np.asarray(bouton_visible, dtype=bool), np.asarray(bouton_valid, dtype=bool)
    if centers.ndim != 3 or centers.shape[-1] != 2:
        raise ValueError(f"bouton_centers must be [T, NBOU, 2], got shape {centers.shape}")
    n_frames, n_bou = centers.shape[:2]
    if visible.shape != (n_bou, n_frames) or valid.shape != (n_bou,):
        raise ValueError(
            f"expected bouton_visible [{n_bou}, {n_frames}] and bouton_valid [{n_bou}], "
            f"got {visible.shape} and {valid.shape}"
        )
    t, b = np.nonzero((visible & valid[:, None]).T)  # frame-major order
    return Tracks(frame=t, track_id=b, points=centers[t, b], n_frames=n_frames)


def series_centrelines(centerlines, valid, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t`` of a series' centrelines: ``([NB, NSP, 2] float64, [NB, NSP] bool)`` from
    ``centerlines [T, NB, NSP, 2]`` and ``valid [T, NB, NSP]``."""
    cl, ok = np.asarray(centerlines, dtype=np.float64), np.asarray(valid, dtype=bool)
    if cl.ndim != 4 or cl.shape[-1] != 2 or ok.shape != cl.shape[:3]:
        raise ValueError(f"expected centerlines [T, NB, NSP, 2] and valid [T, NB, NSP], got {cl.shape} and {ok.shape}")
    if not 0 <= t < cl.shape[0]:
        raise ValueError(f"frame {t} out of range 0..{cl.shape[0] - 1}")
    return cl[t], ok[t]
