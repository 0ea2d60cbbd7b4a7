"""Generator parameters: the original's JSON keys, validation and derived static sizes.

`GeneratorConfig` is a frozen (hashable) dataclass, so it can be a static argument of
`jax.jit`: every distinct config is one compilation, equal configs share one.

Field names are the original parameter-file keys (``MinAxons``, ``sigma_noise_min``, ...)
so that existing parameter files keep working unchanged. jaxaxon's own options (the
compatibility mode and the bounded-rejection sizes) are extra, optional keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from jaxaxon.atomic import atomic_path
from jaxaxon.echo import brief
from jaxaxon.jsonfile import read_json
from jaxaxon.validation import NON_NEGATIVE, POSITIVE, Bound, check_keys, param, unknown_choice, validate

__all__ = [
    "ConfigError", "GeneratorConfig", "PROFILES", "COMPAT_MODES", "NOISE_MODELS", "DEPTH_MODES", "DEPTH_LABELS", "PRESETS",
    "PRESET_PIXEL_SIZE", "LENGTH_FIELDS",
]  # fmt: skip

PROFILES = ("constant", "linear", "cosine")
COMPAT_MODES = ("fixed", "original")
NOISE_MODELS = ("original", "microscope")
DEPTH_MODES = ("off", "section", "max", "mean")
DEPTH_LABELS = ("in_focus", "all")

# Hard limits on derived static sizes: beyond them a parameter set "cannot fit".
MAX_IMAGE_SIDE = 8192
MAX_WALK_STEPS = 32768
MAX_SPLINE_POINTS = 100_000
MAX_BRANCH_SLOTS = 1024
MAX_OBJECTS = 4096

MAX_FRAMES = 1024
MAX_GREY = 2**24

# Every number has a finite range (tests/test_config.py checks it): the generator computes in
# float32, where a huge value overflows to inf and a tiny positive one becomes 0.
MIN_LENGTH = 0.01  # the resolution of drawn thicknesses; shorter positive lengths round to nothing
MAX_LENGTH = MAX_IMAGE_SIDE  # no length in pixels needs to exceed the largest image side
MAX_LINE_CORRELATION = 32.0  # px; the line filter's static kernel spans 5 of them each side
MIN_FACTOR = 0.001  # smallest positive scale factor, ratio, gain or photon count (0.1 % of its default)
MAX_NOISE_GREY = 1000  # white-noise sigma: four times the 0..255 signal it is added to
MAX_LAMBDA = 1000  # Poisson background rate: 25 * lambda grey levels against a 255 signal

_SIDE = (POSITIVE, Bound(16, MAX_IMAGE_SIDE))
_LENGTH = (POSITIVE, Bound(MIN_LENGTH, MAX_LENGTH))  # a positive length in pixels
_NN_LENGTH = (NON_NEGATIVE, Bound(0, MAX_LENGTH))  # a length in pixels that may be 0
_COUNT_OF_BRANCHES = (POSITIVE, Bound(1, MAX_BRANCH_SLOTS))
_COUNT_OF_OBJECTS = Bound(0, MAX_OBJECTS)
_MAX_PERIODS = MAX_SPLINE_POINTS / 2  # more cosine periods than half the points of a branch alias


class ConfigError(ValueError):
    """An invalid generator parameter; the message names the offending key."""


def _option(default: Any, doc: str, **checks: Any) -> Any:
    """One of jaxaxon's own options (an optional key, left out of original-style files)."""
    return param(default, doc, jaxaxon=True, **checks)


