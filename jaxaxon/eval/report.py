"""From probability maps to ``metrics.json``, plots and saved predictions.

`evaluate_predictions` is model-agnostic: give it the labelled samples
(`jaxaxon.data.images.Sample` or anything with ``name``, ``image``, ``mask``, ``boxes``) and one
axon probability map per sample -- from a network (`jaxaxon.eval.inference.predict_image`) or a
baseline -- and optionally bouton probability maps or ready-made bouton detections. It writes::

    OUT/metrics.json                 summary, per-image and per-volume tables, full curves
    OUT/plots/roc.png  tpr_precision.png  dice_threshold.png
    OUT/predictions/NAME_prob.npy    float32 [H, W] axon probability
    OUT/predictions/NAME_prob.png    8-bit picture of it
    OUT/predictions/NAME_mask.png    prob > best threshold (0.5 when there are no masks)
    OUT/predictions/NAME_boutons.png image + labelled boxes (green) + detections (red), when boxes exist

`evaluate_baselines` runs the Frangi and LoG baselines through the same function.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxaxon.atomic import atomic_path, write_json_atomic
from jaxaxon.eval import baselines as bl
from jaxaxon.eval.metrics import (
    THRESHOLDS,
    DetectionCounts,
    bouton_centres,
    cldice,
    detection_scores,
    match_centres_to_boxes,
    threshold_sweep,
)
from jaxaxon.eval.plots import (
    save_curve_plots,
    save_mask_png,
    save_overlay_png,
    save_probability_png,
)

__all__ = ["evaluate_baselines", "evaluate_predictions", "json_safe", "write_json"]

CONVENTIONS = (
    "prediction = prob > threshold; per image Dice = 2TP/(2TP+FP+FN) (1 if both empty), TPR = TP/(TP+FN), "
    "FPR = FP/(FP+TN), precision = TP/(TP+FP), undefined ratios skipped in means over images; best threshold = "
    "first maximum of mean Dice over the evaluated images; clDice (Shit et al. 2021) per image at the best threshold, "
    "averaged; boutons: greedy one-to-one matching, a detected centre inside an unmatched box is a hit, "
    "precision/recall/F1 on counts summed over images"
)
BOUTON_F1_THRESHOLDS = tuple(np.round(np.linspace(0.1, 0.9, 9), 2).tolist())


def json_safe(obj: Any) -> Any:
    """Converts NumPy types to Python ones and NaN/inf to None, recursively."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Writes ``obj`` as JSON (via `json_safe`) atomically."""
    return write_json_atomic(path, json_safe(obj))


def _check_maps(samples: Sequence, maps: Sequence[np.ndarray] | None, what: str) -> list[np.ndarray] | None:
    if maps is None:
        return None
    maps = [np.asarray(m) for m in maps]
    if len(maps) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(maps)} {what}")
    for s, m in zip(samples, maps):
        if m.shape != tuple(s.image.shape):
            raise ValueError(f"{s.name}: {what} has shape {m.shape} but the image is {tuple(s.image.shape)}")
        if m.size and not (np.all(np.isfinite(m)) and m.min() >= 0 and m.max() <= 1):
            raise ValueError(
                f"{s.name}: {what} must hold probabilities in [0, 1] "
                f"(got min {np.nanmin(m):.4g}, max {np.nanmax(m):.4g}"
                f"{', NaN/inf' if not np.all(np.isfinite(m)) else ''}); apply the sigmoid/softmax first"
            )
    return maps


def _pixel_metrics(
    samples: Sequence, maps: list[np.ndarray], thresholds: np.ndarray, skip: bool = False
) -> tuple[dict, dict, list]:
    idx = [] if skip else [i for i, s in enumerate(samples) if s.mask is not None]
    rows: dict[int, dict] = {i: {} for i in range(len(samples))}
    summary: dict[str, Any] = {
        k: None for k in ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision", "pooled_dice")
    }
    if not idx:
        return summary, rows, []
    sweep = threshold_sweep(
        [maps[i] for i in idx], [samples[i].mask for i in idx], thresholds, [samples[i].name for i in idx]
    )
    summary.update(sweep.summary())
    b = sweep.best_index
    per = sweep.per_image
    cl = []
    for k, i in enumerate(idx):
        c = cldice(maps[i] > sweep.best_threshold, samples[i].mask)
        cl.append(c)
        rows[i].update({m: float(per[m][k, b]) for m in ("dice", "tpr", "fpr", "precision")})
        rows[i]["cldice"] = c
    summary["cldice"] = float(np.mean(cl))
    curves = sweep.curves()
    curves["best_threshold"] = sweep.best_threshold
    return summary, rows, [curves]


