"""From estimates (`jaxaxon.calibrate.measure.measure`) to generator parameters, and their correction
from the same estimates measured on images generated with them.

Starts from the ``realistic`` preset (``noise_model='microscope'``); every value written is derived
from an estimate (formulas in docs/calibration.md) or kept from the preset.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jaxaxon.config import MAX_LINE_CORRELATION, GeneratorConfig
from jaxaxon.eval.image_stats import PSD_EDGES
from jaxaxon.eval.realism import HIST_BINS

__all__ = [
    "AXON_LENGTH", "CONTRAST_STEP", "DEPTHS", "MAX_THICKNESS", "MIN_LINE_CORRELATION", "PSF_BINS", "PSF_MODES",
    "PROFILES", "TEXTURES", "depth", "geometry", "initial_params", "correct_params", "psf_step", "texture", "to_config",
]  # fmt: skip

MAX_THICKNESS = 24.0  # raster window cost grows with its square; below 256 / 4
AXON_LENGTH = 200.0  # centreline pixels found per generated axon in a 256x256 image (measured, realistic preset)
MIN_LINE_CORRELATION = 0.3
"""Line-correlation estimates below this (px; lag-1 correlation along the rows about 0.05) leave
the noise white along the rows."""
PSF_MODES = ("estimate", "spectrum")
"""PSF widths of `jaxaxon.calibrate.calibrate`: the estimate, or the estimate corrected from the
spectrum by `correct_params` (`psf_step`) when ``p['_psf_mode']`` is ``'spectrum'``."""
PSF_BINS = (3, 4)
"""Radial PSD bins (`jaxaxon.eval.image_stats.PSD_EDGES`: periods 16-32 and 8-16 px) whose
difference drives the PSF correction (`psf_step`)."""
CONTRAST_STEP = 0.5
"""Exponent of the background-contrast correction (`correct_params`): the square root of the
real / generated ratio of the wide ridges' excess width, a damped step."""


def _rng(centre: float, rel: float, lo: float = 0.0, hi: float = math.inf, digits: int = 3) -> list[float]:
    a, b = centre * (1 - rel), centre * (1 + rel)
    return [round(float(np.clip(a, lo, hi)), digits), round(float(np.clip(b, lo, hi)), digits)]


PROFILES = ("gaussian", "bar")
"""Cross-section families tried by `jaxaxon.calibrate.calibrate` (`geometry`)."""


DEPTHS = ("off", "mean")
"""Scene models tried by `jaxaxon.calibrate.calibrate` with ``depth='auto'`` (`depth`)."""


def depth(p: dict, mode: str) -> None:
    """Sets the scene model in ``p``: ``'off'``, a 2-D scene (`initial_params`' default), or
    ``'mean'``, the mean projection of a z-stack of ``stack_depth`` (two axial sigmas) in a slab of
    ``stack_depth + 10 axial_sigma`` holding ``MaxAxons .. 3 MaxAxons`` extra defocused axons
    (dimmer and wider than the in-focus ones, unlabelled: ``depth_labels='in_focus'``)."""
    p["depth_mode"] = mode
    if mode == "mean":
        n = int(p["MaxAxons"])
        p["defocused_axons"] = [n, min(3 * n, 1024)]
        p["slab_depth"] = round(p["stack_depth"] + 10 * p["axial_sigma"], 3)
    p["_depth"] = mode


TEXTURES = ("gaussian", "matern")
"""Background texture models tried by `jaxaxon.calibrate.calibrate` with ``background='auto'`` (`texture`)."""


def texture(p: dict, est: dict, model: str) -> None:
    """Sets the neuropil texture in ``p``: ``'gaussian'``, a Gaussian field of the estimated
    correlation length (``background_exponent`` 0), or ``'matern'``, the Matern field fitted to the
    background's autocorrelation (``background_matern_scale``, ``background_exponent`` +-15 %)."""
    if model == "matern":
        p["background_exponent"] = _rng(est["background_exponent"], 0.15, 0.0, 8.0)
        scale = est["background_matern_scale"]
    else:
        p["background_exponent"] = [0.0, 0.0]
        scale = est["background_scale"]
    p["background_scale"] = _rng(min(max(scale, 1.0), 64.0), 0.3, 0.5, 10**4, 2)
    p["_texture"] = model