def _range(
    default: tuple[float, float], doc: str, lo: float, hi: float, *, open_lo: bool = False, length: bool = False
) -> Any:
    """A ``(min, max)`` range drawn per image; the JSON value is a number or ``[min, max]``."""
    return _option(default, doc, bounds=Bound(lo, hi, low_open=open_lo), length=length)


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Parameters of the surrogate-image generator (defaults: the shipped 256x256 file).

    Percent-valued intensities (``Min/MaxAxonIntensity``, ``Min/MaxBrightnessBouton``,
    ``Min/MaxBrightnessCircles``) are percentages (0..100), as in the original files.
    See ``docs/parameters.md`` for what each key does.
    """

    # --- image -------------------------------------------------------------------------
    width: int = param(256, "image width in pixels (columns)", bounds=_SIDE, unit="pixels")
    height: int = param(256, "image height in pixels (rows)", bounds=_SIDE, unit="pixels")
    negative_image: bool = param(False, "invert the final image (maxIntensity - image)")
    maxIntensity: int = param(
        255, "maximum grey value of the output images (float32 holds integers exactly up to 2**24)",
        bounds=(POSITIVE, Bound(1, MAX_GREY)),
    )
    # --- time series ---------------------------------------------------------------------
    NbImages: int = param(6, "frames per time series", bounds=(POSITIVE, Bound(1, MAX_FRAMES)))
    rowshift: int = param(20, "maximum random row offset of a series frame's crop", bounds=_LENGTH, length=True)
    colshift: int = param(20, "maximum random column offset of a series frame's crop", bounds=_LENGTH, length=True)
    maxRotAngle: int = param(
        4, "maximum rotation of a series frame, integer degrees", bounds=Bound(0, 45, high_open=True), unit="degrees"
    )
    probBoutonInFirstImage: float = param(0.3, "probability that a bouton shows in frame 1", bounds=Bound(0, 1))
    # --- acquisition noise ---------------------------------------------------------------
    sigma_noise_min: float = param(
        10.0, "white-noise sigma, lower bound", bounds=(NON_NEGATIVE, Bound(0, MAX_NOISE_GREY)), unit="grey levels"
    )
    sigma_noise_max: float = param(
        10.0, "white-noise sigma, upper bound", bounds=(NON_NEGATIVE, Bound(0, MAX_NOISE_GREY)),
        unit="grey levels", not_below="sigma_noise_min",
    )
    lambdaMin: int = param(
        14, "Poisson background rate, lower bound (integer)", bounds=(NON_NEGATIVE, Bound(0, MAX_LAMBDA))
    )
    lambdaMax: int = param(
        14, "Poisson background rate, upper bound (integer)", bounds=(NON_NEGATIVE, Bound(0, MAX_LAMBDA)),
        not_below="lambdaMin",
    )
    # --- axons ---------------------------------------------------------------------------
    MinAxons: int = param(2, "axons per image, lower bound", bounds=_COUNT_OF_BRANCHES)
    MaxAxons: int = param(2, "axons per image, upper bound", bounds=_COUNT_OF_BRANCHES, not_below="MinAxons")
    MinBran: int = param(2, "branches per axon (mother included), lower bound", bounds=_COUNT_OF_BRANCHES)
    MaxBran: int = param(
        2, "branches per axon (mother included), upper bound", bounds=_COUNT_OF_BRANCHES, not_below="MinBran"
    )
    conformity: float = param(
        0.99,
        "random-walk conformity: cosine of the largest turn per step",
        bounds=Bound(0, 1, low_open=True, high_open=True),
    )
    MinThickness: float = param(1.5, "branch thickness, lower bound (pixels)", bounds=_LENGTH, length=True)
    MaxThickness: float = param(
        3.0, "branch thickness, upper bound (pixels)", bounds=_LENGTH, not_below="MinThickness", length=True
    )
    MinGapSize: int = param(
        0, "gap half-length in centreline points, lower bound", bounds=(NON_NEGATIVE, Bound(0, MAX_SPLINE_POINTS))
    )
    MaxGapSize: int = param(
        4, "gap half-length in centreline points, upper bound (0: no gaps)",
        bounds=(NON_NEGATIVE, Bound(0, MAX_SPLINE_POINTS)), not_below="MinGapSize",
    )
    StepSize: float = param(2.0, "random-walk step length (pixels)", bounds=_LENGTH, length=True)
    NSplinePoints: int = param(200, "centreline points per branch", bounds=Bound(2, MAX_SPLINE_POINTS))
    crossingOK: bool = param(False, "1 allows crossing branches, 0 forbids them")
    straightBranching: float = param(
        10.0,
        "a daughter may touch other branches only within this many thicknesses of its start",
        bounds=(NON_NEGATIVE, Bound(0, MAX_LENGTH / MIN_LENGTH)),
    )
    SegmentationThreshold: float = param(
        2.7, "axon mask: distance to the centreline below this", bounds=_LENGTH, length=True
    )
    sigma_spread: float = param(
        1.0, "sigma of the Gaussian cross-section of an axon (pixels)", bounds=_LENGTH, length=True
    )
    MinAxonIntensity: float = param(10.0, "axon intensity, lower bound (percent)", percent=True)
    # the original draws intensities strictly inside the range: U(Min + 1 %, Max - 1 %)
    MaxAxonIntensity: float = param(
        40.0, "axon intensity, upper bound (percent)", percent=True, not_below="MinAxonIntensity", margin=2
    )
    MinPeriod: float = param(
        0.1, "periods of the cosine profile per branch, lower bound", bounds=(NON_NEGATIVE, Bound(0, _MAX_PERIODS))
    )
    MaxPeriod: float = param(
        2.0, "periods of the cosine profile per branch, upper bound", bounds=(NON_NEGATIVE, Bound(0, _MAX_PERIODS)),
        not_below="MinPeriod",
    )
    AxonProfile: str = param("cosine", "intensity profile of mother branches", choices=PROFILES)
    BranchProfile: str = param("cosine", "intensity profile of daughter branches", choices=PROFILES)
    sigma_noise_axon: float = param(
        0.055, "pixel noise added to the axon intensity map (a fraction of full intensity)",
        bounds=(NON_NEGATIVE, Bound(0, 100)),
    )
    # --- boutons -------------------------------------------------------------------------
    MinNbBouton: int = param(7, "boutons per image, lower bound", bounds=(NON_NEGATIVE, _COUNT_OF_OBJECTS))
    MaxNbBouton: int = param(
        7, "boutons per image, upper bound", bounds=_COUNT_OF_OBJECTS, not_below="MinNbBouton"
    )
    MinBrightnessBouton: int = param(30, "bouton brightness, lower bound (percent)", percent=True)
    # drawn strictly inside the range: U{Min + 1 .. Max - 1}
    MaxBrightnessBouton: int = param(
        40, "bouton brightness, upper bound (percent)", percent=True, not_below="MinBrightnessBouton", margin=2
    )
    sigma_noise_bouton: float = param(
        1.0, "noise added to the distance map of a bouton (pixels)", bounds=_NN_LENGTH, length=True
    )
    minDistBetweenBoutons: float = param(
        8.0, "minimum distance between bouton centres (pixels)", bounds=_NN_LENGTH, length=True)
    # --- cells ---------------------------------------------------------------------------
    MinNbCircles: int = param(13, "cells per image, lower bound", bounds=(NON_NEGATIVE, _COUNT_OF_OBJECTS))
    MaxNbCircles: int = param(
        13, "cells per image, upper bound", bounds=_COUNT_OF_OBJECTS, not_below="MinNbCircles"
    )
    MinRadius: int = param(3, "cell radius, lower bound (pixels)", bounds=_LENGTH, length=True)
    MaxRadius: int = param(20, "cell radius, upper bound (pixels)", bounds=_LENGTH, not_below="MinRadius", length=True)
    CircleBrightness: int = param(
        1, "kept from the original files; not used by the generator", bounds=(NON_NEGATIVE, Bound(0, MAX_GREY))
    )
    MinBrightnessCircles: int = param(10, "cell brightness, lower bound (percent)", percent=True)
    MaxBrightnessCircles: int = param(
        30, "cell brightness, upper bound (percent)", percent=True, not_below="MinBrightnessCircles"
    )
    sigma_noise_circle: float = param(
        1.3, "noise added to the distance map of a cell (pixels)", bounds=_NN_LENGTH, length=True
    )
    # --- jaxaxon options (optional keys) ---------------------------------------------------
    compat: str = _option(
        "fixed",
        "'fixed' corrects the original's bugs; 'original' reproduces B1 and B3-B7 (docs/parameters.md)",
        choices=COMPAT_MODES,
    )
    branch_candidates: int = _option(
        32,
        "candidate walks drawn per branch; the first acceptable one is kept",
        bounds=(POSITIVE, Bound(1, MAX_OBJECTS)),
    )
    scene_attempts: int = _option(
        0,
        "whole-scene redraws when a branch has no acceptable candidate (0: 4 in 'fixed', 64 in 'original')",
        bounds=(NON_NEGATIVE, Bound(0, MAX_OBJECTS)),
    )

    # --- imaging model and domain randomisation (optional keys; ranges drawn per image) ---
    noise_model: str = _option(
        "original",
        "'original': the original's acquisition noise; 'microscope': PSF, background, "
        "bias field, shot noise and detector (jaxaxon.synth.imaging.microscope)",
        choices=NOISE_MODELS,
    )
    psf_sigma: tuple[float, float] = _range(
        (1.0, 1.0), "PSF Gaussian sigma along its first axis (px)", 0, 20, length=True
    )
    psf_aspect: tuple[float, float] = _range((1.0, 1.0), "PSF width ratio, second axis / first", MIN_FACTOR, 10)
    psf_angle: tuple[float, float] = _range((0.0, 0.0), "PSF rotation (degrees)", -360, 360)
    psf_kernel: str = _option("", "optional .npy file with a user PSF kernel (odd sides), replacing the Gaussian")
    photons: tuple[float, float] = _range(
        (20.0, 20.0), "expected photons at the brightest signal pixel", MIN_FACTOR, 10**6
    )
    background: tuple[float, float] = _range(
        (0.05, 0.05), "neuropil background level (fraction of the peak signal)", 0, 10
    )
    background_contrast: tuple[float, float] = _range((0.5, 0.5), "relative std of the neuropil background", 0, 10)
    background_scale: tuple[float, float] = _range(
        (8.0, 8.0), "correlation length of the neuropil (px)", MIN_LENGTH, 10**4, length=True
    )
    background_exponent: tuple[float, float] = _range(
        (0.0, 0.0),
        "neuropil texture: 0 a Gaussian field of correlation length background_scale; > 0 a Matern field "
        "whose power spectrum falls as f^-exponent beyond 1 / (2 pi background_scale)",
        0,
        8,
    )
    bias: tuple[float, float] = _range((0.0, 0.0), "std of the log multiplicative bias field", 0, 5)
    bias_scale: tuple[float, float] = _range(
        (64.0, 64.0), "correlation length of the bias field (px)", MIN_LENGTH, 10**4, length=True
    )
    dark_counts: tuple[float, float] = _range((0.0, 0.0), "mean dark counts per pixel", 0, 10**4)
    gain: tuple[float, float] = _range((1.0, 1.0), "detector gain per photon", MIN_FACTOR, 10**6)
    offset: tuple[float, float] = _range((0.0, 0.0), "detector offset", -(10**6), 10**6)
    read_noise: tuple[float, float] = _range((0.0, 0.0), "detector read noise std", 0, 10**6)
    line_correlation: tuple[float, float] = _range(
        (0.0, 0.0),
        "correlation length along the rows (the fast scan axis) of the detector signal: a two-sided "
        "exponential filter exp(-|dx| / length) of the detected image (px; 0: none)",
        0,
        MAX_LINE_CORRELATION,
        length=True,
    )
    gamma: tuple[float, float] = _range((1.0, 1.0), "output non-linearity exponent", MIN_FACTOR, 10)
    saturation: tuple[float, float] = _range(
        (1.0, 1.0), "fraction of the peak mean count mapped to maxIntensity (brighter saturates)", MIN_FACTOR, 10
    )
    axon_brightness: tuple[float, float] = _range(
        (1.0, 1.0), "per-image factor on axon intensities", MIN_FACTOR, 100
    )
    bouton_brightness: tuple[float, float] = _range(
        (1.0, 1.0), "per-image factor on bouton intensities", MIN_FACTOR, 100
    )
    cell_brightness: tuple[float, float] = _range(
        (1.0, 1.0), "per-image factor on cell intensities", MIN_FACTOR, 100
    )

    # --- physical scale (optional keys) -----------------------------------------------------
    pixel_size: float = _option(
        0.0, "micrometres per pixel of the generated images (0: not known)", bounds=Bound(0, 1000), unit="um"
    )
    image_scale: float = _option(
        1.0,
        "resampling factor from the images these parameters describe (e.g. calibration images) "
        "to the generated grid: 0.5 = half their resolution",
        bounds=(Bound(0, 1000, low_open=True), Bound(0.001, 1000)),
    )
    # --- depth: a 3-D slab seen by the microscope (optional keys) ----------------------------
    depth_mode: str = _option(
        "off",
        "'off': a 2-D scene; 'section': one optical section of a slab; 'max'/'mean': a maximum/mean "
        "projection of a z-stack (defocused axons dimmer and wider)",
        choices=DEPTH_MODES,
    )
    defocused_axons: tuple[float, float] = _range(
        (0.0, 0.0), "extra out-of-focus axons per image (depth modes; unlabelled unless depth_labels='all')", 0, 1024
    )
    slab_depth: float = _option(
        40.0, "thickness of the tissue slab holding the axons (px)", bounds=_LENGTH, length=True
    )
    axial_sigma: float = _option(4.0, "axial PSF sigma: the depth of field (px)", bounds=_LENGTH, length=True)
    stack_depth: float = _option(
        20.0, "z extent of the stack projected by depth_mode 'max'/'mean' (px)", bounds=_NN_LENGTH, length=True
    )
    depth_labels: str = _option(
        "in_focus", "'in_focus': labels hold only the in-focus axons; 'all': every axon", choices=DEPTH_LABELS
    )
    # --- bouton shape (optional keys) --------------------------------------------------------
    bouton_label_contrast: float = _option(
        0.0,
        "label only boutons whose peak is at least this many times their axon's peak (clean signal); "
        "fainter ones are drawn but left out of the bouton mask (0: every bouton is labelled)",
        bounds=Bound(0, 1000),
    )
    bouton_size: tuple[float, float] = _range(
        (0.0, 0.0), "bouton radius relative to its branch thickness (0: the original's floor(thickness) + 1)", 0, 20
    )
    bouton_radius: tuple[float, float] = _range(
        (0.0, 0.0),
        "bouton radius in px, drawn per bouton whatever its branch's thickness (0: use bouton_size)",
        0,
        64,
        length=True,
    )

    # ------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        validate(self, ConfigError, rules=_RULES)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GeneratorConfig":
        """Builds a config from a mapping with the parameter-file keys.

        Missing keys take the shipped defaults; unknown keys, wrong types and invalid
        values raise `ConfigError` naming the key. With ``"preset"``, the preset's values come
        first and the mapping's own keys override them; when both the preset and the mapping
        give a non-zero ``pixel_size``, the preset's lengths (`LENGTH_FIELDS`, its own and the
        defaults it keeps) are first converted to the mapping's pixel size.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"parameters must be a JSON object, got {type(data).__name__}")
        values = dict(data)
        if "preset" in values:  # a named preset's values, overridden by the file's own keys
            name = values.pop("preset")
            if name not in PRESETS:
                raise ConfigError(f"preset: {unknown_choice(name, list(PRESETS), 'preset')}")
            check_keys(values, cls, ConfigError)
            preset = _preset_values(name, values.get("pixel_size"))
            try:
                return cls(**{**preset, **values})
            except ConfigError as err:
                if preset == PRESETS[name]:
                    raise
                converted = f"preset {name!r} converted to pixel_size {brief(values['pixel_size'])}"
                raise ConfigError(f"{converted}: {err}") from None
        check_keys(values, cls, ConfigError)
        return cls(**values)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "GeneratorConfig":
        """A named preset (`PRESETS`: 'original', 'realistic', 'randomised') with overrides."""
        return cls.from_dict({"preset": name, **overrides})

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "GeneratorConfig":
        """Reads a parameter file in the original's JSON format (UTF-8; `jaxaxon.jsonfile.read_json`).

        Raises:
          ConfigError: one line naming the file: unreadable, not UTF-8 JSON, a duplicate key,
            or an invalid parameter.
        """
        path = Path(path)
        data = read_json(path, ConfigError, "parameter file")
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None

    def to_dict(self, include_defaults_of_options: bool = True) -> dict[str, Any]:
        """The parameters as a JSON-ready dict with the original's key names and value styles.

        Args:
          include_defaults_of_options: also list jaxaxon's own options when they hold
            their defaults (False keeps a file in the original's exact key set).
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("jaxaxon") and not include_defaults_of_options and value == f.default:
                continue
            if isinstance(value, bool):
                value = int(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def to_json(self, path: str | os.PathLike) -> None:
        """Writes a parameter file (atomically) that `from_json` reads back to an equal config.

        jaxaxon's own options are written only where they differ from their defaults, so
        a file of original parameters keeps the original's key set.
        """
        with atomic_path(path, mkdir=False) as tmp:
            tmp.write_text(json.dumps(self.to_dict(include_defaults_of_options=False), indent=1) + "\n")

    def replace(self, **changes: Any) -> "GeneratorConfig":
        """Returns a validated copy with some parameters changed (original key names)."""
        check_keys(changes, type(self), ConfigError)
        return dataclasses.replace(self, **changes)

    def rescaled(self, factor: float, *, pooled: bool = False) -> "GeneratorConfig":
        """The same scene on a grid ``factor`` times finer (``factor < 1``: coarser).

        Every length in pixels (fields with ``length=True`` metadata, `LENGTH_FIELDS`) is
        multiplied by ``factor``: integers are rounded (half up) and kept at or above their
        lower bound, ranges are scaled at both ends. ``pixel_size`` is divided by ``factor``
        when known (non-zero) and ``image_scale`` multiplied by it. The image size in pixels
        is kept, so the field of view changes by ``1 / factor``. The result is validated as
        usual (a length grown too large for the image raises `ConfigError`).

        By default the photon budget per pixel is kept (a scanning microscope recording the
        finer grid with the same dwell time per pixel). With ``pooled`` and ``factor < 1`` the
        grid is instead that of a recorded image shrunk by ``factor``, whose pixels average
        ``1 / factor**2`` recorded pixels: ``photons`` and ``dark_counts`` are multiplied by
        ``1 / factor**2`` and ``read_noise`` by ``1 / factor`` (capped at their upper bounds), so
        that the microscope model's noise relative to the signal is that of the averaged image
        (enlarging adds no photons).

        Args:
          factor: positive finite scale factor (2: every structure twice as many pixels wide).
          pooled: scale the microscope model's photon budget as pixel averaging does (above).

        Raises:
          ConfigError: a non-positive or non-finite factor, a user PSF kernel file (its
            pixels cannot be rescaled) or a rescaled value that is invalid.
        """
        factor = _check_factor(factor)
        if self.psf_kernel and factor != 1.0:
            raise ConfigError(f"psf_kernel: a user PSF kernel file ({brief(self.psf_kernel)}) cannot be rescaled")
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values = _scale_lengths(values, factor)
        if self.pixel_size:
            values["pixel_size"] = self.pixel_size / factor
        values["image_scale"] = self.image_scale * factor
        if pooled and factor < 1.0:
            area = 1.0 / factor**2
            fields = {f.name: f for f in dataclasses.fields(self)}
            for name, times in (("photons", area), ("dark_counts", area), ("read_noise", math.sqrt(area))):
                top = _ceiling(fields[name])
                values[name] = tuple(min(v * times, top) for v in values[name])
        return type(self)(**values)

    # --- derived static sizes -----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """Image shape ``(height, width)``."""
        return (self.height, self.width)

    @property
    def max_branches(self) -> int:
        """Branch slots per image: ``MaxAxons * MaxBran`` (slot = axon * MaxBran + branch)."""
        return self.MaxAxons * self.MaxBran

    @property
    def max_walk_steps(self) -> int:
        """Static number of random-walk steps; a walk that has not left the image by then
        is an unacceptable candidate (probability below about 1e-6 by construction)."""
        return _walk_steps(self)

    @property
    def max_control_points(self) -> int:
        """Static maximum of spline control points per branch (start point + steps)."""
        return self.max_walk_steps + 1

    @property
    def fixed(self) -> bool:
        """True when the original's bugs are corrected (``compat == 'fixed'``)."""
        return self.compat == "fixed"

    @property
    def n_scene_attempts(self) -> int:
        """Whole-scene redraws allowed before failed branches are dropped."""
        if self.scene_attempts:
            return self.scene_attempts
        return 4 if self.fixed else 64

    @property
    def raster_halfwidth(self) -> int:
        """Half-size of the static pixel window around a centreline point (covers
        ``floor(p - t) .. ceil(p + t)`` for every thickness ``t <= MaxThickness``)."""
        return math.ceil(self.MaxThickness) + 1


