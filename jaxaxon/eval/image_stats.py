"""Image statistics of generated or real images (the statistics listed in docs/fidelity.md).

Used by the fidelity report (jaxaxon vs the original generator) and the realism report
(presets vs real images). Pure NumPy/SciPy, per image, then summarised over images.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
from scipy import ndimage

__all__ = ["PSD_EDGES", "image_statistics", "series_statistics", "radial_psd_bins", "summarise", "compare"]

PSD_EDGES = np.array([0, 1 / 128, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 0.71])
_EIGHT = np.ones((3, 3), bool)


def radial_psd_bins(image: np.ndarray, edges: np.ndarray = PSD_EDGES) -> np.ndarray:
    """log10 of the mean power of ``(image - mean) / std`` in radial-frequency bins.

    Args:
      image: ``[H, W]`` image.
      edges: bin edges in cycles/pixel (DC excluded).

    Returns:
      ``[len(edges) - 1]`` log10 mean power per bin (power = ``|FFT|^2 / (H W)``).
    """
    x = np.asarray(image, np.float64)
    std = x.std()
    x = (x - x.mean()) / (std if std > 0 else 1.0)
    power = np.abs(np.fft.fft2(x)) ** 2 / x.size
    fr = np.fft.fftfreq(x.shape[0])[:, None]
    fc = np.fft.fftfreq(x.shape[1])[None, :]
    radius = np.sqrt(fr**2 + fc**2)
    out = np.empty(len(edges) - 1)
    for b in range(len(edges) - 1):
        sel = (radius > edges[b]) & (radius <= edges[b + 1])
        sel[0, 0] = False
        out[b] = np.log10(power[sel].mean()) if sel.any() else np.nan
    return out


def image_statistics(image: np.ndarray, axon_mask: np.ndarray | None, bouton_mask: np.ndarray | None) -> dict:
    """Statistics of one image (the ``definitions`` of ``original_stats.json``).

    Args:
      image: ``[H, W]`` image on the 0..255 scale.
      axon_mask: ``[H, W]`` mask (``> 0`` counts) or None.
      bouton_mask: ``[H, W]`` mask or None.

    Returns:
      A dict of floats; mask-based statistics are omitted when masks are None.
    """
    img = np.asarray(image, np.float64)
    out = {
        "mean": img.mean(),
        "std": img.std(),
        "p01": np.percentile(img, 1),
        "p50": np.percentile(img, 50),
        "p99": np.percentile(img, 99),
    }
    for b, value in enumerate(radial_psd_bins(img)):
        out[f"psd_bin{b}"] = value
    if axon_mask is None or bouton_mask is None:
        return out
    axon = np.asarray(axon_mask) > 0
    bouton = np.asarray(bouton_mask) > 0
    out["frac_axon"] = axon.mean()
    out["frac_bouton"] = bouton.mean()
    labels, n_blobs = ndimage.label(bouton, structure=_EIGHT)
    out["n_bouton_blobs"] = float(n_blobs)
    out["bouton_blob_px"] = float(bouton.sum() / n_blobs) if n_blobs else 0.0
    out["n_axon_components"] = float(ndimage.label(axon, structure=_EIGHT)[1])
    in_axon = axon & ~bouton
    out["mean_in_axon"] = img[in_axon].mean() if in_axon.any() else np.nan
    out["mean_in_bouton"] = img[bouton].mean() if bouton.any() else np.nan
    near = ndimage.binary_dilation(axon | bouton, structure=_EIGHT, iterations=3)
    background = img[~near]
    out["mean_bg"] = background.mean() if background.size else np.nan
    out["std_bg"] = background.std() if background.size else np.nan
    out["contrast_axon"] = out["mean_in_axon"] - out["mean_bg"]
    out["contrast_bouton"] = out["mean_in_bouton"] - out["mean_bg"]
    return {k: float(v) for k, v in out.items()}


def series_statistics(frames: np.ndarray, axon_masks: np.ndarray, bouton_masks: np.ndarray) -> list[dict]:
    """Per-frame statistics of one series ``[T, H, W]``, each frame also with
    ``frame_absdiff`` (mean absolute difference to the previous frame; absent for frame 0)."""
    out = []
    for t in range(frames.shape[0]):
        stats = image_statistics(frames[t], axon_masks[t], bouton_masks[t])
        if t > 0:
            stats["frame_absdiff"] = float(np.abs(frames[t].astype(np.float64) - frames[t - 1]).mean())
        out.append(stats)
    return out


def summarise(per_image: Iterable[Mapping[str, float]]) -> dict:
    """``{stat: {mean, std, min, max, n}}`` over images (NaN values are left out)."""
    rows = list(per_image)
    keys = sorted({k for r in rows for k in r})
    out = {}
    for key in keys:
        values = np.array([r[key] for r in rows if key in r and np.isfinite(r[key])], np.float64)
        if values.size == 0:
            continue
        out[key] = dict(
            mean=float(values.mean()),
            std=float(values.std(ddof=1)) if values.size > 1 else 0.0,
            min=float(values.min()),
            max=float(values.max()),
            n=int(values.size),
        )
    return out


def compare(reference: Mapping[str, Mapping], ours: Mapping[str, Mapping]) -> dict:
    """Difference of means in units of the reference's standard deviation, per statistic.

    Returns:
      ``{stat: {ref_mean, ref_std, mean, std, z}}`` where ``z = (mean - ref_mean) / ref_std``
      (``z = 0`` when both means are equal and ``ref_std`` is 0, ``inf`` otherwise).
    """
    out = {}
    for key, ref in reference.items():
        if key not in ours:
            continue
        mine = ours[key]
        diff = mine["mean"] - ref["mean"]
        if ref["std"] > 0:
            z = diff / ref["std"]
        else:
            z = 0.0 if abs(diff) < 1e-9 else float("inf") * np.sign(diff)
        out[key] = dict(ref_mean=ref["mean"], ref_std=ref["std"], mean=mine["mean"], std=mine["std"], z=float(z))
    return out