def geometry(p: dict, est: dict, width_scale: float = 1.0, profile: str = "gaussian") -> None:
    """Sets thickness, cross-section and mask threshold in ``p`` from the ridge widths of ``est``
    (times ``width_scale``; PSF removed in quadrature: ``u = sqrt(w^2 - psf^2)``, with the PSF sigma
    corrected by `correct_params` when it has run, else the estimate).

    The generator draws a Gaussian cross-section of sigma ``sigma_spread`` cut at the branch's
    thickness ``t``. ``'gaussian'``: ``sigma_spread = u50``, thickness ``u10 .. max(2 u50, u90)``
    (lines of about one width; thinner branches are cut to bars). ``'bar'``: ``sigma_spread = u95``,
    thickness ``sqrt 3 u10 ..
    sqrt 3 u95`` (a bar of half-width ``t`` has sigma ``t / sqrt 3``): flat tubes of widely varying
    width, e.g. blood vessels. Thickness is capped at `MAX_THICKNESS`.
    """
    psf = p.get("_psf", est["psf_sigma"])
    u = {q: math.sqrt(max((est[f"width_p{q}"] * width_scale) ** 2 - psf**2, 0.25)) for q in (10, 50, 90, 95)}
    if profile == "gaussian":
        spread, lo, hi = u[50], u[10], max(2 * u[50], u[90])
    else:
        spread, lo, hi = u[95], math.sqrt(3) * u[10], math.sqrt(3) * u[95]
    p["sigma_spread"] = round(min(max(spread, 0.5), MAX_THICKNESS / 2), 3)
    p["MinThickness"] = round(min(max(lo, 0.5), MAX_THICKNESS / 2), 3)
    p["MaxThickness"] = round(min(max(hi, p["MinThickness"] + 0.5, 1.0), MAX_THICKNESS), 3)
    seg = 2 * p["sigma_spread"] if profile == "gaussian" else (p["MinThickness"] + p["MaxThickness"]) / 2
    p["SegmentationThreshold"] = round(min(max(seg, 1.0), p["MaxThickness"] + 1), 3)
    p["_width_scale"] = width_scale
    p["_profile"] = profile


def initial_params(est: dict, pixel_size: float | None = None, profile: str = "gaussian") -> dict[str, Any]:
    """A parameter dict (GeneratorConfig keys, ``realistic`` preset underneath; private ``_`` entries
    for `correct_params`) from the estimates."""
    p: dict[str, Any] = {"preset": "realistic", "noise_model": "microscope", "_est": dict(est)}
    geometry(p, est, 1.0, profile)
    p["psf_sigma"] = _rng(est["psf_sigma"], 0.15, 0.3, 20)
    p["background"] = _rng(max(est["background_level"], 0.0) / max(est["p99_5"], 1e-6), 0.3, 0.0, 10)
    p["background_contrast"] = _rng(_measured_contrast(est), 0.3, 0.0, 10)
    texture(p, est, "gaussian")
    p["bias"] = _rng(min(est["bias"], 2.0), 0.3, 0.0, 5)
    # noise along the scan lines: the detector's noise variance is 1 / line_variance times the one measured
    line = est["line_correlation"] >= MIN_LINE_CORRELATION
    seen = est["line_variance"] if line else 1.0
    p["line_correlation"] = _rng(est["line_correlation"], 0.15, 0.0, MAX_LINE_CORRELATION) if line else [0.0, 0.0]
    p["photons"] = _rng(min(max(est["photons_peak"] * seen, 1.0), 1e5), 0.3, 0.5, 10**6, 2)
    p["gain"] = _rng(max(est["gain"] / seen, 1e-3), 0.1, 1e-3, 10**6, 4)
    p["offset"] = _rng(est["offset"], 0.0, -(10**6), 10**6)
    p["read_noise"] = _rng(est["read_noise"] / math.sqrt(seen), 0.2, 0.0, 10**6)
    p["dark_counts"] = [0.0, 0.0]
    # axons: intensity spread from the ridge amplitudes
    ratio = est["amplitude_p10"] / max(est["amplitude_p90"], 1e-9)
    p["MaxAxonIntensity"] = 40.0
    p["MinAxonIntensity"] = round(float(np.clip(40.0 * ratio, 2.0, 36.0)), 2)
    axons = est["length_per_256"] / AXON_LENGTH
    _counts(p, axons, est["blobs_per_256"])
    # boutons: LoG sigma of a disc of radius R is about R / sqrt(2); radii from the median blob
    # (the smallest bouton drawn) to the 90th percentile
    _bouton_radius(p, est, est["psf_sigma"])
    p["bouton_size"] = [0.0, 0.0]
    p["bouton_brightness"] = _rng(min(max(est["blob_ratio_p50"], 0.2), 5.0) * 0.6, 0.25, 0.01, 100)
    p["MinBrightnessBouton"], p["MaxBrightnessBouton"] = 30, 40
    # axon peak (sigma_spread-normalised Gaussian profile) = bouton peak / blob ratio
    bouton_peak = 0.35 * float(np.mean(p["bouton_brightness"]))
    axon_peak = bouton_peak / min(max(est["blob_ratio_p50"], 1.0), 5.0)
    mean_intensity = (p["MinAxonIntensity"] + p["MaxAxonIntensity"]) / 200
    factor = axon_peak * math.sqrt(2 * math.pi) * p["sigma_spread"] / mean_intensity
    p["axon_brightness"] = _rng(min(max(factor, 0.05), 60.0), 0.2, 0.01, 100)
    # depth keys: a 2-D scene (depth_mode 'off'); the others describe a stack if depth is switched on
    p["depth_mode"] = "off"
    p["defocused_axons"] = [0, max(1, round(p["MaxAxons"] * est["dim_fraction"] + est["bright_fraction"]))]
    p["axial_sigma"] = round(3.0 * est["psf_sigma"], 3)
    p["slab_depth"] = round(max(10 * est["psf_sigma"], 8 * p["sigma_spread"]), 3)
    p["stack_depth"] = round(2 * p["axial_sigma"], 3)
    p["depth_labels"] = "in_focus"
    p["_depth"] = "off"
    p["pixel_size"] = float(pixel_size) if pixel_size else 0.0
    return p