# --- cross-field rules (run once every field is valid) -----------------------------------


def _kernel_file(cfg: GeneratorConfig) -> str | None:
    """A user PSF kernel must be a readable 2-D ``.npy`` array with odd sides."""
    import numpy as np

    path = cfg.psf_kernel
    if not path:
        return None
    try:
        kernel = np.load(path)
    except OSError as err:
        return f"psf_kernel: cannot read {brief(path)} as a .npy array: {err.strerror or brief(str(err), quote=False)}"
    except ValueError as err:
        return f"psf_kernel: cannot read {brief(path)} as a .npy array: {brief(str(err), quote=False)}"
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        return f"psf_kernel: expected a 2-D kernel with odd sides, got shape {kernel.shape}"
    if not np.all(np.isfinite(kernel)) or np.any(kernel < 0) or kernel.sum() <= 0:
        return "psf_kernel: the kernel must be finite, non-negative and not all zero"
    return None


def _cells_visible(cfg: GeneratorConfig) -> str | None:
    if cfg.MinBrightnessCircles < 1 and cfg.MaxNbCircles > 0:
        return "MinBrightnessCircles: must be at least 1 (percent) when cells are drawn"
    return None


def _fits_image(key: str, divisor: int):
    """Rule: ``key`` must stay below the image's shorter side divided by ``divisor``."""

    def rule(cfg: GeneratorConfig) -> str | None:
        limit = min(cfg.width, cfg.height) / divisor
        value = getattr(cfg, key)
        if value >= limit:
            return f"{key}: {value!r} is too large for a {cfg.height}x{cfg.width} image (limit {limit:g})"
        return None

    return rule


