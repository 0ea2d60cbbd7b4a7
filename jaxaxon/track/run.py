"""``jaxaxon track`` and ``jaxaxon evaluate`` on time series: run a checkpoint on every frame,
track its boutons, write the tracks and pictures, and score them against ground truth."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jaxaxon.track.config import TrackerConfig
from jaxaxon.track.pipeline import detect_series, pool_scores, score_series, track_points
from jaxaxon.track.series_data import SeriesSample, load_series
from jaxaxon.track.tracks import Tracks

__all__ = ["DETECTION_SOURCES", "track_checkpoint", "evaluate_series", "save_overlay"]

DETECTION_SOURCES = ("network", "truth")
"""Where `evaluate_series` takes the bouton points from: the checkpoint's bouton head, or the
ground-truth points of each frame (scores the registration and linking alone)."""

MAX_OVERLAY_FRAMES = 8


def save_overlay(series: SeriesSample, tracks: Tracks, path: Path) -> None:
    """Up to `MAX_OVERLAY_FRAMES` frames side by side with the tracked points, coloured and
    numbered by track."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxaxon.atomic import save_figure

    shown = np.unique(np.linspace(0, series.n_frames - 1, min(series.n_frames, MAX_OVERLAY_FRAMES)).round().astype(int))
    fig, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 3.2), squeeze=False)
    colours = plt.get_cmap("tab20")
    for ax, t in zip(axes[0], shown):
        ax.imshow(series.frames[t], cmap="gray")
        ids, pts = tracks.in_frame(int(t))
        for i, (r, c) in zip(ids, pts):
            ax.plot(c, r, "o", ms=6, mfc="none", mec=colours(int(i) % 20), mew=1.2)
            ax.text(c + 2, r - 2, str(int(i)), color=colours(int(i) % 20), fontsize=6)
        ax.set_title(f"{series.name}: frame {t}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def _load(checkpoint, heads_needed: tuple[str, ...]):
    from jaxaxon.train.checkpoint import CheckpointError
    from jaxaxon.train.inference import load_model

    model, rc = load_model(checkpoint)
    heads = tuple(rc.model.heads)
    if getattr(rc.model, "kind", "") == "autoencoder" or not set(heads_needed) <= set(heads):
        raise CheckpointError(
            f"{checkpoint}: needs a segmentation checkpoint with {' and '.join(heads_needed)} head(s) "
            f"(this one: {getattr(rc.model, 'kind', 'segmentation')}, heads {', '.join(heads)})"
        )
    return model, rc


def _zoom(rc, pixel_size: float | None, scale: float | None):
    from jaxaxon.eval.scale import resolve_zoom

    return resolve_zoom(rc, pixel_size=pixel_size, scale=scale)


def track_checkpoint(
    checkpoint: str | os.PathLike,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrackerConfig = TrackerConfig(),
    *,
    pixel_size: float | None = None,
    scale: float | None = None,
    limit: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Tracks the boutons of every series in ``data`` with a checkpoint's bouton head; writes
    ``OUT/NAME_tracks.csv`` (``frame,id,row,col``, frame coordinates), ``OUT/NAME_overlay.png``
    and ``OUT/tracks.json`` (settings and per-series counts).

    Raises:
      ImageDataError, ScaleError, CheckpointError, OutputPathError, ValueError (no bouton head).
    """
    from jaxaxon.eval.report import write_json
    from jaxaxon.outpaths import check_output_folder

    out = check_output_folder(out_dir)
    model, rc = _load(checkpoint, ("bouton",))
    zoom = _zoom(rc, pixel_size, scale)
    series = load_series(data, limit=limit)
    log(f"found {len(series)} series ({sum(s.n_frames for s in series)} frames)")
    rows = []
    for s in series:
        det = detect_series(model, rc, s, config.threshold, zoom=zoom)
        tracks = track_points(s.frames, det.points, config)
        tracks.to_csv(out / f"{s.name}_tracks.csv")
        save_overlay(s, tracks, out / f"{s.name}_overlay.png")
        rows.append({"name": s.name, "n_frames": s.n_frames, "n_tracks": len(tracks.ids), "n_points": len(tracks)})
        log(f"{s.name}: {len(tracks.ids)} tracks over {s.n_frames} frames")
    record = {
        "checkpoint": str(checkpoint), "data": str(data), "tracker": _settings(config),
        "zoom": float(zoom.zoom), "series": rows,
    }  # fmt: skip
    write_json(out / "tracks.json", record)
    return record


def _settings(config: TrackerConfig) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(config)


def evaluate_series(
    checkpoint: str | os.PathLike | None,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrackerConfig = TrackerConfig(),
    *,
    detections: str = "network",
    pixel_size: float | None = None,
    scale: float | None = None,
    limit: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Per-frame segmentation metrics and tracking metrics of a checkpoint on labelled series;
    writes ``OUT/metrics.json`` (``segmentation``: `jaxaxon.eval.report.evaluate_predictions`
    over all frames; ``tracking``: pooled and per series), tracks and overlays.

    Args:
      checkpoint: a run or checkpoint (may be None with ``detections='truth'``).
      data: series with ground truth (`load_series`).
      detections: ``network`` (the checkpoint's bouton head) or ``truth`` (the ground-truth
        points of each frame: scores registration and linking alone).

    Raises:
      ImageDataError: no ground truth to score; and as `track_checkpoint`.
    """
    from jaxaxon.data.images import ImageDataError, Sample
    from jaxaxon.eval.report import evaluate_predictions, write_json
    from jaxaxon.outpaths import check_output_folder

    if detections not in DETECTION_SOURCES:
        raise ValueError(f"detections: expected one of {', '.join(DETECTION_SOURCES)}, got {detections!r}")
    if checkpoint is None and detections == "network":
        raise ValueError("detections 'network' needs a checkpoint")
    out = check_output_folder(out_dir)
    model = rc = zoom = None
    if checkpoint is not None:
        model, rc = _load(checkpoint, ("bouton",) if detections == "network" else ("axon",))
        zoom = _zoom(rc, pixel_size, scale)
    series = load_series(data, limit=limit)
    if not any(s.tracks is not None or s.axon_masks is not None for s in series):
        raise ImageDataError(f"{data}: no ground truth (bouton tracks or axon masks) to score; use jaxaxon track")
    log(f"found {len(series)} series ({sum(s.n_frames for s in series)} frames)")
    per_series, frames, axon_maps = [], [], []
    for s in series:
        det = detect_series(model, rc, s, config.threshold, zoom=zoom) if model is not None else None
        if detections == "truth":
            if s.tracks is None:
                raise ImageDataError(f"{s.source}: no ground-truth bouton points for detections 'truth'")
            points = [s.tracks.in_frame(t)[1] for t in range(s.n_frames)]
        else:
            points = det.points
        tracks = track_points(s.frames, points, config)
        tracks.to_csv(out / f"{s.name}_tracks.csv")
        save_overlay(s, tracks, out / f"{s.name}_overlay.png")
        maps = det.axon_maps if det is not None else None
        per_series.append(score_series(s, tracks, config, axon_maps=maps))
        if maps is not None and s.axon_masks is not None:
            frames += [Sample(f"{s.name}_t{t:03d}", s.frames[t], s.axon_masks[t], None) for t in range(s.n_frames)]
            axon_maps += list(maps)
    metrics: dict[str, Any] = {
        "checkpoint": None if checkpoint is None else str(checkpoint), "data": str(data), "detections": detections,
        "tracker": _settings(config), "zoom": None if zoom is None else float(zoom.zoom),
    }  # fmt: skip
    if frames:
        seg = evaluate_predictions(frames, axon_maps, out / "frames", save_predictions=False)
        metrics["segmentation"] = {k: seg.get(k) for k in ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision")}
    metrics["tracking"] = {"pooled": pool_scores(per_series), "per_series": per_series}
    write_json(out / "metrics.json", metrics)
    return metrics
