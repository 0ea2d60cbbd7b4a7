"""Segmentation and detection metrics (pure NumPy; skimage/scipy for skeletons and components).

Pixel metrics follow the original study: a sweep of 200 thresholds from 0.005 to 0.995; for
each threshold, the mean over images of Dice, true-positive rate (TPR, recall, sensitivity),
false-positive rate (FPR) and precision; the best mean Dice and its threshold.

Conventions (per image, prediction = ``prob > threshold``, strict):

- Dice ``= 2 TP / (2 TP + FP + FN)``; **1** when mask and prediction are both empty.
- TPR ``= TP / (TP + FN)``: undefined (NaN) when the mask is empty.
- FPR ``= FP / (FP + TN)``: undefined (NaN) when the mask covers the whole image.
- Precision ``= TP / (TP + FP)``: undefined (NaN) when nothing is predicted.
- Means over images skip undefined (NaN) values; a mean with no defined value is NaN (``null`` in
  JSON). Dice is always defined, so its mean is over all images.
- The best threshold is the first (lowest) threshold reaching the maximum mean Dice. It is
  picked on the evaluated images themselves, as in the original: optimistic, equally so for a
  model and a baseline.
- Pooled ("micro") versions sum TP/FP/FN/TN over all images before dividing; reported alongside.

clDice (Shit et al., CVPR 2021): with skeletons ``S_P``, ``S_L`` of prediction and label,
``Tprec = |S_P ∩ L| / |S_P|``, ``Tsens = |S_L ∩ P| / |S_L|``, clDice = harmonic mean. 1 when both
masks are empty, 0 when exactly one is. Skeletons by `skimage.morphology.skeletonize`.

Bouton detection: blob centres from a probability map are matched to labelled boxes; a centre
inside a still unmatched box is a hit (true positive), each box is matched at most once, each
centre matches at most one box. Greedy and deterministic: centres are taken in descending score
(ties: given order), each takes, among the unmatched boxes containing it, the one whose centre is
nearest (ties: lowest index). Unmatched centres are false positives (a second centre in an already
matched box included), unmatched boxes false negatives. Precision/recall/F1 are computed on
counts summed over images ("micro"); F1 ``= 2 TP / (2 TP + FP + FN)`` (1 when all counts are 0),
precision NaN without detections, recall NaN without boxes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = [
    "THRESHOLDS",
    "DetectionCounts",
    "ThresholdSweep",
    "bouton_centres",
    "boxes_from_centres",
    "boxes_from_label",
    "boxes_from_mask",
    "cldice",
    "confusion_counts",
    "detection_scores",
    "dice",
    "match_centres_to_boxes",
    "pixel_rates",
    "threshold_sweep",
]

THRESHOLDS = np.linspace(0.005, 0.995, 200)
"""The original's 200 thresholds, 0.005 to 0.995 (step 0.004975)."""


# --------------------------------------------------------------------------- pixel metrics


