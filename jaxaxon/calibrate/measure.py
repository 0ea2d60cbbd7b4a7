"""Estimators of imaging and scene quantities from unlabelled 2-D images (pixels of those images).

Every estimator is pure NumPy/SciPy and works on a list of ``[H, W]`` float arrays; formulas are
in docs/calibration.md. `measure` runs them all and returns a flat dict of estimates.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
from scipy import ndimage

from jaxaxon.calibrate.structures import detect
from jaxaxon.data.images import ImageDataError

__all__ = [
    "CalibrationError", "MIN_SIDE", "check_images", "crops", "intensity", "photon_transfer", "line_correlation",
    "background", "structures", "measure",
]  # fmt: skip

MIN_SIDE = 32
_PATCH = 8
# 20th percentile of the 8x8-patch variance of `x - mean_3x3(x)` (times 9/8) for white noise of unit
# variance: 0.829 (+-0.003 over 20 simulated 512x512 images)
_P20_BIAS = 0.829
_AREA = 256 * 256


class CalibrationError(ImageDataError):
    """Images that cannot be calibrated from (none, too small, uniform); one-line message."""


def check_images(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Validates the calibration images and returns them as float64 ``[H, W]`` arrays.

    Raises:
      CalibrationError: no images, not 2-D, smaller than `MIN_SIDE`, non-finite, or all uniform.
    """
    if len(images) == 0:
        raise CalibrationError("no images to calibrate from")
    out = []
    for i, image in enumerate(images):
        x = np.asarray(image, np.float64)
        if x.ndim != 2:
            raise CalibrationError(f"image {i}: expected a 2-D image, got shape {x.shape}")
        if min(x.shape) < MIN_SIDE:
            raise CalibrationError(
                f"image {i}: {x.shape[0]}x{x.shape[1]} is too small to calibrate from "
                f"(need at least {MIN_SIDE}x{MIN_SIDE})"
            )
        if not np.all(np.isfinite(x)):
            raise CalibrationError(f"image {i}: holds non-finite values")
        if np.ptp(x) > 0:
            out.append(x)
    if not out:
        raise CalibrationError("every image is uniform (one grey value): nothing to calibrate from")
    return out


def crops(images: Sequence[np.ndarray], side: int = 256, limit: int = 64) -> list[np.ndarray]:
    """Non-overlapping ``side x side`` crops (an image smaller than ``side`` is kept whole), at most
    ``limit`` of them, taken evenly over the list."""
    out = []
    for x in images:
        h, w = x.shape
        if h < side or w < side:
            out.append(x)
            continue
        starts = [(r, c) for r in range(0, h - side + 1, side) for c in range(0, w - side + 1, side)]
        out += [x[r : r + side, c : c + side] for r, c in starts]
    if len(out) > limit:
        out = [out[i] for i in np.linspace(0, len(out) - 1, limit).round().astype(int)]
    return out


def intensity(images: Sequence[np.ndarray]) -> dict:
    """Median over images of the percentiles 0.5, 1, 50, 99, 99.5, 99.9 and the maximum; the
    fraction of pixels at the image maximum (saturation)."""
    q = np.array([np.percentile(x, [0.5, 1, 50, 99, 99.5, 99.9]) for x in images])
    med = np.median(q, axis=0)
    sat = np.median([np.mean(x >= x.max()) for x in images])
    return {
        "p0_5": med[0], "p1": med[1], "p50": med[2], "p99": med[3], "p99_5": med[4], "p99_9": med[5],
        "max": float(np.median([x.max() for x in images])), "saturated_fraction": float(sat),
    }  # fmt: skip


