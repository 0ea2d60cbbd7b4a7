"""Classical baselines a bio-imaging user would otherwise reach for.

- Axons: the Frangi vesselness filter (`skimage.filters.frangi`, bright ridges), mapped to
  [0, 1] per image on a log scale (4 decades below the image's maximum response, see
  `frangi_map`), which then goes through the same threshold sweep as a network's probabilities.
- Boutons: the Laplacian-of-Gaussian blob detector (`skimage.feature.blob_log`) on the image
  scaled to [0, 1] per image (1st to 99.9th percentile), with (min_sigma, max_sigma, threshold)
  chosen by a small grid search maximising bouton F1 on labelled development images.

Scales: the generator's axons have thickness 1.5..3 px and a Gaussian cross-profile with
``sigma_spread = 1`` (mask: distance < 2.7 px, i.e. 5-6 px wide), hence `AXON_SIGMAS` 1..3.
Blood vessels in the vesselnn volumes (``docs/real_images.md``) are far thicker (distance-transform
radius on the mask skeleton: median 2-28 px per slice, up to ~50), hence `VESSEL_SIGMAS` 2..16.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from jaxaxon.eval.metrics import DetectionCounts, detection_scores, match_centres_to_boxes

__all__ = [
    "AXON_SIGMAS",
    "DEFAULT_LOG_GRID",
    "DEFAULT_LOG_PARAMS",
    "VESSEL_SIGMAS",
    "LogParams",
    "detect_boutons_log",
    "fit_log_detector",
    "frangi_map",
    "log_grid_counts",
    "unit_range",
]

AXON_SIGMAS = (1.0, 1.5, 2.0, 2.5, 3.0)
"""Frangi scales for the generator's axons (thickness 1.5..3 px, sigma_spread 1)."""

VESSEL_SIGMAS = (2.0, 4.0, 8.0, 16.0)
"""Frangi scales for the much thicker vessels of the vesselnn volumes."""