def _check_pair(prob: np.ndarray, mask: np.ndarray, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    prob = np.asarray(prob)
    mask = np.asarray(mask)
    if prob.shape != mask.shape:
        raise ValueError(f"{where}prediction shape {prob.shape} differs from mask shape {mask.shape}")
    return prob, mask.astype(bool)


def dice(pred: np.ndarray, mask: np.ndarray) -> float:
    """Dice of two binary masks ``[H, W]`` (1 when both are empty)."""
    pred, mask = _check_pair(np.asarray(pred).astype(bool), mask)
    tp = np.count_nonzero(pred & mask)
    denom = np.count_nonzero(pred) + np.count_nonzero(mask)
    return 1.0 if denom == 0 else 2.0 * tp / denom


def confusion_counts(prob: np.ndarray, mask: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """TP, FP, FN, TN of ``prob > t`` against ``mask`` for every threshold, in one sort.

    Args:
      prob: ``[H, W]`` (any shape) probabilities.
      mask: same shape, bool (nonzero = foreground).
      thresholds: ``[T]``.

    Returns:
      ``[T, 4]`` int64 counts (TP, FP, FN, TN).
    """
    prob, mask = _check_pair(prob, mask)
    t = np.asarray(thresholds, np.float64)
    pos = np.sort(prob[mask].astype(np.float64, copy=False))
    neg = np.sort(prob[~mask].astype(np.float64, copy=False))
    tp = pos.size - np.searchsorted(pos, t, side="right")
    fp = neg.size - np.searchsorted(neg, t, side="right")
    return np.stack([tp, fp, pos.size - tp, neg.size - fp], axis=-1).astype(np.int64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def pixel_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Dice, TPR, FPR and precision from ``[..., 4]`` counts (conventions in the module notes)."""
    tp, fp, fn, tn = (counts[..., i] for i in range(4))
    d = _ratio(2 * tp, 2 * tp + fp + fn)
    d = np.where(tp + fp + fn == 0, 1.0, d)
    return {"dice": d, "tpr": _ratio(tp, tp + fn), "fpr": _ratio(fp, fp + tn), "precision": _ratio(tp, tp + fp)}


def _nanmean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    n = np.sum(~np.isnan(x), axis=axis)
    s = np.nansum(x, axis=axis)
    return _ratio(s, n)


@dataclasses.dataclass(frozen=True)
class ThresholdSweep:
    """The original's threshold sweep over a set of images.

    Attributes:
      thresholds: ``[T]``.
      counts: ``[N, T, 4]`` int64 TP, FP, FN, TN per image and threshold.
      names: the N image names.
    """

    thresholds: np.ndarray
    counts: np.ndarray
    names: tuple[str, ...]

    @property
    def per_image(self) -> dict[str, np.ndarray]:
        """Dice/TPR/FPR/precision ``[N, T]`` per image (NaN where undefined)."""
        return pixel_rates(self.counts)

    @property
    def mean(self) -> dict[str, np.ndarray]:
        """Mean over images ``[T]`` of each rate (NaN skipped)."""
        return {k: _nanmean(v) for k, v in self.per_image.items()}

    @property
    def pooled(self) -> dict[str, np.ndarray]:
        """Rates ``[T]`` of the counts summed over images."""
        return pixel_rates(self.counts.sum(axis=0))

    @property
    def best_index(self) -> int:
        """Index of the first threshold with the highest mean Dice."""
        return int(np.argmax(self.mean["dice"]))

    @property
    def best_threshold(self) -> float:
        """The threshold with the highest mean Dice."""
        return float(self.thresholds[self.best_index])

    def summary(self) -> dict[str, float]:
        """Mean Dice/TPR/FPR/precision at the best threshold and pooled Dice there."""
        i = self.best_index
        mean = self.mean
        out = {"best_threshold": self.best_threshold}
        out.update({k: float(v[i]) for k, v in mean.items()})
        out["pooled_dice"] = float(self.pooled["dice"][i])
        return out

    def curves(self) -> dict[str, list[float]]:
        """The mean curves as lists (for JSON; NaN stays NaN -- write with `json_safe`)."""
        out = {"thresholds": self.thresholds.tolist()}
        out.update({k: v.tolist() for k, v in self.mean.items()})
        out["pooled_dice"] = self.pooled["dice"].tolist()
        return out


def threshold_sweep(
    probs: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    thresholds: np.ndarray = THRESHOLDS,
    names: Sequence[str] | None = None,
) -> ThresholdSweep:
    """Runs the threshold sweep over images of any (per-image) sizes.

    Args:
      probs: N probability maps ``[H_i, W_i]``.
      masks: N masks of the same sizes.
      thresholds: ``[T]`` thresholds (default: the original's 200).
      names: optional image names (for error messages and per-image tables).

    Returns:
      A `ThresholdSweep`.
    """
    if len(probs) != len(masks):
        raise ValueError(f"{len(probs)} probability maps but {len(masks)} masks")
    if len(probs) == 0:
        raise ValueError("threshold_sweep needs at least one image with a mask")
    names = tuple(names) if names is not None else tuple(str(i) for i in range(len(probs)))
    thresholds = np.asarray(thresholds, np.float64)
    counts = []
    for name, p, m in zip(names, probs, masks):
        _check_pair(p, m, f"{name}: ")
        counts.append(confusion_counts(p, m, thresholds))
    return ThresholdSweep(thresholds=thresholds, counts=np.stack(counts), names=names)


def _skeleton(mask: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    return skeletonize(mask) if mask.any() else mask


def cldice(pred: np.ndarray, mask: np.ndarray) -> float:
    """Centreline Dice (Shit et al. 2021) of two binary 2-D masks (conventions in the module notes)."""
    pred, mask = _check_pair(np.asarray(pred).astype(bool), mask)
    if not pred.any() and not mask.any():
        return 1.0
    if not pred.any() or not mask.any():
        return 0.0
    sp, sl = _skeleton(pred), _skeleton(mask)
    tprec = np.count_nonzero(sp & mask) / max(np.count_nonzero(sp), 1)
    tsens = np.count_nonzero(sl & pred) / max(np.count_nonzero(sl), 1)
    return 0.0 if tprec + tsens == 0 else 2.0 * tprec * tsens / (tprec + tsens)


# --------------------------------------------------------------------------- bouton detection


def bouton_centres(
    prob: np.ndarray,
    threshold: float = 0.5,
    min_area: int = 4,
    *,
    min_distance: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Blob centres of a bouton probability map.

    Two methods:
    - components (default): 8-connected components of ``prob > threshold`` with at least
      ``min_area`` pixels; centre = probability-weighted centroid; score = maximum probability.
    - peaks (``min_distance`` given): local maxima of ``prob`` above ``threshold`` at least
      ``min_distance`` px apart (`skimage.feature.peak_local_max`), kept when their component of
      ``prob > threshold`` has at least ``min_area`` pixels; separates touching boutons.

    Args:
      prob: ``[H, W]`` probabilities.
      threshold: binarisation threshold.
      min_area: smallest component in pixels.
      min_distance: use the peaks method with this separation.

    Returns:
      centres ``[K, 2]`` float64 (row, col) and scores ``[K]``, sorted by descending score.
    """
    from scipy import ndimage

    prob = np.asarray(prob, np.float64)
    if prob.ndim != 2:
        raise ValueError(f"bouton_centres expects a 2-D map, got shape {prob.shape}")
    fg = prob > threshold
    labels, n = ndimage.label(fg, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros((0, 2)), np.zeros((0,))
    index = np.arange(1, n + 1)
    areas = ndimage.sum_labels(np.ones_like(prob), labels, index)
    big = areas >= min_area
    if min_distance is None:
        weights = np.where(fg, prob, 0.0)
        mass = ndimage.sum_labels(weights, labels, index)
        rows, cols = np.indices(prob.shape)
        r = ndimage.sum_labels(weights * rows, labels, index) / mass
        c = ndimage.sum_labels(weights * cols, labels, index) / mass
        scores = ndimage.maximum(prob, labels, index)
        centres = np.stack([r, c], axis=-1)[big]
        scores = np.asarray(scores)[big]
    else:
        from skimage.feature import peak_local_max

        peaks = peak_local_max(
            np.where(fg, prob, 0.0), min_distance=min_distance, threshold_abs=threshold, exclude_border=False
        )
        keep = big[labels[peaks[:, 0], peaks[:, 1]] - 1] if len(peaks) else np.zeros(0, bool)
        centres = peaks[keep].astype(np.float64)
        scores = prob[peaks[keep, 0], peaks[keep, 1]] if len(peaks) else np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    return centres[order].reshape(-1, 2), scores[order]


@dataclasses.dataclass(frozen=True)
class DetectionCounts:
    """Hits and misses of one image (or summed over images).

    Attributes:
      tp: centres matched to a box.
      fp: centres not matched (no box, or their boxes already taken).
      fn: boxes not matched.
      matches: ``[TP, 2]`` (centre index, box index) pairs, empty for sums.
    """

    tp: int
    fp: int
    fn: int
    matches: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 2), np.int64))

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def match_centres_to_boxes(
    centres: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray | None = None,
    margin: float = 0.0,
) -> DetectionCounts:
    """Greedy one-to-one matching of detected centres to labelled boxes.

    A centre ``(r, c)`` lies in pixel ``(floor(r + 0.5), floor(c + 0.5))``; it is inside box
    ``[row0, col0, row1, col1]`` (0-based, half-open) when ``row0 - margin <= r + 0.5 < row1 + margin``
    and the same for columns -- with ``margin = 0`` exactly when its pixel is in the box.

    Args:
      centres: ``[K, 2]`` (row, col).
      boxes: ``[M, 4]``.
      scores: optional ``[K]``; centres are matched in descending score (default: given order).
      margin: pixels added to every side of every box (tolerance for tight synthetic boxes).

    Returns:
      `DetectionCounts` with the (centre, box) matches.
    """
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.arange(len(centres)) if scores is None else np.argsort(-np.asarray(scores, np.float64), kind="stable")
    taken = np.zeros(len(boxes), bool)
    box_centre = np.stack([(boxes[:, 0] + boxes[:, 2] - 1) / 2, (boxes[:, 1] + boxes[:, 3] - 1) / 2], axis=-1)
    matches = []
    for k in order:
        r, c = centres[k] + 0.5
        inside = (
            (boxes[:, 0] - margin <= r)
            & (r < boxes[:, 2] + margin)
            & (boxes[:, 1] - margin <= c)
            & (c < boxes[:, 3] + margin)
        )
        cand = np.flatnonzero(inside & ~taken)
        if cand.size == 0:
            continue
        dist = np.sum((box_centre[cand] - centres[k]) ** 2, axis=-1)
        j = int(cand[np.argmin(dist)])  # argmin: first of equals = lowest index
        taken[j] = True
        matches.append((int(k), j))
    tp = len(matches)
    return DetectionCounts(
        tp=tp, fp=len(centres) - tp, fn=len(boxes) - tp, matches=np.asarray(matches, np.int64).reshape(-1, 2)
    )


def detection_scores(counts: DetectionCounts) -> dict[str, float]:
    """Precision, recall and F1 of (summed) counts; NaN where undefined (see module notes)."""
    tp, fp, fn = counts.tp, counts.fp, counts.fn
    return {
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


# --------------------------------------------------------------------------- boxes for synthetic data


def _clip_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    boxes = boxes.copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, h)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, w)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[keep]


def boxes_from_label(label: np.ndarray, pad: int = 0) -> np.ndarray:
    """Bounding boxes of the labelled regions of an integer label image.

    Args:
      label: ``[H, W]`` int, 0 = background, ``k > 0`` = bouton k (e.g. `Batch.bouton_label`).
      pad: pixels added on every side (clipped to the image); real boxes are loose.

    Returns:
      ``[K, 4]`` int64 boxes (row0, col0, row1, col1), in increasing label order; labels with no
      pixels are skipped.
    """
    from scipy import ndimage

    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"boxes_from_label expects a 2-D label image, got shape {label.shape}")
    if label.dtype.kind not in "iu" and label.dtype != bool:
        raise ValueError(f"boxes_from_label expects an integer label image, got dtype {label.dtype}")
    slices = ndimage.find_objects(label.astype(np.int64))
    boxes = [(s[0].start - pad, s[1].start - pad, s[0].stop + pad, s[1].stop + pad) for s in slices if s is not None]
    return _clip_boxes(np.asarray(boxes, np.int64).reshape(-1, 4), label.shape)