def _bouton_metrics(
    samples: Sequence,
    bouton_maps: list[np.ndarray] | None,
    detections: Sequence[np.ndarray] | None,
    threshold: float,
    min_area: int | Sequence[int],
    margin: float,
) -> tuple[dict, dict, list]:
    idx = [i for i, s in enumerate(samples) if s.boxes is not None]
    if not idx or (bouton_maps is None and detections is None):
        return {}, {}, [None] * len(samples)
    areas = [min_area] * len(samples) if isinstance(min_area, (int, np.integer)) else [int(a) for a in min_area]
    if len(areas) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(areas)} bouton minimum areas")
    centres: list = [None] * len(samples)
    scores: list = [None] * len(samples)
    for i in range(len(samples)):
        if detections is not None:
            centres[i] = np.asarray(detections[i], np.float64).reshape(-1, 2)
        else:
            centres[i], scores[i] = bouton_centres(bouton_maps[i], threshold, areas[i])
    total = DetectionCounts(0, 0, 0)
    rows = {}
    for i in idx:
        c = match_centres_to_boxes(centres[i], samples[i].boxes, scores[i], margin)
        total = total + c
        rows[i] = {"bouton_tp": c.tp, "bouton_fp": c.fp, "bouton_fn": c.fn}
    s = detection_scores(total)
    summary = {
        "bouton_precision": s["precision"],
        "bouton_recall": s["recall"],
        "bouton_f1": s["f1"],
        "bouton_tp": total.tp,
        "bouton_fp": total.fp,
        "bouton_fn": total.fn,
        "n_boxes": int(sum(len(samples[i].boxes) for i in idx)),
        "bouton_detection": (
            {"source": "given detections", "box_margin": margin}
            if detections is not None
            else {
                "source": "components of bouton map > threshold",
                "threshold": threshold,
                "min_area": areas[0] if len(set(areas)) == 1 else areas,
                "box_margin": margin,
            }
        ),
    }
    if bouton_maps is not None:  # for information: F1 at other thresholds (not used to pick anything)
        curve = []
        for t in BOUTON_F1_THRESHOLDS:
            tot = DetectionCounts(0, 0, 0)
            for i in idx:
                ce, sc = bouton_centres(bouton_maps[i], t, areas[i])
                tot = tot + match_centres_to_boxes(ce, samples[i].boxes, sc, margin)
            curve.append(detection_scores(tot)["f1"])
        summary["bouton_f1_curve"] = {"thresholds": list(BOUTON_F1_THRESHOLDS), "f1": curve}
    return summary, rows, centres


def _per_volume(samples: Sequence, rows: dict[int, dict]) -> dict[str, dict]:
    volumes: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        if getattr(s, "volume", None) is not None and "dice" in rows.get(i, {}):
            volumes.setdefault(s.volume, []).append(i)
    return {
        v: {"n_slices": len(ix), **{m: float(np.mean([rows[i][m] for i in ix])) for m in ("dice", "cldice")}}
        for v, ix in volumes.items()
    }


def evaluate_predictions(
    samples: Sequence,
    prob_maps: Sequence[np.ndarray] | None,
    out_dir: str | os.PathLike,
    bouton_maps: Sequence[np.ndarray] | None = None,
    *,
    bouton_detections: Sequence[np.ndarray] | None = None,
    name: str = "model",
    thresholds: np.ndarray = THRESHOLDS,
    bouton_threshold: float = 0.5,
    bouton_min_area: int | Sequence[int] = 4,
    box_margin: float = 0.0,
    save_predictions: bool = True,
    extra: dict | None = None,
) -> dict:
    """Scores probability maps against labelled samples and writes ``metrics.json``, plots, predictions.

    Args:
      samples: N samples (``name``, ``image [H, W]``, ``mask [H, W] | None``, ``boxes [K, 4] | None``).
      prob_maps: N axon probability maps ``[H, W]`` in [0, 1], or None (bouton-only evaluation).
      out_dir: output folder (created).
      bouton_maps: optional N bouton probability maps; blob centres via `bouton_centres`
        (``bouton_threshold``, ``bouton_min_area``).
      bouton_detections: optional N ``[K, 2]`` centre arrays instead of ``bouton_maps`` (e.g. LoG).
      name: label of this method in the plots and the JSON.
      thresholds: the sweep's thresholds (default: the original's 200).
      bouton_threshold, bouton_min_area: blob extraction from ``bouton_maps`` (the minimum
        area in pixels: one for all images, or one per image).
      box_margin: pixels of tolerance around every box when matching.
      save_predictions: write the maps as ``.npy`` and PNG.
      extra: more entries for ``metrics.json`` (e.g. checkpoint, baseline parameters).

    Returns:
      The ``metrics.json`` content: ``best_threshold``, ``dice``, ``cldice``, ``tpr``, ``fpr``,
      ``precision``, ``pooled_dice`` (None without masks); with boxes and detections
      ``bouton_precision``, ``bouton_recall``, ``bouton_f1`` and counts; ``per_image``,
      ``per_volume``, ``curves``, counts of images, ``conventions``.
    """
    samples = list(samples)
    if not samples:
        raise ValueError("evaluate_predictions needs at least one sample")
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"sample names must be unique (their predictions share files): {', '.join(dup)}")
    if bouton_maps is not None and bouton_detections is not None:
        raise ValueError("give bouton_maps or bouton_detections, not both")
    maps = _check_maps(samples, prob_maps, "probability map")
    bmaps = _check_maps(samples, bouton_maps, "bouton map")
    if bouton_detections is not None and len(bouton_detections) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(bouton_detections)} bouton detection arrays")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    if maps is not None:
        pix, rows, curves = _pixel_metrics(samples, maps, np.asarray(thresholds, np.float64))
    else:
        pix, rows, curves = _pixel_metrics(samples, [], np.asarray(thresholds, np.float64), skip=True)
    bou, brows, centres = _bouton_metrics(
        samples, bmaps, bouton_detections, bouton_threshold, bouton_min_area, box_margin
    )
    for i, r in brows.items():
        rows[i].update(r)

    metrics: dict[str, Any] = {
        "name": name,
        "n_images": len(samples),
        "n_images_with_masks": sum(s.mask is not None for s in samples),
        "n_images_with_boxes": sum(s.boxes is not None for s in samples),
        **pix,
        **bou,
        "per_image": [{"name": s.name, **rows[i]} for i, s in enumerate(samples)],
        "per_volume": _per_volume(samples, rows),
        "curves": curves[0] if curves else None,
        "conventions": CONVENTIONS,
        **(extra or {}),
    }
    if curves:
        save_curve_plots({name: curves[0]}, out / "plots")
    if save_predictions:
        cut = pix.get("best_threshold")
        cut = 0.5 if cut is None else cut
        pred = out / "predictions"
        for i, s in enumerate(samples):
            if maps is not None:
                with atomic_path(pred / f"{s.name}_prob.npy") as tmp:
                    np.save(tmp, maps[i].astype(np.float32))
                save_probability_png(pred / f"{s.name}_prob.png", maps[i])
                save_mask_png(pred / f"{s.name}_mask.png", maps[i] > cut)
            if s.boxes is not None and centres[i] is not None:
                save_overlay_png(pred / f"{s.name}_boutons.png", s.image, boxes=s.boxes, centres=centres[i])
        metrics["mask_threshold"] = cut if maps is not None else None
    write_json(out / "metrics.json", metrics)
    return json_safe(metrics)


