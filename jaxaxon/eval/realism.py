"""Realism measures: how close generated images are to real two-photon images.

Three aggregate measures over sets of images (pure NumPy):

- intensity histogram after per-image normalisation (``x / percentile(x, 99.5)``, clipped
  to [0, 1.5], 60 bins), averaged over the set; the distance between two sets is the
  Wasserstein-1 distance between their mean histograms (in normalised intensity units);
- radial power spectrum (`jaxaxon.eval.image_stats.radial_psd_bins` of 256x256 images or
  crops); distance = RMS difference of the mean log10 power per bin;
- bouton contrast: ``(mean of the brightest 3x3 near a bouton centre - median of the ring
  6..10 px around it) / (percentile 99.5 - percentile 50 of the image)``; distance = the
  absolute difference of the set medians;
- object-scale statistics of 256x256 crops (`jaxaxon.calibrate.structures`: multi-scale Hessian
  ridges and scale-normalised LoG blobs on them, detected above ``0.15 (p99.5 - p50)`` of each
  crop): the ridge-width distribution (Gaussian-equivalent cross-section sigma of every
  centreline pixel, px) and the blob-scale distribution (LoG sigma, px), each compared by the
  Wasserstein-1 distance between the pooled samples (px); the tube density (centreline pixels
  per crop) and the blob density (blobs per crop), each compared by ``|log(a / b)|`` of the set
  medians (``(1 + a) / (1 + b)`` for blobs).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from jaxaxon.eval.image_stats import radial_psd_bins

__all__ = [
    "normalised_histogram", "bouton_contrasts", "object_measures", "set_measures", "distances", "crops_256",
    "DISTANCES",
]  # fmt: skip

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


DISTANCES = (
    "histogram_w1", "psd_rms", "ridge_width_w1", "blob_scale_w1", "tube_density_gap", "blob_density_gap",
)  # fmt: skip
"""The distances `distances` always returns (``bouton_contrast_gap`` too when both sets have boutons)."""


def object_measures(crop: np.ndarray, max_scale: float = 16.0) -> dict:
    """Ridge widths ``[N]``, blob scales ``[K]`` and their counts in one crop (see the module docstring)."""
    from jaxaxon.calibrate.structures import detect

    ridges, blobs = detect(crop, max_scale)
    return {
        "widths": ridges.width, "amplitudes": ridges.amplitude, "blob_scales": blobs.scale, "blob_ratios": blobs.ratio,
        "length": len(ridges.rows), "blobs": len(blobs.rows),
    }  # fmt: skip


def set_measures(
    images: Iterable[np.ndarray], centres: Sequence[np.ndarray] | None = None, objects: bool = True
) -> dict:
    """Aggregate measures of a set of images (optionally with bouton centres per image); ``objects``
    adds the ridge and blob statistics of every 256x256 crop."""
    hists, psds, contrasts = [], [], []
    widths, amps, scales, ratios, lengths, blobs = [], [], [], [], [], []
    for i, image in enumerate(images):
        image = np.asarray(image, np.float64)
        hists.append(normalised_histogram(image))
        psds += [radial_psd_bins(crop) for crop in crops_256(image)]
        if objects:
            for crop in crops_256(image):
                m = object_measures(crop)
                widths.append(m["widths"])
                amps.append(m["amplitudes"])
                scales.append(m["blob_scales"])
                ratios.append(m["blob_ratios"])
                lengths.append(m["length"])
                blobs.append(m["blobs"])
        if centres is not None and len(centres[i]):
            contrasts.append(bouton_contrasts(image, centres[i]))
    out = {
        "n_images": len(hists),
        "histogram": np.mean(hists, axis=0),
        "psd": np.mean(psds, axis=0),
    }
    if objects and lengths:
        out["ridge_widths"] = np.concatenate(widths)
        out["ridge_amplitudes"] = np.concatenate(amps)
        out["blob_scales"] = np.concatenate(scales)
        out["blob_ratios"] = np.concatenate(ratios)
        out["tube_density"] = float(np.median(lengths))
        out["blob_density"] = float(np.median(blobs))
    if contrasts:
        allc = np.concatenate(contrasts)
        out["bouton_contrast_median"] = float(np.median(allc)) if allc.size else float("nan")
        out["n_boutons"] = int(allc.size)
    return out


def _w1(u: np.ndarray, v: np.ndarray) -> float:
    """Wasserstein-1 distance between two samples; 0 when both are empty, the other's mean when one is."""
    if u.size and v.size:
        return float(stats.wasserstein_distance(u, v))
    return float(np.mean(u) if u.size else np.mean(v) if v.size else 0.0)


def distances(a: dict, b: dict) -> dict:
    """Distances between two `set_measures` results (smaller = closer)."""
    centres = (HIST_BINS[:-1] + HIST_BINS[1:]) / 2
    cdf_gap = np.abs(np.cumsum(a["histogram"]) - np.cumsum(b["histogram"]))
    out = {
        "histogram_w1": float(np.sum(cdf_gap) * (centres[1] - centres[0])),
        "psd_rms": float(np.sqrt(np.mean((a["psd"] - b["psd"]) ** 2))),
    }
    if "tube_density" in a and "tube_density" in b:
        out["ridge_width_w1"] = _w1(a["ridge_widths"], b["ridge_widths"])
        out["blob_scale_w1"] = _w1(a["blob_scales"], b["blob_scales"])
        out["tube_density_gap"] = abs(float(np.log(max(a["tube_density"], 1.0) / max(b["tube_density"], 1.0))))
        out["blob_density_gap"] = abs(float(np.log((1 + a["blob_density"]) / (1 + b["blob_density"]))))
    if "bouton_contrast_median" in a and "bouton_contrast_median" in b:
        out["bouton_contrast_gap"] = abs(a["bouton_contrast_median"] - b["bouton_contrast_median"])
    return out
