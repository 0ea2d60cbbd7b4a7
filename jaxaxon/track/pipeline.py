"""Bouton tracking of time series with a trained network, and its scores against ground truth.

`track_points` registers the frames and links per-frame detections (`jaxaxon.track.register`,
`jaxaxon.track.link`); `detect_series` runs a checkpoint's heads on every frame at the run's
scale (`jaxaxon.eval.evaluate.probability_maps`) and takes the bouton centres of the bouton map
(`jaxaxon.eval.metrics.bouton_centres`, the same detection rule as ``jaxaxon evaluate``);
`score_series` gives the tracking scores of one series.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxaxon.track.config import TrackerConfig
from jaxaxon.track.link import link_detections
from jaxaxon.track.metrics import centreline_accuracy_details, event_scores, tracking_scores
from jaxaxon.track.register import register_series
from jaxaxon.track.series_data import SeriesSample
from jaxaxon.track.tracks import Tracks

__all__ = ["SeriesDetections", "track_points", "detect_series", "score_series", "pool_scores"]


def track_points(frames: np.ndarray, detections: Sequence[np.ndarray], config: TrackerConfig) -> Tracks:
    """Tracks from per-frame detections: frames registered to frame 0, detections linked.

    Args:
      frames: ``[T, H, W]`` frames (for the registration).
      detections: T arrays ``[K_t, 2]`` (row, col) in each frame's coordinates.
      config: the tracker's settings.

    Returns:
      `Tracks` with points in each frame's own coordinates.
    """
    frames = np.asarray(frames, np.float32)
    if len(detections) != frames.shape[0]:
        raise ValueError(f"{frames.shape[0]} frames but {len(detections)} detection arrays")
    registrations = register_series(frames, max_rotation_deg=config.max_rotation_deg)
    frame, track_id, points = link_detections(detections, registrations, gate=config.gate, max_gap=config.max_gap)
    return Tracks(frame=frame, track_id=track_id, points=points, n_frames=frames.shape[0])


@dataclasses.dataclass(frozen=True, eq=False)
class SeriesDetections:
    """A network's output on one series.

    Attributes:
      axon_maps: ``[T, H, W]`` axon probabilities, or None (no axon head).
      bouton_maps: ``[T, H, W]`` bouton probabilities, or None (no bouton head).
      points: T arrays ``[K_t, 2]`` bouton centres (empty without a bouton head).
      zoom: the factor the frames were resampled by before the network.
      min_area: the smallest bouton component counted (pixels of the frames).
    """

    axon_maps: np.ndarray | None
    bouton_maps: np.ndarray | None
    points: list[np.ndarray]
    zoom: float
    min_area: int


def detect_series(
    model, run_config, series: SeriesSample, threshold: float = 0.5, *, zoom=None
) -> SeriesDetections:
    """Runs the network on every frame of ``series`` and takes the bouton centres.

    Args:
      model: the network; run_config: its `RunConfig`.
      series: the series.
      threshold: bouton-map threshold.
      zoom: a `jaxaxon.eval.scale.Zoom` for the frames (default: the run's recorded scale).
    """
    from jaxaxon.eval.evaluate import bouton_min_areas, probability_maps
    from jaxaxon.eval.metrics import bouton_centres
    from jaxaxon.eval.scale import resolve_zoom

    zoom = resolve_zoom(run_config) if zoom is None else zoom
    names = [f"{series.name} frame {t}" for t in range(series.n_frames)]
    maps = np.stack(probability_maps(model, run_config, list(series.frames), None, [zoom.zoom] * len(names), names))
    heads = list(run_config.model.heads)
    axon = maps[..., heads.index("axon")] if "axon" in heads else None
    bouton = maps[..., heads.index("bouton")] if "bouton" in heads else None
    min_area = bouton_min_areas(run_config, [zoom.zoom])[0]
    if bouton is None:
        points = [np.zeros((0, 2))] * series.n_frames
    else:
        points = [bouton_centres(b, threshold, min_area)[0] for b in bouton]
    return SeriesDetections(axon, bouton, points, float(zoom.zoom), int(min_area))


def _skeleton_points(mask: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    return np.argwhere(skeletonize(mask)).astype(np.float64)


def score_series(
    series: SeriesSample,
    tracks: Tracks,
    config: TrackerConfig,
    *,
    axon_maps: np.ndarray | None = None,
    axon_threshold: float = 0.5,
    window: float = 5.0,
) -> dict[str, Any]:
    """Tracking scores of one series against its ground truth.

    Args:
      series: the series with ground-truth ``tracks`` (bouton scores) and ``centrelines``
        (centreline accuracy), either may be None.
      tracks: the predicted bouton tracks.
      config: the tracker's settings (``gate`` is the matching distance).
      axon_maps: ``[T, H, W]`` axon probabilities; their skeleton at ``axon_threshold`` is
        scored against the centrelines (the original's tracking accuracy, ``window`` px).

    Returns:
      ``bouton_tracking`` (`tracking_scores`) and ``bouton_events`` (`event_scores`) when the
      series has tracks; ``centreline_accuracy`` (mean distance in px over matched skeleton
      points, with ``n_points`` and ``n_matched``) when it has centrelines and maps are given.
    """
    out: dict[str, Any] = {"name": series.name, "n_frames": series.n_frames, "n_tracks": int(len(tracks.ids))}
    if series.tracks is not None:
        out["bouton_tracking"] = tracking_scores(series.tracks, tracks, config.gate)
        out["bouton_events"] = event_scores(series.tracks, tracks, config.gate)
    if series.centrelines is not None and axon_maps is not None:
        parts = [
            centreline_accuracy_details(
                _skeleton_points(axon_maps[t] > axon_threshold), series.centrelines[t], series.centreline_valid[t], window
            )
            for t in range(series.n_frames)
        ]
        out["centreline_accuracy"] = {**_pooled_accuracy(parts), "window": window, "threshold": axon_threshold}
    return out


def _pooled_accuracy(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Centreline accuracies (``mean``, ``n_points``, ``n_matched``) pooled: the mean over all matched points."""
    matched = sum(p["n_matched"] for p in parts)
    total = sum(p["mean"] * p["n_matched"] for p in parts if p["n_matched"])
    return {
        "mean": total / matched if matched else float("nan"),
        "n_points": int(sum(p["n_points"] for p in parts)),
        "n_matched": int(matched),
    }


_COUNTS = ("tp", "fp", "fn", "id_switches", "n_gt", "n_pred")


def pool_scores(per_series: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Scores pooled over series: counts summed, rates recomputed from them."""
    out: dict[str, Any] = {}
    tracking = [s["bouton_tracking"] for s in per_series if "bouton_tracking" in s]
    if tracking:
        c = {k: int(sum(t[k] for t in tracking)) for k in _COUNTS}
        ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
        p, r = ratio(c["tp"], c["tp"] + c["fp"]), ratio(c["tp"], c["tp"] + c["fn"])
        out["bouton_tracking"] = {
            **c,
            "mota": 1 - ratio(c["fn"] + c["fp"] + c["id_switches"], c["n_gt"]) if c["n_gt"] else float("nan"),
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / (p + r) if (p + r) > 0 else 0.0,
        }
        events = {}
        for kind in ("gain", "loss", "events"):
            ev = [s["bouton_events"][kind] for s in per_series if "bouton_events" in s]
            tp, fp, fn = (int(sum(e[k] for e in ev)) for k in ("tp", "fp", "fn"))
            ep, er = ratio(tp, tp + fp), ratio(tp, tp + fn)
            f1 = 1.0 if tp + fp + fn == 0 else (2 * ep * er / (ep + er) if tp and (ep + er) > 0 else 0.0)
            events[kind] = {"tp": tp, "fp": fp, "fn": fn, "precision": ep, "recall": er, "f1": f1}
        out["bouton_events"] = events
    acc = [s["centreline_accuracy"] for s in per_series if "centreline_accuracy" in s]
    if acc:
        out["centreline_accuracy"] = _pooled_accuracy(acc)
    return out