def _measured_contrast(est: dict) -> float:
    """The background contrast of the estimates, capped at 5 (the centre of the drawn range)."""
    return min(est["background_contrast"], 5.0)


def _disc_radius(est: dict, q: int, psf: float) -> float:
    """Radius in px of a disc whose LoG scale, PSF (sigma ``psf``) removed, is the ``q``-th blob
    scale percentile."""
    blob = math.sqrt(max(est[f"blob_scale_p{q}"] ** 2 - psf**2, 0.25))
    return round(min(max(math.sqrt(2) * blob, 1.0), 32.0), 3)


def _bouton_radius(p: dict, est: dict, psf: float) -> None:
    """``bouton_radius`` in ``p``: from the median blob (the smallest bouton drawn) to the 90th
    percentile, at least 1 px apart."""
    lo = _disc_radius(est, 50, psf)
    p["bouton_radius"] = [lo, round(max(_disc_radius(est, 90, psf), lo + 1.0), 3)]


def psf_step(real_psd: np.ndarray, gen_psd: np.ndarray) -> float:
    """Squared Gaussian blur sigma (px^2; negative: less blur) that moves the generated spectrum's
    fall from the 16-32 px to the 8-16 px period bins (`PSF_BINS`) to the real one: a Gaussian of
    sigma ``s`` multiplies the power at frequency ``f`` by ``exp(-4 pi^2 f^2 s^2)``, ``f`` the
    bins' geometric centres."""
    a, b = PSF_BINS
    excess = (gen_psd[b] - gen_psd[a]) - (real_psd[b] - real_psd[a])
    fa, fb = (math.sqrt(PSD_EDGES[i] * PSD_EDGES[i + 1]) for i in PSF_BINS)
    return float(excess * math.log(10) / (4 * math.pi**2 * (fb**2 - fa**2)))


def _counts(p: dict, axons: float, blobs: float) -> None:
    n = max(axons, 1.0)
    p["MinAxons"] = max(1, int(math.floor(0.75 * n)))
    p["MaxAxons"] = max(p["MinAxons"], int(math.ceil(1.25 * n)))
    p["MaxAxons"] = min(p["MaxAxons"], 64)
    p["MinAxons"] = min(p["MinAxons"], p["MaxAxons"])
    p["_axons"] = axons
    p["_blobs"] = blobs
    p["MinNbBouton"] = max(0, int(math.floor(0.7 * blobs)))
    p["MaxNbBouton"] = max(p["MinNbBouton"], int(math.ceil(1.3 * blobs)))
    p["MaxNbCircles"] = p["MaxNbCircles"] if "MaxNbCircles" in p else 4