def _gaps_fit(cfg: GeneratorConfig) -> str | None:
    if 2 * cfg.MaxGapSize >= cfg.NSplinePoints:
        return (
            f"MaxGapSize: a gap of {cfg.MaxGapSize!r} points on each side does not fit a branch of "
            f"NSplinePoints={cfg.NSplinePoints!r} points"
        )
    return None


def _branch_slots(cfg: GeneratorConfig) -> str | None:
    if cfg.max_branches > MAX_BRANCH_SLOTS:
        return f"MaxAxons * MaxBran: {cfg.max_branches} branch slots exceed the limit {MAX_BRANCH_SLOTS}"
    return None


def _shifts_fit(cfg: GeneratorConfig) -> str | None:
    if cfg.rowshift >= cfg.height or cfg.colshift >= cfg.width:
        return "rowshift/colshift: a series shift must be smaller than the image"
    return None


def _walk_fits(cfg: GeneratorConfig) -> str | None:
    steps = _walk_steps(cfg)
    if steps > MAX_WALK_STEPS:
        return (
            f"conformity: with conformity={cfg.conformity!r} and StepSize={cfg.StepSize!r} a walk "
            f"needs up to {steps} steps to leave a {cfg.height}x{cfg.width} image, more than the "
            f"static limit {MAX_WALK_STEPS}: raise conformity or StepSize"
        )
    return None