def unit_range(image: np.ndarray, low: float = 1.0, high: float = 99.9) -> np.ndarray:
    """Scales an image to [0, 1] between two percentiles (clipped); a constant image gives zeros.

    Args:
      image: ``[H, W]`` any real dtype.
      low, high: percentiles mapped to 0 and 1.

    Returns:
      ``[H, W]`` float64.
    """
    x = np.asarray(image, np.float64)
    lo, hi = np.percentile(x, [low, high])
    if hi <= lo:
        return np.zeros_like(x)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def frangi_map(image: np.ndarray, sigmas: Sequence[float] = AXON_SIGMAS, decades: float = 4.0) -> np.ndarray:
    """Frangi vesselness (bright ridges) as a [0, 1] map on a logarithmic scale.

    The response spans several decades (on the vesselnn two-photon data the best cut lies near 0.1-0.2 % of
    the maximum), so a map divided by its maximum would put every useful threshold below the
    sweep's first one (0.005). The map is therefore ``1 + log10(v / max(v)) / decades``, clipped
    to [0, 1]: monotone in ``v`` (same ranking, same ROC), and the 200 linear thresholds sample
    ``v / max`` evenly on a log scale from ``10**-decades`` to 1.

    Args:
      image: ``[H, W]`` image, any dtype (scaled with `unit_range` first).
      sigmas: Gaussian scales in pixels.
      decades: dynamic range mapped onto [0, 1].

    Returns:
      ``[H, W]`` float32 in [0, 1] (all zeros where the filter finds nothing).
    """
    from skimage.filters import frangi

    v = frangi(unit_range(image), sigmas=list(sigmas), black_ridges=False)
    v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    top = v.max()
    if top <= 0:
        return np.zeros(v.shape, np.float32)
    with np.errstate(divide="ignore"):
        p = 1.0 + np.log10(v / top) / decades
    return np.clip(p, 0.0, 1.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class LogParams:
    """Parameters of `detect_boutons_log` (`skimage.feature.blob_log` on the [0, 1]-scaled image).

    Attributes:
      min_sigma, max_sigma: range of LoG scales (a blob of radius R peaks near sigma = R / sqrt(2)).
      threshold: lower bound of the scale-normalised LoG response.
      num_sigma: scales tried between min and max.
      overlap: blobs overlapping more than this fraction are pruned (smaller one removed).
    """

    min_sigma: float = 2.0
    max_sigma: float = 5.0
    threshold: float = 0.1
    num_sigma: int = 4
    overlap: float = 0.5

    def to_dict(self) -> dict[str, float]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


DEFAULT_LOG_GRID: tuple[LogParams, ...] = tuple(
    LogParams(min_sigma=lo, max_sigma=hi, threshold=t)
    for lo, hi in ((1.5, 3.0), (2.0, 5.0), (3.0, 7.0), (4.0, 10.0))
    for t in (0.05, 0.08, 0.1, 0.12, 0.14, 0.17, 0.2, 0.24, 0.3)
)
"""The grid `fit_log_detector` searches by default (36 settings: 4 scale ranges x 9 thresholds)."""

DEFAULT_LOG_PARAMS = LogParams(min_sigma=3.0, max_sigma=7.0, threshold=0.2)
"""Fit on all 11 bass2017 development images by ``scripts/run_baselines.py`` (scores in
``docs/real_images.md``). Tied to that data's pixel size and brightness: refit with
`fit_log_detector` on labelled images of your own."""


def detect_boutons_log(image: np.ndarray, params: LogParams = DEFAULT_LOG_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """LoG blob centres of one image.

    Args:
      image: ``[H, W]`` image, any dtype.
      params: detector parameters.

    Returns:
      centres ``[K, 2]`` float64 (row, col) and their sigmas ``[K]``.
    """
    from skimage.feature import blob_log

    blobs = blob_log(
        unit_range(image),
        min_sigma=params.min_sigma,
        max_sigma=params.max_sigma,
        num_sigma=params.num_sigma,
        threshold=params.threshold,
        overlap=params.overlap,
        exclude_border=False,
    )
    blobs = np.asarray(blobs, np.float64).reshape(-1, 3)
    return blobs[:, :2], blobs[:, 2]


def log_grid_counts(
    images: Sequence[np.ndarray], boxes: Sequence[np.ndarray], grid: Sequence[LogParams] = DEFAULT_LOG_GRID
) -> np.ndarray:
    """TP/FP/FN of every grid setting on every image (computed once, reused by cross-validation).

    Returns:
      ``[N, P, 3]`` int64 counts for N images and P settings.
    """
    out = np.zeros((len(images), len(grid), 3), np.int64)
    for i, (im, b) in enumerate(zip(images, boxes)):
        for p, params in enumerate(grid):
            centres, _ = detect_boutons_log(im, params)
            c = match_centres_to_boxes(centres, b)
            out[i, p] = (c.tp, c.fp, c.fn)
    return out


def best_setting(counts: np.ndarray) -> int:
    """Index of the setting with the highest pooled F1 over the images of ``counts [N, P, 3]`` (first on ties)."""
    tp, fp, fn = counts.sum(axis=0).T
    denom = 2 * tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 1.0)
    return int(np.argmax(f1))


def fit_log_detector(samples: Sequence, grid: Sequence[LogParams] = DEFAULT_LOG_GRID) -> tuple[LogParams, dict]:
    """Picks LoG parameters maximising pooled bouton F1 over labelled samples.

    Args:
      samples: objects with ``image [H, W]`` and ``boxes [K, 4]`` (e.g. `jaxaxon.data.images.Sample`);
        those without boxes are ignored.
      grid: candidate settings.

    Returns:
      The best `LogParams` and a report ``{"params", "f1", "precision", "recall", "grid": [...]}``
      (scores on the fitting samples themselves, i.e. in-sample).
    """
    labelled = [s for s in samples if s.boxes is not None]
    if not labelled:
        raise ValueError("fit_log_detector needs samples with bouton boxes")
    counts = log_grid_counts([s.image for s in labelled], [s.boxes for s in labelled], grid)
    best = best_setting(counts)
    table = []
    for p, params in enumerate(grid):
        tp, fp, fn = (int(v) for v in counts[:, p].sum(axis=0))
        table.append({**params.to_dict(), **detection_scores(DetectionCounts(tp, fp, fn))})
    return grid[best], {
        "params": grid[best].to_dict(),
        **{k: table[best][k] for k in ("f1", "precision", "recall")},
        "grid": table,
    }