def boxes_from_mask(mask: np.ndarray, pad: int = 0) -> np.ndarray:
    """Boxes of the 8-connected components of a bool mask (touching boutons merge into one box)."""
    from scipy import ndimage

    labels, _ = ndimage.label(np.asarray(mask, bool), structure=np.ones((3, 3), bool))
    return boxes_from_label(labels, pad)


def boxes_from_centres(
    centres: np.ndarray,
    radii: np.ndarray,
    shape: tuple[int, int],
    valid: np.ndarray | None = None,
    pad: int = 0,
) -> np.ndarray:
    """Boxes ``[round(r) - R - pad, round(c) - R - pad, round(r) + R + pad + 1, ...]`` around bouton centres.

    Args:
      centres: ``[K, 2]`` (row, col), e.g. `Batch.bouton_centers[i]`.
      radii: ``[K]`` radii in pixels (`Batch.bouton_radius[i]`).
      shape: ``(H, W)`` for clipping; boxes entirely outside are dropped.
      valid: optional ``[K]`` bool (`Batch.bouton_valid[i]`).
      pad: extra pixels on every side.

    Returns:
      ``[K', 4]`` int64 boxes.
    """
    centres = np.rint(np.asarray(centres, np.float64)).astype(np.int64).reshape(-1, 2)
    radii = np.asarray(radii).astype(np.int64).reshape(-1)
    if valid is not None:
        keep = np.asarray(valid, bool).reshape(-1)
        centres, radii = centres[keep], radii[keep]
    half = radii + pad
    boxes = np.stack(
        [centres[:, 0] - half, centres[:, 1] - half, centres[:, 0] + half + 1, centres[:, 1] + half + 1], axis=-1
    )
    return _clip_boxes(boxes.reshape(-1, 4), shape)