def _defocused_counts(cfg: GeneratorConfig) -> str | None:
    lo, hi = cfg.defocused_axons
    if lo != int(lo) or hi != int(hi):
        return f"defocused_axons: expected whole numbers of axons, got {[lo, hi]!r}"
    return None


def _slab_holds_defocused(cfg: GeneratorConfig) -> str | None:
    """Defocused axons lie beyond the depth of field (one axial_sigma beyond the focal plane,
    or beyond the stack in 'max'/'mean'), inside the slab (jaxaxon.synth.depth.depth_range)."""
    if cfg.depth_mode == "off" or cfg.defocused_axons[1] == 0:
        return None
    near = (0.0 if cfg.depth_mode == "section" else cfg.stack_depth / 2) + cfg.axial_sigma
    if cfg.slab_depth / 2 < near:
        return (
            f"slab_depth: a slab of {cfg.slab_depth!r} px has no room for defocused axons beyond the depth of field "
            f"(depth_mode {cfg.depth_mode!r} needs at least {2 * near:g} px: 2 * ("
            + ("" if cfg.depth_mode == "section" else "stack_depth / 2 + ")
            + "axial_sigma))"
        )
    return None


def _bouton_fits(cfg: GeneratorConfig) -> str | None:
    if cfg.bouton_radius != (0.0, 0.0):
        if cfg.bouton_size != (0.0, 0.0):
            return "bouton_size and bouton_radius: give one of them (the other [0, 0])"
        key, radius, rule = "bouton_radius", cfg.bouton_radius[1], "bouton_radius"
    else:
        key, radius, rule = "bouton_size", cfg.bouton_size[1] * cfg.MaxThickness, "bouton_size * MaxThickness"
    limit = min(cfg.width, cfg.height) / 4
    if radius >= limit:
        return (
            f"{key}: boutons of radius up to {radius:g} px ({rule}) are too large for a "
            f"{cfg.height}x{cfg.width} image (limit {limit:g})"
        )
    return None


