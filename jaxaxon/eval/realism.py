"""Realism measures: how close generated images are to real two-photon images.

Three aggregate measures over sets of images (pure NumPy):

- intensity histogram after per-image normalisation (``x / percentile(x, 99.5)``, clipped
  to [0, 1.5], 60 bins), averaged over the set; the distance between two sets is the
  Wasserstein-1 distance between their mean histograms (in normalised intensity units);
- radial power spectrum (`jaxaxon.eval.image_stats.radial_psd_bins` of 256x256 images or
  crops); distance = RMS difference of the mean log10 power per bin;
- bouton contrast: ``(mean of the brightest 3x3 near a bouton centre - median of the ring
  6..10 px around it) / (percentile 99.5 - percentile 50 of the image)``; distance = the
  absolute difference of the set medians.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from jaxaxon.eval.image_stats import radial_psd_bins

__all__ = ["normalised_histogram", "bouton_contrasts", "set_measures", "distances", "crops_256"]

HIST_BINS = np.linspace(0.0, 1.5, 61)
_RING = (6.0, 10.0)


def normalised_histogram(image: np.ndarray) -> np.ndarray:
    """``[60]`` density of ``image / percentile(image, 99.5)`` clipped to [0, 1.5]."""
    x = np.asarray(image, np.float64)
    top = np.percentile(x, 99.5)
    x = np.clip(x / (top if top > 0 else 1.0), 0.0, 1.5)
    hist, _ = np.histogram(x, HIST_BINS)
    return hist / max(hist.sum(), 1)


def bouton_contrasts(image: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Contrast of each bouton centre ``[K, 2]`` (row, col) against its surroundings."""
    x = np.asarray(image, np.float64)
    h, w = x.shape
    spread = np.percentile(x, 99.5) - np.percentile(x, 50)
    spread = spread if spread > 0 else 1.0
    rows, cols = np.mgrid[0:h, 0:w]
    out = []
    for r, c in np.asarray(centres, np.float64):
        r, c = int(round(r)), int(round(c))
        if not (0 <= r < h and 0 <= c < w):
            continue
        patch = x[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4]
        # brightest 3x3 mean inside the +-3 px patch around the centre
        if patch.shape[0] < 3 or patch.shape[1] < 3:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(patch, (3, 3)).mean(axis=(-1, -2))
        peak = windows.max()
        d = np.hypot(rows - r, cols - c)
        ring = x[(d >= _RING[0]) & (d <= _RING[1])]
        if ring.size:
            out.append((peak - np.median(ring)) / spread)
    return np.asarray(out)


def crops_256(image: np.ndarray) -> list[np.ndarray]:
    """Non-overlapping 256x256 crops (the whole image when it is 256x256)."""
    h, w = image.shape
    return [image[r : r + 256, c : c + 256] for r in range(0, h - 255, 256) for c in range(0, w - 255, 256)]


def set_measures(images: Iterable[np.ndarray], centres: Sequence[np.ndarray] | None = None) -> dict:
    """Aggregate measures of a set of images (optionally with bouton centres per image)."""
    hists, psds, contrasts = [], [], []
    for i, image in enumerate(images):
        image = np.asarray(image, np.float64)
        hists.append(normalised_histogram(image))
        psds += [radial_psd_bins(crop) for crop in crops_256(image)]
        if centres is not None and len(centres[i]):
            contrasts.append(bouton_contrasts(image, centres[i]))
    out = {
        "n_images": len(hists),
        "histogram": np.mean(hists, axis=0),
        "psd": np.mean(psds, axis=0),
    }
    if contrasts:
        allc = np.concatenate(contrasts)
        out["bouton_contrast_median"] = float(np.median(allc)) if allc.size else float("nan")
        out["n_boutons"] = int(allc.size)
    return out


def distances(a: dict, b: dict) -> dict:
    """Distances between two `set_measures` results (smaller = closer)."""
    centres = (HIST_BINS[:-1] + HIST_BINS[1:]) / 2
    cdf_gap = np.abs(np.cumsum(a["histogram"]) - np.cumsum(b["histogram"]))
    out = {
        "histogram_w1": float(np.sum(cdf_gap) * (centres[1] - centres[0])),
        "psd_rms": float(np.sqrt(np.mean((a["psd"] - b["psd"]) ** 2))),
    }
    if "bouton_contrast_median" in a and "bouton_contrast_median" in b:
        out["bouton_contrast_gap"] = abs(a["bouton_contrast_median"] - b["bouton_contrast_median"])
    return out
