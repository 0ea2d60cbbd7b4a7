"""`calibrate`: generator parameters from unlabelled real images."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from jaxaxon.calibrate.fit import (
    DEPTHS, PROFILES, PSF_MODES, TEXTURES, correct_params, depth, initial_params, texture, to_config,
)
from jaxaxon.calibrate.measure import CalibrationError, check_images, measure
from jaxaxon.calibrate.report import generated_images, real_crops
from jaxaxon.config import GeneratorConfig
from jaxaxon.eval.realism import distances, set_measures

__all__ = ["Calibration", "calibrate", "MAX_IMAGES"]

MAX_IMAGES = 16  # images measured (evenly spread over the input): the estimates are medians


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A calibration result.

    Attributes:
      estimates: the estimates of the real images (pixels of those images; docs/calibration.md).
      params: generator parameters (GeneratorConfig keys, every key written out).
      generated_estimates: summary of the realism measures of the images generated for the last
        correction step (empty when it was skipped).
      reference: `jaxaxon.eval.realism.set_measures` of the real 256x256 crops (empty without correction).
    """

    estimates: Mapping[str, Any]
    params: Mapping[str, Any]
    generated_estimates: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    reference: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def config(self) -> GeneratorConfig:
        """The parameters as a validated `GeneratorConfig`."""
        return GeneratorConfig.from_dict(self.params)