_RULES = (
    _kernel_file,
    _defocused_counts,
    _slab_holds_defocused,
    _bouton_fits,
    _cells_visible,
    _fits_image("StepSize", 4),
    _fits_image("MaxThickness", 4),
    _fits_image("MaxRadius", 2),
    _gaps_fit,
    _branch_slots,
    _shifts_fit,
    _walk_fits,
)


def _walk_steps(cfg: GeneratorConfig) -> int:
    """Static walk length: generous for both the ballistic and the diffusive regime.

    Ballistic: 1.5 times the steps of the image's half-perimeter (a straight crossing needs
    at most the diagonal). With the shipped parameters (384 steps), 99.99 % of 200,000
    simulated mother walks left the image within 283 steps and one needed more than 384; a
    walk that has not left in time is an unacceptable candidate, never truncated.
    Diffusive: a correlated
    walk with turning angle uniform in (-a, a) has mean step cosine rho = sin(a)/a and
    mean squared displacement ``n s^2 (1+rho)/(1-rho)``; its exit time from a disc of the
    image's half-side has an exponential tail, below 1e-6 after ``10 d^2 / sigma^2`` steps.
    """
    a = math.acos(cfg.conformity)
    rho = math.sin(a) / a
    half_side = min(cfg.width, cfg.height) / 2
    ballistic = 1.5 * (cfg.width + cfg.height) / cfg.StepSize
    diffusive = 0.0 if rho >= 1 else 10 * half_side**2 * (1 - rho) / (cfg.StepSize**2 * (1 + rho))
    return int(math.ceil(max(ballistic, diffusive)))


