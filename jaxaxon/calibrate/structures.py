"""Tubular structures and blobs of a 2-D image: multi-scale Hessian ridges and scale-normalised LoG blobs.

Shared by the calibration (`jaxaxon.calibrate.measure`) and the realism measures
(`jaxaxon.eval.realism`), so both sides of a comparison are measured the same way. Pure NumPy/SciPy.

Ridges. A bright line with a Gaussian cross-section of standard deviation ``w`` and height ``A``
seen at scale ``s`` has the second derivative ``-A w / (w^2 + s^2)^(3/2)`` across it, at its
centre. Its ``s^1.5``-normalised value peaks at ``s = w`` (``d/ds``: ``1.5 (w^2 + s^2) = 3 s^2``),
so the scale of the largest normalised ridge response, refined by a parabola in ``log s``, is
the line's width ``w`` (px), and ``A = 2^1.5 s^2 |lambda|`` at that scale.

Blobs. A Gaussian blob of standard deviation ``v`` gives the largest ``s^2``-normalised
Laplacian-of-Gaussian response at ``s = v`` (Lindeberg); a disc of radius ``R`` at about ``R / sqrt 2``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

__all__ = [
    "RIDGE_SCALES", "BLOB_SCALES", "Ridges", "Blobs", "find_ridges", "find_blobs", "ridge_scales", "noise_std",
    "detect",
]  # fmt: skip

RIDGE_SCALES = tuple(float(s) for s in np.geomspace(0.7, 16.0, 14))
BLOB_SCALES = tuple(float(s) for s in np.geomspace(1.0, 8.0, 10))
_GAMMA = 1.5


def ridge_scales(max_scale: float = 16.0) -> tuple[float, ...]:
    """The ridge scales up to ``max_scale`` px."""
    return tuple(s for s in RIDGE_SCALES if s <= max_scale * 1.0001)


@dataclasses.dataclass(frozen=True)
class Ridges:
    """Centreline pixels of bright tubular structures.

    Attributes:
      rows, cols: ``[N]`` int centreline pixels.
      width: ``[N]`` Gaussian-equivalent cross-section sigma (px).
      amplitude: ``[N]`` line height above its surroundings (image units).
      centre: ``[H, W]`` bool centreline map.
      strength: ``[H, W]`` best normalised ridge response.
      best_width: ``[H, W]`` the width estimate at every pixel.
    """

    rows: np.ndarray
    cols: np.ndarray
    width: np.ndarray
    amplitude: np.ndarray
    centre: np.ndarray
    strength: np.ndarray
    best_width: np.ndarray


@dataclasses.dataclass(frozen=True)
class Blobs:
    """Blobs found on ridges: ``rows``, ``cols``, ``scale`` (LoG sigma, px), ``peak`` (smoothed peak
    above the local background) and ``ratio`` (peak / amplitude of the ridge they sit on), each ``[K]``."""

    rows: np.ndarray
    cols: np.ndarray
    scale: np.ndarray
    peak: np.ndarray
    ratio: np.ndarray


def _hessian(x: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rr = ndimage.gaussian_filter(x, s, order=(2, 0), mode="reflect")
    cc = ndimage.gaussian_filter(x, s, order=(0, 2), mode="reflect")
    rc = ndimage.gaussian_filter(x, s, order=(1, 1), mode="reflect")
    return rr, cc, rc


def _refine(values: np.ndarray, index: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Parabolic refinement in ``log s`` of the maximum over the scale axis (axis 0)."""
    logs = np.log(scales)
    k = np.clip(index, 1, len(scales) - 2)
    take = lambda j: np.take_along_axis(values, j[None], 0)[0]  # noqa: E731
    y0, y1, y2 = take(k - 1), take(k), take(k + 1)
    denom = y0 - 2 * y1 + y2
    shift = np.where(denom < 0, 0.5 * (y0 - y2) / np.where(denom < 0, denom, -1.0), 0.0)
    shift = np.clip(shift, -0.5, 0.5)
    h = logs[1] - logs[0]
    inner = (index >= 1) & (index <= len(scales) - 2)
    return np.exp(np.where(inner, logs[k] + shift * h, logs[index]))