def calibrate(
    images: Sequence[np.ndarray], *, pixel_size: float | None = None, correct: bool = True, n_generated: int = 32,
    seed: int = 0, corrections: int = 2, profile: str = "gaussian", depth_mode: str = "off",
    background: str = "gaussian", psf: str = "estimate",
) -> Calibration:  # fmt: skip
    """Estimates generator parameters from unlabelled real images ``[H, W]`` (any size >= 32).

    1. `jaxaxon.calibrate.measure.measure` on up to `MAX_IMAGES` images (evenly spread);
    2. `jaxaxon.calibrate.fit.initial_params` maps the estimates to parameters (``realistic``
       preset underneath, ``noise_model='microscope'``);
    3. with ``correct``: with ``profile='auto'`` each cross-section family of
       `jaxaxon.calibrate.fit.PROFILES` is tried (``n_generated`` images each) and the one whose
       images are closer to the real crops in ridge-width W1 + PSD RMS is kept; with
       ``depth_mode='auto'`` each scene model of `jaxaxon.calibrate.fit.DEPTHS` likewise; with
       ``background='auto'`` each texture of `jaxaxon.calibrate.fit.TEXTURES`, scored by ridge-width
       W1 + PSD RMS + the two density gaps (a texture can add ridges and blobs); then images
       generated from the parameters and the real 256x256 crops
       are compared with the realism measures (`jaxaxon.eval.realism.set_measures`) and widths,
       densities, background, photons and brightness are rescaled by real / generated
       (`jaxaxon.calibrate.fit.correct_params`), ``corrections`` times; with ``psf='spectrum'``
       the PSF width too (`jaxaxon.calibrate.fit.psf_step`).

    Args:
      images: the calibration images.
      pixel_size: micrometres per pixel of the images (written as ``pixel_size``), None if unknown.
      correct: run the correction step (one generator compilation).
      n_generated: images generated for the correction.
      seed: seed of the generated images.
      corrections: correction steps (one generator compilation each).
      profile: the cross-section family (`jaxaxon.calibrate.fit.PROFILES`) or ``'auto'``.
      depth_mode: the scene model (`jaxaxon.calibrate.fit.DEPTHS`: ``'off'`` a 2-D scene, ``'mean'``
        a mean projection with defocused axons; `jaxaxon.calibrate.fit.depth`) or ``'auto'``.
      background: the neuropil texture (`jaxaxon.calibrate.fit.TEXTURES`: ``'gaussian'`` or
        ``'matern'``; `jaxaxon.calibrate.fit.texture`) or ``'auto'``.
      psf: ``'estimate'``, the PSF width measured on the narrowest strong ridges, or ``'spectrum'``,
        that width then corrected from the spectrum by every correction step (`PSF_MODES`).

    Raises:
      CalibrationError: no images, too small, non-finite or uniform images.
    """
    if profile not in (*PROFILES, "auto"):
        raise CalibrationError(f"profile: expected one of {', '.join(PROFILES)}, auto; got {profile!r}")
    if depth_mode not in (*DEPTHS, "auto"):
        raise CalibrationError(f"depth_mode: expected one of {', '.join(DEPTHS)}, auto; got {depth_mode!r}")
    if background not in (*TEXTURES, "auto"):
        raise CalibrationError(f"background: expected one of {', '.join(TEXTURES)}, auto; got {background!r}")
    if psf not in PSF_MODES:
        raise CalibrationError(f"psf: expected one of {', '.join(PSF_MODES)}; got {psf!r}")
    xs = check_images(images)
    if len(xs) > MAX_IMAGES:
        xs = [xs[i] for i in np.linspace(0, len(xs) - 1, MAX_IMAGES).round().astype(int)]
    est = measure(xs)
    gen_est: dict = {}
    correct = correct and corrections > 0
    reference = set_measures(real_crops(xs)) if correct else {}
    p = initial_params(est, pixel_size, "gaussian" if profile == "auto" else profile)
    p["_psf_mode"] = psf
    texture(p, est, "gaussian" if background == "auto" else background)
    gen_m = None

    def closest(variants: dict, keys: tuple[str, ...], known: str | None) -> tuple[str, dict, dict, dict]:
        """The variant ``{name: params}`` whose generated images are closest to the real crops by the
        sum of the distances ``keys`` (the variant ``known`` reuses ``gen_m``); its name, params,
        measures, and every variant's score."""
        tried = {}
        for name, q in variants.items():
            m = gen_m if name == known and gen_m is not None else set_measures(
                generated_images(to_config(q), n_generated, seed)
            )
            d = distances(m, reference)
            tried[name] = (sum(d[k] for k in keys), q, m)
        best = min(tried, key=lambda n: tried[n][0])
        return best, tried[best][1], tried[best][2], {n: t[0] for n, t in tried.items()}

    shape_keys = ("ridge_width_w1", "psd_rms")
    if correct and profile == "auto":
        variants = {}
        for name in PROFILES:
            variants[name] = initial_params(est, pixel_size, name)
            texture(variants[name], est, p["_texture"])
        profile, p, gen_m, scores = closest(variants, shape_keys, None)
        est = {**est, **{f"score_{n}": v for n, v in scores.items()}}
    if correct and depth_mode == "auto":
        variants = {mode: dict(p) for mode in DEPTHS}
        for mode, q in variants.items():
            depth(q, mode)
        _, p, gen_m, scores = closest(variants, shape_keys, "off")
        est = {**est, **{f"score_depth_{n}": v for n, v in scores.items()}}
    elif depth_mode == "mean":
        depth(p, "mean")
        gen_m = None
    if correct and background == "auto":
        variants = {model: dict(p) for model in TEXTURES}
        for model, q in variants.items():
            texture(q, est, model)
        # a texture can add ridges and blobs: the density gaps count too
        _, p, gen_m, scores = closest(variants, (*shape_keys, "tube_density_gap", "blob_density_gap"), "gaussian")
        est = {**est, **{f"score_background_{n}": v for n, v in scores.items()}}
    est = {**est, "profile": p["_profile"], "depth_mode": p["_depth"], "background_model": p["_texture"]}
    if correct:
        for step in range(corrections):
            if step or gen_m is None:
                gen_m = set_measures(generated_images(to_config(p), n_generated, seed))
            gen_est = _summary(gen_m)
            p = correct_params(p, reference, gen_m)
    cfg = to_config(p)
    params = cfg.to_dict(include_defaults_of_options=True)
    return Calibration(estimates=est, params=params, generated_estimates=gen_est, reference=reference)


def _summary(m: dict) -> dict:
    """Scalars of a `set_measures` result (for the estimates file)."""
    q = lambda a, p: float(np.percentile(a, p)) if a.size else 0.0  # noqa: E731
    return {
        "width_p10": q(m["ridge_widths"], 10), "width_p50": q(m["ridge_widths"], 50),
        "width_p90": q(m["ridge_widths"], 90), "tube_density": m["tube_density"], "blob_density": m["blob_density"],
        "blob_scale_p50": q(m["blob_scales"], 50), "blob_ratio_p50": q(m["blob_ratios"], 50),
        "psd": m["psd"].tolist(),
    }  # fmt: skip