def _ratio(real: float, gen: float, lo: float = 0.25, hi: float = 4.0) -> float:
    if not (gen > 0 and real > 0):
        return 1.0
    return float(np.clip(real / gen, lo, hi))


def _hist_median(m: dict) -> float:
    cdf = np.concatenate([[0.0], np.cumsum(m["histogram"])])
    return float(np.interp(0.5, cdf, HIST_BINS))


def _scale(values: list[float], factor: float, digits: int = 4) -> list[float]:
    return [round(v * factor, digits) for v in values]


def _wide_excess(m: dict, wide: float) -> float:
    """Excess width beyond ``wide`` px summed over the centreline pixels of a crop,
    ``tube_density * mean(max(w - wide, 0))`` (a `set_measures` result): the wide tail's share of
    the ridge-width W1."""
    w = m["ridge_widths"]
    return m["tube_density"] * float(np.mean(np.maximum(w - wide, 0.0))) if w.size else 0.0


def _correct_psf(q: dict, real: dict, gen: dict) -> None:
    """The PSF in ``q`` (``psf_sigma``, ``_psf``, and the bouton radii it is removed from) moved by
    `psf_step`: at most x2 or x1/2, never above the median real ridge width (which holds the PSF)."""
    psf = q.get("_psf", q["_est"]["psf_sigma"])
    corrected = math.sqrt(float(np.clip(psf**2 + psf_step(real["psd"], gen["psd"]), (psf / 2) ** 2, (2 * psf) ** 2)))
    corrected = min(max(corrected, 0.3), q["_est"]["width_p50"], 20.0)
    q["psf_sigma"] = _scale(q["psf_sigma"], corrected / psf, 3)
    q["_psf"] = corrected
    _bouton_radius(q, q["_est"], corrected)


def correct_params(p: dict, real: dict, gen: dict) -> dict:
    """Corrects ``p`` from the realism measures (`jaxaxon.eval.realism.set_measures`) of the real
    crops and of images generated from ``p``: each quantity is rescaled by the ratio real / generated
    of the measure it drives, and the PSF moved by `psf_step` when ``p['_psf_mode']`` is
    ``'spectrum'`` (formulas in docs/calibration.md)."""
    q = dict(p)
    if p.get("_psf_mode") == "spectrum":
        _correct_psf(q, real, gen)
    width = _ratio(np.median(real["ridge_widths"]), np.median(gen["ridge_widths"]), 0.5, 2.0)
    geometry(q, q["_est"], p["_width_scale"] * width, p["_profile"])
    axons = p["_axons"] * _ratio(real["tube_density"], gen["tube_density"])
    # every drawn bouton adds about one blob; noise, cells and crossings add the others
    blobs = max(p["_blobs"] + real["blob_density"] - gen["blob_density"], 0.0)
    _counts(q, axons, blobs)
    q["background"] = _scale(p["background"], _ratio(_hist_median(real), _hist_median(gen)))
    top = float(np.mean(gen["psd"][-2:]) - np.mean(real["psd"][-2:]))
    q["photons"] = _scale(p["photons"], float(np.clip(10**top, 0.1, 10.0)), 2)
    # ridges wider than most real ones: background blotches found as ridges, set by the texture's contrast
    # (within a factor of 2 of the contrast measured on the real background)
    wide = float(np.percentile(real["ridge_widths"], 90)) if real["ridge_widths"].size else math.inf
    step = _ratio(_wide_excess(real, wide), _wide_excess(gen, wide)) ** CONTRAST_STEP
    now, measured = float(np.mean(p["background_contrast"])), _measured_contrast(p["_est"])
    if now > 0 and measured > 0:
        step = float(np.clip(now * step, measured / 2, measured * 2)) / now
    q["background_contrast"] = _scale(p["background_contrast"], step)
    ratio = lambda m: float(np.median(m["blob_ratios"])) if m["blob_ratios"].size else 0.0  # noqa: E731
    q["axon_brightness"] = _scale(p["axon_brightness"], _ratio(ratio(gen), ratio(real), 0.5, 2.0))
    return q


def to_config(p: dict) -> GeneratorConfig:
    """The `GeneratorConfig` of a parameter dict (private ``_`` entries dropped)."""
    return GeneratorConfig.from_dict({k: v for k, v in p.items() if not k.startswith("_")})