def find_ridges(
    image: np.ndarray, threshold: float, noise: float = 0.0, scales: tuple[float, ...] = RIDGE_SCALES
) -> Ridges:
    """Bright ridges of ``image`` ``[H, W]`` whose estimated amplitude exceeds ``threshold``.

    At each scale ``s`` only responses whose amplitude exceeds ``threshold`` and 4 standard
    deviations of the amplitude of white noise of std ``noise`` (``0.69 noise / s``: the
    second derivative of white noise smoothed at ``s`` has the variance ``3 noise^2 / (16 pi s^6)``)
    compete for the best scale.

    A pixel is a centreline pixel when its best normalised response ``s^1.5 max(-lambda_2, 0)``
    is a maximum across the ridge (along the eigenvector of ``lambda_2``, +-1 px), the ridge is
    elongated (``|lambda_1| < 0.5 |lambda_2|``) and its amplitude ``2^1.5 s^2 |lambda_2|`` exceeds
    ``threshold``. Pixels within ``2 s`` of the border are ignored.
    """
    x = np.asarray(image, np.float64)
    sc = np.asarray(scales)
    resp = np.empty((len(sc),) + x.shape)
    amp = np.empty_like(resp)
    elong = np.empty(resp.shape, bool)
    nr = np.empty_like(resp)
    nc = np.empty_like(resp)
    for i, s in enumerate(sc):
        rr, cc, rc = _hessian(x, s)
        half_tr, det_part = (rr + cc) / 2, np.sqrt(((rr - cc) / 2) ** 2 + rc**2)
        l2, l1 = half_tr - det_part, half_tr + det_part  # l2 <= l1
        neg = np.maximum(-l2, 0.0)
        neg = np.where(2**1.5 * s**2 * neg > max(threshold, 4 * 0.69 * noise / s), neg, 0.0)
        resp[i] = s**_GAMMA * neg
        amp[i] = 2**1.5 * s**2 * neg
        elong[i] = np.abs(l1) < 0.5 * np.abs(l2)
        # eigenvector of l2: (rc, l2 - rr) or (l2 - cc, rc)
        vr, vc = np.where(np.abs(rc) > 1e-12, rc, np.where(rr < cc, 1.0, 0.0)), np.where(
            np.abs(rc) > 1e-12, l2 - rr, np.where(rr < cc, 0.0, 1.0)
        )
        norm = np.hypot(vr, vc)
        nr[i], nc[i] = vr / np.maximum(norm, 1e-12), vc / np.maximum(norm, 1e-12)
    best = np.argmax(resp, axis=0)
    pick = lambda a: np.take_along_axis(a, best[None], 0)[0]  # noqa: E731
    strength, amplitude, elongated = pick(resp), pick(amp), pick(elong)
    width = _refine(resp, best, sc)
    dr, dc = np.rint(pick(nr)).astype(int), np.rint(pick(nc)).astype(int)
    h, w = x.shape
    rows, cols = np.mgrid[0:h, 0:w]
    fwd = strength[np.clip(rows + dr, 0, h - 1), np.clip(cols + dc, 0, w - 1)]
    bwd = strength[np.clip(rows - dr, 0, h - 1), np.clip(cols - dc, 0, w - 1)]
    margin = np.ceil(2 * width)
    inside = (rows >= margin) & (rows < h - margin) & (cols >= margin) & (cols < w - margin)
    centre = (strength >= fwd) & (strength >= bwd) & elongated & (amplitude > 0) & inside
    r, c = np.nonzero(centre)
    return Ridges(r, c, width[r, c], amplitude[r, c], centre, strength, width)