# Nominal micrometres per pixel of the 'realistic' and 'randomised' presets: at 0.4 um/px their
# axons (Gaussian cross-section, sigma_spread 1 px) have a FWHM of 0.94 um and their boutons
# (radius floor(thickness) + 1: 2-3 px in 'realistic', 2-4 px in 'randomised') a diameter of
# 1.6-2.4 um (1.6-3.2 um).
PRESET_PIXEL_SIZE = 0.4

# Named presets: values applied before a parameter file's own keys (`from_dict`). 'original'
# is the shipped behaviour; 'realistic' a fixed two-photon-like setting (dark, grainy
# background, blurred thin crossing axons, many boutons); 'randomised' draws the imaging
# conditions and scene densities from wide ranges for every image (domain randomisation).
PRESETS: dict[str, dict[str, Any]] = {
    "original": {},
    "realistic": {
        "pixel_size": PRESET_PIXEL_SIZE,
        "noise_model": "microscope",
        "crossingOK": 1,
        "branch_candidates": 4,
        "MinAxons": 3,
        "MaxAxons": 5,
        "MinBran": 1,
        "MaxBran": 2,
        "MinThickness": 1.0,
        "MaxThickness": 2.5,
        "MinNbBouton": 8,
        "MaxNbBouton": 16,
        "minDistBetweenBoutons": 6,
        "MinNbCircles": 1,
        "MaxNbCircles": 4,
        "MinRadius": 6,
        "MaxRadius": 20,
        "psf_sigma": 1.1,
        "photons": 40.0,
        "background": 0.04,
        "background_contrast": 0.4,
        "background_scale": 12.0,
        "bias": 0.05,
        "bias_scale": 96.0,
        "dark_counts": 0.05,
        "read_noise": 0.3,
        "saturation": 0.6,
        "gamma": 1.0,
        "axon_brightness": 0.6,
        "bouton_brightness": 0.8,
    },
    "randomised": {
        "pixel_size": PRESET_PIXEL_SIZE,
        "noise_model": "microscope",
        "crossingOK": 1,
        "branch_candidates": 4,
        "MinAxons": 1,
        "MaxAxons": 5,
        "MinBran": 1,
        "MaxBran": 2,
        "MinThickness": 1.0,
        "MaxThickness": 3.0,
        "MinNbBouton": 0,
        "MaxNbBouton": 16,
        "minDistBetweenBoutons": 6,
        "MinNbCircles": 0,
        "MaxNbCircles": 6,
        "MinRadius": 4,
        "MaxRadius": 20,
        "psf_sigma": [0.5, 2.0],
        "psf_aspect": [0.7, 1.5],
        "psf_angle": [0.0, 180.0],
        "photons": [3.0, 60.0],
        "background": [0.0, 0.3],
        "background_contrast": [0.1, 1.0],
        "background_scale": [4.0, 32.0],
        "bias": [0.0, 0.5],
        "bias_scale": [32.0, 256.0],
        "dark_counts": [0.0, 0.5],
        "gain": [0.5, 2.0],
        "offset": [0.0, 5.0],
        "read_noise": [0.0, 2.0],
        "gamma": [0.6, 1.4],
        "axon_brightness": [0.5, 1.5],
        "bouton_brightness": [0.6, 1.5],
        "cell_brightness": [0.3, 1.5],
    },
}