def _patch_noise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``x`` and ``9/8`` variances of its noise ``x - mean_3x3(x)`` over the
    non-overlapping 8x8 patches of ``x`` ``[H, W]``: two ``[P]`` arrays."""
    resid = x - ndimage.uniform_filter(x, 3, mode="reflect")
    h, w = (s // _PATCH * _PATCH for s in x.shape)
    blocks = lambda a: a[:h, :w].reshape(h // _PATCH, _PATCH, w // _PATCH, _PATCH)  # noqa: E731
    return blocks(x).mean(axis=(1, 3)).ravel(), blocks(resid).var(axis=(1, 3)).ravel() * 9 / 8


def photon_transfer(images: Sequence[np.ndarray]) -> dict:
    """Noise variance against mean on local patches: ``var = gain * mean + c``.

    The noise of each pixel is ``x - mean_3x3(x)`` (variance ``8/9`` of the white-noise variance);
    its variance and the mean of the image are taken over non-overlapping 8x8 patches. Structure
    adds variance, so in each of 24 quantile bins of the patch means the 20th percentile of the
    patch variances is kept (flat patches), divided by its value for pure white noise (0.829), and
    ``var = gain * mean + c`` is fitted to the bins by
    least squares weighted by the patch counts. ``var = gain (mean - offset) + read_noise^2`` does not
    separate offset and read noise: a negative ``c`` is read as an offset (``offset = -c / gain``, no
    read noise), a positive one as read noise (``read_noise = sqrt(c)``, offset 0).

    Returns:
      ``gain`` (image units per photon), ``offset``, ``read_noise`` and ``points`` (bin means, variances).
    """
    means, variances = [], []
    for x in images:
        m, v = _patch_noise(x)
        means.append(m)
        variances.append(v)
    m, v = np.concatenate(means), np.concatenate(variances)
    edges = np.unique(np.quantile(m, np.linspace(0, 1, 25)))
    bm, bv, bn = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (m >= lo) & (m <= hi)
        if sel.sum() >= 10:
            bm.append(np.median(m[sel]))
            bv.append(np.percentile(v[sel], 20) / _P20_BIAS)
            bn.append(sel.sum())
    bm, bv, bn = np.asarray(bm), np.asarray(bv), np.asarray(bn, np.float64)
    if bm.size >= 2 and np.ptp(bm) > 0:
        a = np.stack([bm, np.ones_like(bm)], -1) * np.sqrt(bn)[:, None]
        gain, c = np.linalg.lstsq(a, bv * np.sqrt(bn), rcond=None)[0]
    else:
        gain, c = 0.0, float(np.mean(bv)) if bv.size else 0.0
    gain = float(max(gain, 1e-3))
    return {
        "gain": gain,
        "offset": float(max(-c / gain, 0.0)),
        "read_noise": float(np.sqrt(max(c, 0.0))),
        "points": [bm.tolist(), bv.tolist()],
    }


def _noise_std(ptc: dict, level: float) -> float:
    return float(np.sqrt(max(ptc["gain"] * max(level - ptc["offset"], 0.0) + ptc["read_noise"] ** 2, 1e-6)))


_LINE_LAGS = np.arange(1, 5)  # lags (px) of the noise correlation along the rows
_LINE_LENGTHS = np.concatenate([[0.0], np.geomspace(0.25, 16.0, 31)])  # line-filter lengths of the table


def _noise_correlation(x: np.ndarray, axis: int) -> np.ndarray:
    """``[4]`` correlation along ``axis`` at `_LINE_LAGS` of the noise ``x - gauss_3(x)`` on the
    darker 60 % of the image (smoothed at 3 px): the flat background, where structure adds little."""
    smooth = ndimage.gaussian_filter(x, 3.0, mode="reflect")
    noise = x - smooth
    flat = smooth <= np.percentile(smooth, 60)
    power = np.mean(noise[flat] ** 2)
    out = []
    for lag in _LINE_LAGS:
        head = [slice(None)] * 2
        tail = [slice(None)] * 2
        head[axis], tail[axis] = slice(0, -lag), slice(lag, None)
        both = flat[tuple(head)] & flat[tuple(tail)]
        out.append(np.mean((noise[tuple(head)] * noise[tuple(tail)])[both]) / power if power > 0 else 0.0)
    return np.asarray(out)


def _flat_residual_variance(x: np.ndarray) -> float:
    """`photon_transfer`'s noise variance of a flat image: 20th percentile of its patch noise
    variances (`_patch_noise`) over its value for white noise (1 for white noise of unit variance)."""
    return float(np.percentile(_patch_noise(x)[1], 20) / _P20_BIAS)


@functools.lru_cache(maxsize=1)
def _line_table(side: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """White noise of unit variance filtered by the generator's line filter
    (`jaxaxon.synth.imaging.microscope.line_filter`) of each length in `_LINE_LENGTHS`.

    Returns:
      ``[L, 4]`` `_noise_correlation` along the rows, and ``[L]`` the noise variance that
      `photon_transfer` finds in it (`_flat_residual_variance`).
    """
    import jax.numpy as jnp

    from jaxaxon.synth.imaging.microscope import line_filter

    white = jnp.asarray(np.random.default_rng(0).standard_normal((side, side)), jnp.float32)
    rows, variances = [], []
    for length in _LINE_LENGTHS:
        filtered = np.asarray(line_filter(white, jnp.float32(length), int(np.ceil(5 * length))), np.float64)
        rows.append(_noise_correlation(filtered, axis=1))
        variances.append(_flat_residual_variance(filtered))
    return np.asarray(rows), np.asarray(variances)


def line_correlation(images: Sequence[np.ndarray]) -> dict:
    """Correlation length of the noise along the rows (the fast scan axis): the noise
    correlations at lags 1-4 px along the rows (`_noise_correlation`, medians over images) are
    matched, by least squares, to those of white noise through the generator's line filter
    (`_line_table`), interpolated between the table's lengths.

    Returns:
      ``line_correlation`` (px; 0: white along the rows), ``line_variance`` (the fraction of the
      detector noise variance that `photon_transfer` sees through that filter: its ``gain`` is this
      fraction of the detector's), and the measured correlations along the rows and the columns at
      lag 1 (``noise_rho_rows``, ``noise_rho_cols``).
    """
    rows = np.median([_noise_correlation(x, axis=1) for x in images], axis=0)
    cols = np.median([_noise_correlation(x, axis=0) for x in images], axis=0)
    table, variances = _line_table()
    fine = np.linspace(0, len(_LINE_LENGTHS) - 1, 20 * len(_LINE_LENGTHS))
    index = np.arange(len(_LINE_LENGTHS))
    lengths = np.interp(fine, index, _LINE_LENGTHS)
    curves = np.stack([np.interp(fine, index, table[:, j]) for j in range(table.shape[1])], axis=1)
    best = int(np.argmin(np.sum((curves - rows) ** 2, axis=1)))
    fraction = float(np.interp(fine[best], index, variances) / variances[0])
    return {
        "line_correlation": float(lengths[best]), "line_variance": fraction,
        "noise_rho_rows": float(rows[0]), "noise_rho_cols": float(cols[0]),
    }  # fmt: skip


_ACF_REACH = 48  # autocorrelation lags d = 1..48 px
_MATERN_SCALES = np.geomspace(0.5, 64.0, 29)
_MATERN_EXPONENTS = np.array([1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0])


def _radial(acf: np.ndarray) -> np.ndarray:
    """``[48]`` radial mean of a (periodic) autocorrelation at ``d = 1..48``, divided by its value at 1."""
    h, w = acf.shape
    rr = np.minimum(np.arange(h), h - np.arange(h))[:, None]
    cc = np.minimum(np.arange(w), w - np.arange(w))[None, :]
    d = np.rint(np.hypot(rr, cc)).astype(int)
    sel = d <= _ACF_REACH
    n = _ACF_REACH + 1
    rho = np.bincount(d[sel], acf[sel], minlength=n) / np.maximum(np.bincount(d[sel], minlength=n), 1)
    return rho[1:n] / max(rho[1], 1e-12)


@functools.lru_cache(maxsize=1)
def _matern_table(side: int = 256) -> np.ndarray:
    """``[exponents, scales, 48]`` radial autocorrelations (`_radial`) of the generator's Matern
    fields (`jaxaxon.synth.imaging.microscope.smooth_field`) on a ``side x side`` periodic grid."""
    f2 = np.fft.fftfreq(side)[:, None] ** 2 + np.fft.rfftfreq(side)[None, :] ** 2
    table = np.empty((len(_MATERN_EXPONENTS), len(_MATERN_SCALES), _ACF_REACH))
    for i, b in enumerate(_MATERN_EXPONENTS):
        for j, s in enumerate(_MATERN_SCALES):
            power = (1.0 + (2 * np.pi * s) ** 2 * f2) ** (-b / 2)
            power[0, 0] = 0.0
            table[i, j] = _radial(np.fft.irfft2(power, (side, side)))
    return table


def _fit_matern(rho: np.ndarray, ok: np.ndarray) -> tuple[float, float, float]:
    """``(scale, exponent, residual)``: the Matern field of `_matern_table` whose autocorrelation is
    closest to ``rho`` in ``log`` over the lags ``ok`` from 2 on, both divided by their value at
    lag 2 (mean squared difference)."""
    table = _matern_table()
    ok = ok.copy()
    ok[0] = False
    model = np.log(np.maximum(table / table[..., 1:2], 1e-6))[..., ok]
    err = np.mean((model - np.log(rho[ok] / rho[1])) ** 2, axis=-1)
    i, j = np.unravel_index(np.argmin(err), err.shape)
    return float(_MATERN_SCALES[j]), float(_MATERN_EXPONENTS[i]), float(err[i, j])


def background(images: Sequence[np.ndarray], masks: Sequence[np.ndarray], noise_var: float) -> dict:
    """Level, contrast, correlation length, texture and bias of the background (pixels outside ``masks``).

    Level: median of the background pixels. Contrast: ``sqrt(max(var_bg - noise_var, 0)) / level``.
    Correlation length ``s``: the generator's Gaussian field is white noise filtered by a Gaussian of
    sigma ``s``, whose autocorrelation is ``exp(-d^2 / (4 s^2))``; the masked autocorrelation
    (structures replaced by the background median) is averaged radially over ``d = 1..48`` and
    ``log rho(d) = a - d^2 / (4 s^2)`` is fitted where ``rho > 0.05 rho(1)`` (``d = 0`` holds the
    white noise and is left out). Texture: the same ``rho`` is compared with the autocorrelations of
    the generator's Matern fields (`_matern_table`, scales 0.5..64 px, exponents 1.5..6) in ``log``
    over the same lags; the closest gives ``background_matern_scale`` and ``background_exponent``,
    and ``background_fit_gaussian`` / ``background_fit_matern`` are the mean squared ``log`` errors of
    the two models (medians over images). Bias: std of the log of the background smoothed at sigma 32.
    """
    levels, contrasts, scales, biases = [], [], [], []
    matern, fit_gauss, fit_matern = [], [], []
    for x, mask in zip(images, masks):
        bg = ~mask
        if bg.sum() < 64:
            continue
        level = float(np.median(x[bg]))
        y = np.where(bg, x, level) - level
        levels.append(level)
        contrasts.append(np.sqrt(max(np.var(x[bg]) - noise_var, 0.0)) / max(level, 1e-6))
        rho = _radial(np.fft.irfft2(np.abs(np.fft.rfft2(y)) ** 2, y.shape))
        dd = np.arange(1, _ACF_REACH + 1)
        ok = rho > 0.05
        ok &= np.cumprod(ok).astype(bool)
        if ok.sum() >= 3:
            slope, intercept = np.polyfit(dd[ok] ** 2, np.log(rho[ok]), 1)
            scales.append(np.sqrt(-1 / (4 * slope)) if slope < 0 else 48.0)
            fit_gauss.append(float(np.mean((intercept + slope * dd[ok] ** 2 - np.log(rho[ok])) ** 2)))
            m_scale, m_exponent, m_err = _fit_matern(rho, ok)
            matern.append((m_scale, m_exponent))
            fit_matern.append(m_err)
        smooth = ndimage.gaussian_filter(np.where(bg, x, level), 32)
        biases.append(np.std(np.log(np.maximum(smooth, 1e-3 * max(level, 1e-3)))))
    med = lambda a, d: float(np.median(a)) if len(a) else d  # noqa: E731
    return {
        "background_level": med(levels, 0.0),
        "background_contrast": med(contrasts, 0.0),
        "background_scale": med(scales, 8.0),
        "background_matern_scale": med([m[0] for m in matern], 8.0),
        "background_exponent": med([m[1] for m in matern], 0.0),
        "background_fit_gaussian": med(fit_gauss, 0.0),
        "background_fit_matern": med(fit_matern, 0.0),
        "bias": med(biases, 0.0),
    }


def structures(images: Sequence[np.ndarray], max_scale: float = 16.0) -> dict:
    """Ridges and blobs (`jaxaxon.calibrate.structures.detect`) of every 256x256 crop of the images
    (`crops`; the realism measures use the same crops and thresholds).

    Returns per-pixel ``widths`` and ``amplitudes`` of centreline pixels, ``length`` (centreline
    pixels per crop), blob ``blob_scales``, ``blob_ratios``, ``blob_counts`` (per crop) and, per
    whole image, the structure ``masks`` (pixels within ``2 w + 1`` of a centreline).
    """
    widths, amps, lengths, bscales, bratios, bcounts = [], [], [], [], [], []
    for x in crops(images):
        r, b = detect(x, max_scale)
        widths.append(r.width)
        amps.append(r.amplitude)
        lengths.append(len(r.rows) * _AREA / x.size)
        bscales.append(b.scale)
        bratios.append(b.ratio)
        bcounts.append(len(b.rows) * _AREA / x.size)
    masks = []
    for x in images:
        r, _ = detect(x, max_scale)
        dist = ndimage.distance_transform_edt(~r.centre)
        reach = np.zeros(x.shape)
        reach[r.rows, r.cols] = 2 * r.width + 1
        grown = ndimage.grey_dilation(reach, size=(2 * int(np.ceil(2 * max_scale + 1)) + 1,) * 2)
        masks.append((dist <= grown) & (grown > 0))
    cat = lambda a: np.concatenate(a) if a else np.zeros(0)  # noqa: E731
    return {
        "widths": cat(widths), "amplitudes": cat(amps), "length": np.asarray(lengths),
        "blob_scales": cat(bscales), "blob_ratios": cat(bratios), "blob_counts": np.asarray(bcounts), "masks": masks,
    }  # fmt: skip


def _q(a: np.ndarray, p: float, default: float) -> float:
    return float(np.percentile(a, p)) if a.size else default


def measure(images: Sequence[np.ndarray], max_scale: float = 16.0) -> dict:
    """All estimates (flat dict of floats, pixels of the images); see docs/calibration.md."""
    xs = check_images(images)
    inten = intensity(xs)
    ptc = photon_transfer(xs)
    st = structures(xs, max_scale)
    bg = background(xs, st["masks"], _noise_std(ptc, inten["p50"]) ** 2)
    line = line_correlation(xs)
    w, a = st["widths"], st["amplitudes"]
    amp_med = _q(a, 50, 0.0)
    out = {
        **{k: float(v) for k, v in inten.items()},
        "gain": ptc["gain"], "offset": ptc["offset"], "read_noise": ptc["read_noise"],
        "photons_peak": max(inten["p99_5"] - ptc["offset"], 0.0) / ptc["gain"],
        "photons_background": max(inten["p50"] - ptc["offset"], 0.0) / ptc["gain"],
        **bg,
        **line,
        "width_p5": _q(w, 5, 1.0), "width_p10": _q(w, 10, 1.0), "width_p50": _q(w, 50, 1.0),
        "width_p90": _q(w, 90, 1.0), "width_p95": _q(w, 95, 1.0),
        "amplitude_p10": _q(a, 10, 0.0), "amplitude_p50": amp_med, "amplitude_p90": _q(a, 90, 0.0),
        "bright_fraction": float(np.mean(a > 2 * amp_med)) if a.size else 0.0,
        "dim_fraction": float(np.mean(a < 0.5 * amp_med)) if a.size else 0.0,
        "length_per_256": float(np.median(st["length"])),
        "blobs_per_256": float(np.median(st["blob_counts"])),
        "blob_scale_p50": _q(st["blob_scales"], 50, 0.0),
        "blob_scale_p10": _q(st["blob_scales"], 10, 0.0), "blob_scale_p90": _q(st["blob_scales"], 90, 0.0),
        "blob_ratio_p50": _q(st["blob_ratios"], 50, 0.0),
        "n_images": len(xs), "n_centreline_pixels": int(w.size), "n_blobs": int(st["blob_scales"].size),
    }  # fmt: skip
    strong = w[a >= np.percentile(a, 75)] if a.size else w
    out["psf_sigma"] = max(0.5, _q(strong, 10, 1.0))
    for p in (10, 50, 90):
        out[f"strong_width_p{p}"] = _q(strong, p, 1.0)
    return out