def find_blobs(
    image: np.ndarray, ridges: Ridges, threshold: float, scales: tuple[float, ...] = BLOB_SCALES,
    min_ratio: float = 1.3,
) -> Blobs:  # fmt: skip
    """Blobs on ridges: maxima of ``-s^2 LoG`` over space (3x3) and scale that lie within
    ``max(2, s)`` px of a centreline pixel, are brighter than ``threshold`` above their
    surroundings and ``min_ratio`` times brighter than the ridge amplitude at that point
    (a plain line is not a bouton). The peak is the image smoothed at ``s / 2`` at the
    maximum minus the median of a ring ``2.5 s .. 4 s`` around it; the ridge amplitude is the
    median over the centreline pixels in that ring.
    """
    x = np.asarray(image, np.float64)
    sc = np.asarray(scales)
    stack = np.stack([-(s**2) * ndimage.gaussian_laplace(x, s, mode="reflect") for s in sc])
    peaks = (stack == ndimage.maximum_filter(stack, size=(3, 3, 3), mode="nearest")) & (stack > 0)
    peaks[0] = peaks[-1] = False
    k, r, c = np.nonzero(peaks)
    if r.size == 0:
        e = np.zeros(0)
        return Blobs(e.astype(int), e.astype(int), e, e, e)
    near, idx = ndimage.distance_transform_edt(~ridges.centre, return_indices=True)
    s = sc[k]
    ok = near[r, c] <= np.maximum(3.0, 2 * s)
    r, c, s, k = r[ok], c[ok], s[ok], k[ok]
    h, w = x.shape
    keep, peak_v, ratio_v = [], [], []
    ridge_amp = np.zeros(x.shape)
    ridge_amp[ridges.rows, ridges.cols] = ridges.amplitude
    smooth = {j: ndimage.gaussian_filter(x, max(sc[j] / 2, 0.5)) for j in np.unique(k)}
    for i in range(r.size):
        ri, ci, si = r[i], c[i], s[i]
        lo, hi = 2.5 * si, 4.0 * si
        m = int(np.ceil(hi))
        r0, r1, c0, c1 = max(ri - m, 0), min(ri + m + 1, h), max(ci - m, 0), min(ci + m + 1, w)
        rr, cc = np.mgrid[r0:r1, c0:c1]
        d = np.hypot(rr - ri, cc - ci)
        ring = x[r0:r1, c0:c1][(d >= lo) & (d <= hi)]
        if ring.size < 8:
            continue
        peak = smooth[k[i]][ri, ci] - np.median(ring)
        along = ridge_amp[r0:r1, c0:c1][(d >= lo) & (d <= hi) & ridges.centre[r0:r1, c0:c1]]
        a = np.median(along) if along.size else ridge_amp[idx[0][ri, ci], idx[1][ri, ci]]
        if peak > threshold and peak > min_ratio * a:
            keep.append(i)
            peak_v.append(peak)
            ratio_v.append(peak / max(a, 1e-9))
    keep = np.asarray(keep, int)
    return Blobs(r[keep], c[keep], s[keep], np.asarray(peak_v), np.asarray(ratio_v))


def noise_std(image: np.ndarray) -> float:
    """Robust white-noise std of the bright structures: MAD of ``x - mean_3x3(x)`` over the brightest
    10 % of pixels, times ``1.4826 sqrt(9/8)`` (the residual keeps ``8/9`` of a white-noise variance)."""
    x = np.asarray(image, np.float64)
    resid = x - ndimage.uniform_filter(x, 3, mode="reflect")
    top = resid[x >= np.percentile(x, 90)]
    return float(1.4826 * np.median(np.abs(top - np.median(top))) * np.sqrt(9 / 8))


def detect(image: np.ndarray, max_scale: float = 16.0) -> tuple[Ridges, Blobs]:
    """Ridges and blobs of one image with the image's own thresholds: amplitude above
    ``0.15 (p99.5 - p50)`` and the white-noise rule of `find_ridges` with `noise_std`."""
    x = np.asarray(image, np.float64)
    threshold = max(0.15 * (np.percentile(x, 99.5) - np.percentile(x, 50)), 1e-6)
    ridges = find_ridges(x, threshold, noise_std(x), ridge_scales(max_scale))
    return ridges, find_blobs(x, ridges, threshold)