def default_params_path() -> Path:
    """Path of the bundled default parameter file (the shipped 256x256 set)."""
    return Path(__file__).parent / "params" / "256x256.json"


# --- physical scale -----------------------------------------------------------------------

LENGTH_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(GeneratorConfig) if f.metadata.get("length"))
"""Names of the fields measured in pixels (``length=True``), scaled by `GeneratorConfig.rescaled`."""


def _check_factor(factor: Any) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor <= 0:
        raise ConfigError(f"rescaled: the factor must be a positive finite number, got {brief(factor)}")
    return float(factor)


def _ceiling(field: dataclasses.Field) -> float:
    """The largest value the field's bounds allow (infinite when unbounded above)."""
    highs = [b.high for b in field.metadata.get("bounds", ()) if b.high is not None]
    return min(highs, default=math.inf)


def _int_floor(field: dataclasses.Field) -> int:
    """The smallest integer the field's bounds allow (0 when unbounded below)."""
    floor = 0
    for bound in field.metadata.get("bounds", ()):
        if bound.low is not None:
            low = math.floor(bound.low) + 1 if bound.low_open else math.ceil(bound.low)
            floor = max(floor, low)
    return floor


def _scale_lengths(values: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """``values`` (field name -> value, JSON spellings allowed) with every length times ``factor``."""
    out = dict(values)
    for f in dataclasses.fields(GeneratorConfig):
        if not f.metadata.get("length") or f.name not in out:
            continue
        value = out[f.name]
        if isinstance(value, (list, tuple)):
            out[f.name] = tuple(float(v) * factor for v in value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # left for validation to report
        elif f.type in (int, "int"):
            floor = _int_floor(f)
            low_name = f.metadata.get("not_below")
            if low_name and isinstance(out.get(low_name), int):
                floor = max(floor, out[low_name])  # the (already scaled) Min... of this Max...
            out[f.name] = max(floor, math.floor(value * factor + 0.5))
        else:
            out[f.name] = float(value) * factor
    return out


def _preset_values(name: str, pixel_size: Any) -> dict[str, Any]:
    """A preset's values, its lengths converted to ``pixel_size`` um/px when both are known.

    All of the preset's lengths (its own keys and the defaults it keeps) are scaled by
    ``preset pixel size / pixel_size``; ``image_scale`` is left as it is.
    """
    preset = PRESETS[name]
    source = preset.get("pixel_size", 0.0)
    if not source or not pixel_size or isinstance(pixel_size, bool) or not isinstance(pixel_size, (int, float)):
        return dict(preset)
    if not math.isfinite(pixel_size) or pixel_size < 0 or pixel_size == source:
        return dict(preset)
    defaults = {f.name: f.default for f in dataclasses.fields(GeneratorConfig) if f.metadata.get("length")}
    return _scale_lengths({**defaults, **preset}, source / pixel_size)
