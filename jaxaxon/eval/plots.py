"""Evaluation pictures: ROC, TPR vs precision, Dice vs threshold (matplotlib, Agg) and map PNGs.

Curve functions take ``{name: curves}`` where ``curves`` is a mapping with ``thresholds``,
``dice``, ``tpr``, ``fpr``, ``precision`` (``[T]`` sequences, e.g. `ThresholdSweep.curves()` or
``metrics.json["curves"]``) and optionally ``best_threshold``; several names share one axes
(e.g. a model against the Frangi baseline). Every file is written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jaxaxon.atomic import atomic_path, save_figure

__all__ = [
    "plot_dice_threshold",
    "plot_roc",
    "plot_tpr_precision",
    "save_curve_plots",
    "save_mask_png",
    "save_overlay_png",
    "save_probability_png",
]

Curves = Mapping[str, Mapping]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _arr(curve: Mapping, key: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in curve[key]], np.float64)


def _best_index(curve: Mapping) -> int | None:
    if curve.get("best_threshold") is None:
        return None
    return int(np.argmin(np.abs(_arr(curve, "thresholds") - curve["best_threshold"])))


def _plot(curves: Curves, x: str, y: str, xlabel: str, ylabel: str, title: str, path, *, diagonal: bool = False):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, curve in curves.items():
        xs, ys = _arr(curve, x), _arr(curve, y)
        (line,) = ax.plot(xs, ys, label=name, lw=1.5)
        i = _best_index(curve)
        if i is not None and np.isfinite(xs[i]) and np.isfinite(ys[i]):
            ax.plot(xs[i], ys[i], "o", color=line.get_color(), ms=5)
    if diagonal:
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_roc(curves: Curves, path: str | os.PathLike) -> Path:
    """ROC: mean TPR against mean FPR over the thresholds (dot: best-Dice threshold)."""
    return _plot(curves, "fpr", "tpr", "false-positive rate", "true-positive rate", "ROC", path, diagonal=True)


def plot_tpr_precision(curves: Curves, path: str | os.PathLike) -> Path:
    """Mean precision against mean TPR (recall) over the thresholds."""
    return _plot(curves, "tpr", "precision", "true-positive rate (recall)", "precision", "TPR vs precision", path)


def plot_dice_threshold(curves: Curves, path: str | os.PathLike) -> Path:
    """Mean Dice against the threshold."""
    return _plot(curves, "thresholds", "dice", "threshold", "mean Dice", "Dice vs threshold", path)


def save_curve_plots(curves: Curves, out_dir: str | os.PathLike, prefix: str = "") -> list[Path]:
    """Writes ``roc.png``, ``tpr_precision.png`` and ``dice_threshold.png`` (with ``prefix``) to ``out_dir``."""
    out = Path(out_dir)
    return [
        plot_roc(curves, out / f"{prefix}roc.png"),
        plot_tpr_precision(curves, out / f"{prefix}tpr_precision.png"),
        plot_dice_threshold(curves, out / f"{prefix}dice_threshold.png"),
    ]


def _write_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")
    return Path(path)


def save_probability_png(path: str | os.PathLike, prob: np.ndarray) -> Path:
    """Saves a ``[H, W]`` map in [0, 1] as an 8-bit grayscale PNG (``round(255 * p)``, clipped)."""
    prob = np.asarray(prob, np.float64)
    if prob.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {prob.shape}")
    return _write_png(path, np.rint(np.clip(np.nan_to_num(prob), 0, 1) * 255).astype(np.uint8))


def save_mask_png(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Saves a ``[H, W]`` bool mask as an 8-bit PNG (0 / 255)."""
    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    return _write_png(path, mask.astype(np.uint8) * 255)


def save_overlay_png(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    centres: np.ndarray | None = None,
) -> Path:
    """An RGB check picture: the image (1st-99.9th percentile), a predicted mask tinted magenta,
    labelled boxes in green and detected centres as red crosses.

    Args:
      image: ``[H, W]``.
      mask: optional ``[H, W]`` bool.
      boxes: optional ``[K, 4]`` (row0, col0, row1, col1), half-open.
      centres: optional ``[M, 2]`` (row, col).
    """
    from PIL import Image, ImageDraw

    from jaxaxon.eval.baselines import unit_range

    grey = (unit_range(image) * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    if mask is not None:
        m = np.asarray(mask, bool)
        rgb[m, 0] = np.maximum(rgb[m, 0], 160)
        rgb[m, 2] = np.maximum(rgb[m, 2], 160)
    pic = Image.fromarray(rgb)
    draw = ImageDraw.Draw(pic)
    for r0, c0, r1, c1 in np.asarray(boxes if boxes is not None else np.zeros((0, 4))).reshape(-1, 4):
        draw.rectangle([int(c0), int(r0), int(c1) - 1, int(r1) - 1], outline=(0, 220, 0))
    for r, c in np.asarray(centres if centres is not None else np.zeros((0, 2))).reshape(-1, 2):
        draw.line([(c - 3, r), (c + 3, r)], fill=(255, 40, 40))
        draw.line([(c, r - 3), (c, r + 3)], fill=(255, 40, 40))
    return _write_png(path, np.asarray(pic))