def evaluate_baselines(
    samples: Sequence,
    out_dir: str | os.PathLike,
    *,
    frangi_sigmas: Sequence[float] = bl.AXON_SIGMAS,
    log_params: bl.LogParams | None = bl.DEFAULT_LOG_PARAMS,
    save_predictions: bool = True,
    box_margin: float = 0.0,
) -> dict:
    """Runs the Frangi (axons) and LoG (boutons) baselines through `evaluate_predictions`.

    Writes ``OUT/frangi/`` when some samples have masks, ``OUT/log/`` when some have boxes, and
    ``OUT/baselines.json`` with both summaries.

    Args:
      samples: labelled samples.
      out_dir: output folder.
      frangi_sigmas: Frangi scales (`AXON_SIGMAS` for axons, `VESSEL_SIGMAS` for vesselnn).
      log_params: LoG parameters; None fits them on ``samples`` themselves with
        `fit_log_detector` (in-sample, optimistic; the fit is recorded).
      save_predictions: write maps and overlays.
      box_margin: tolerance around boxes.

    Returns:
      ``{"frangi": metrics or None, "log": metrics or None}`` (curves and per-image tables included).
    """
    samples = list(samples)
    out = Path(out_dir)
    result: dict[str, Any] = {"frangi": None, "log": None}
    masked = [s for s in samples if s.mask is not None]
    if masked:
        maps = [bl.frangi_map(s.image, frangi_sigmas) for s in masked]
        result["frangi"] = evaluate_predictions(
            masked,
            maps,
            out / "frangi",
            name=f"Frangi {list(frangi_sigmas)}",
            save_predictions=save_predictions,
            extra={"baseline": "frangi", "sigmas": list(frangi_sigmas)},
        )
    boxed = [s for s in samples if s.boxes is not None]
    if boxed:
        extra: dict[str, Any] = {"baseline": "log"}
        if log_params is None:
            log_params, fit = bl.fit_log_detector(boxed)
            extra["fit"] = {"on": "the evaluated samples (in-sample)", **{k: fit[k] for k in ("params", "f1")}}
        extra["log_params"] = log_params.to_dict()
        dets = [bl.detect_boutons_log(s.image, log_params)[0] for s in boxed]
        result["log"] = evaluate_predictions(
            boxed,
            None,
            out / "log",
            bouton_detections=dets,
            name="LoG",
            box_margin=box_margin,
            save_predictions=save_predictions,
            extra=extra,
        )
    summary_keys = (
        "best_threshold",
        "dice",
        "cldice",
        "tpr",
        "fpr",
        "precision",
        "pooled_dice",
        "bouton_precision",
        "bouton_recall",
        "bouton_f1",
        "sigmas",
        "log_params",
        "n_images",
    )
    write_json(
        out / "baselines.json",
        {k: None if v is None else {kk: v[kk] for kk in summary_keys if kk in v} for k, v in result.items()},
    )
    return result
