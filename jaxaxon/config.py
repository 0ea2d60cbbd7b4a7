"""Generator parameters: the original's JSON keys, validation and derived static sizes.

`GeneratorConfig` is a frozen (hashable) dataclass, so it can be a static argument of
`jax.jit`: every distinct config is one compilation, equal configs share one.

Field names are the original parameter-file keys (``MinAxons``, ``sigma_noise_min``, ...)
so that existing parameter files keep working unchanged. jaxaxon's own options (the
compatibility mode and the bounded-rejection sizes) are extra, optional keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ConfigError", "GeneratorConfig", "PROFILES", "COMPAT_MODES", "NOISE_MODELS", "PRESETS"]

PROFILES = ("constant", "linear", "cosine")
COMPAT_MODES = ("fixed", "original")
NOISE_MODELS = ("original", "microscope")

# Hard limits on derived static sizes: beyond them a parameter set "cannot fit".
MAX_IMAGE_SIDE = 8192
MAX_WALK_STEPS = 32768
MAX_SPLINE_POINTS = 100_000
MAX_BRANCH_SLOTS = 1024
MAX_OBJECTS = 4096


class ConfigError(ValueError):
    """An invalid generator parameter; the message names the offending key."""


def _field(default: Any, doc: str, **meta: Any) -> Any:
    return dataclasses.field(default=default, metadata={"doc": doc, **meta})


def _range(default: tuple[float, float], doc: str, lo: float, hi: float, *, open_lo: bool = False) -> Any:
    """A ``(min, max)`` range drawn per image; the JSON value is a number or ``[min, max]``."""
    return _field(default, doc, jaxaxon=True, limits=(lo, hi, open_lo))


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Parameters of the surrogate-image generator (defaults: the shipped 256x256 file).

    Percent-valued intensities (``Min/MaxAxonIntensity``, ``Min/MaxBrightnessBouton``,
    ``Min/MaxBrightnessCircles``) are percentages (0..100), as in the original files.
    See ``../shared/spec/original_generator.md`` for what each key does.
    """

    # --- image -------------------------------------------------------------------------
    width: int = _field(256, "image width in pixels (columns)")
    height: int = _field(256, "image height in pixels (rows)")
    negative_image: bool = _field(False, "invert the final image (maxIntensity - image)")
    maxIntensity: int = _field(255, "maximum grey value of the output images")
    # --- time series ---------------------------------------------------------------------
    NbImages: int = _field(6, "frames per time series")
    rowshift: int = _field(20, "maximum random row offset of a series frame's crop")
    colshift: int = _field(20, "maximum random column offset of a series frame's crop")
    maxRotAngle: int = _field(4, "maximum rotation of a series frame, integer degrees")
    probBoutonInFirstImage: float = _field(0.3, "probability that a bouton shows in frame 1")
    # --- acquisition noise ---------------------------------------------------------------
    sigma_noise_min: float = _field(10.0, "white-noise sigma, lower bound")
    sigma_noise_max: float = _field(10.0, "white-noise sigma, upper bound")
    lambdaMin: int = _field(14, "Poisson background rate, lower bound (integer)")
    lambdaMax: int = _field(14, "Poisson background rate, upper bound (integer)")
    # --- axons ---------------------------------------------------------------------------
    MinAxons: int = _field(2, "axons per image, lower bound")
    MaxAxons: int = _field(2, "axons per image, upper bound")
    MinBran: int = _field(2, "branches per axon (mother included), lower bound")
    MaxBran: int = _field(2, "branches per axon (mother included), upper bound")
    conformity: float = _field(0.99, "random-walk conformity: cosine of the largest turn per step")
    MinThickness: float = _field(1.5, "branch thickness, lower bound (pixels)")
    MaxThickness: float = _field(3.0, "branch thickness, upper bound (pixels)")
    MinGapSize: int = _field(0, "gap half-length in centreline points, lower bound")
    MaxGapSize: int = _field(4, "gap half-length in centreline points, upper bound (0: no gaps)")
    StepSize: float = _field(2.0, "random-walk step length (pixels)")
    NSplinePoints: int = _field(200, "centreline points per branch")
    crossingOK: bool = _field(False, "1 allows crossing branches, 0 forbids them")
    straightBranching: float = _field(
        10.0, "a daughter may touch other branches only within this many thicknesses of its start"
    )
    SegmentationThreshold: float = _field(2.7, "axon mask: distance to the centreline below this")
    sigma_spread: float = _field(1.0, "sigma of the Gaussian cross-section of an axon (pixels)")
    MinAxonIntensity: float = _field(10.0, "axon intensity, lower bound (percent)")
    MaxAxonIntensity: float = _field(40.0, "axon intensity, upper bound (percent)")
    MinPeriod: float = _field(0.1, "periods of the cosine profile per branch, lower bound")
    MaxPeriod: float = _field(2.0, "periods of the cosine profile per branch, upper bound")
    AxonProfile: str = _field("cosine", "intensity profile of mother branches", choices=PROFILES)
    BranchProfile: str = _field("cosine", "intensity profile of daughter branches", choices=PROFILES)
    sigma_noise_axon: float = _field(0.055, "pixel noise added to the axon intensity map")
    # --- boutons -------------------------------------------------------------------------
    MinNbBouton: int = _field(7, "boutons per image, lower bound")
    MaxNbBouton: int = _field(7, "boutons per image, upper bound")
    MinBrightnessBouton: int = _field(30, "bouton brightness, lower bound (percent)")
    MaxBrightnessBouton: int = _field(40, "bouton brightness, upper bound (percent)")
    sigma_noise_bouton: float = _field(1.0, "noise added to the distance map of a bouton")
    minDistBetweenBoutons: float = _field(8.0, "minimum distance between bouton centres (pixels)")
    # --- cells ---------------------------------------------------------------------------
    MinNbCircles: int = _field(13, "cells per image, lower bound")
    MaxNbCircles: int = _field(13, "cells per image, upper bound")
    MinRadius: int = _field(3, "cell radius, lower bound (pixels)")
    MaxRadius: int = _field(20, "cell radius, upper bound (pixels)")
    CircleBrightness: int = _field(1, "kept from the original files; not used by the generator")
    MinBrightnessCircles: int = _field(10, "cell brightness, lower bound (percent)")
    MaxBrightnessCircles: int = _field(30, "cell brightness, upper bound (percent)")
    sigma_noise_circle: float = _field(1.3, "noise added to the distance map of a cell")
    # --- jaxaxon options (optional keys) ---------------------------------------------------
    compat: str = _field(
        "fixed",
        "'fixed' corrects the original's bugs (spec section 5); 'original' reproduces B1 and B3-B7",
        choices=COMPAT_MODES,
        jaxaxon=True,
    )
    branch_candidates: int = _field(
        32, "candidate walks drawn per branch; the first acceptable one is kept", jaxaxon=True
    )
    scene_attempts: int = _field(
        0,
        "whole-scene redraws when a branch has no acceptable candidate (0: 4 in 'fixed', 64 in 'original')",
        jaxaxon=True,
        allow_zero=True,
    )

    # --- imaging model and domain randomisation (optional keys; ranges drawn per image) ---
    noise_model: str = _field(
        "original",
        "'original': the original's acquisition noise (spec 1.11); 'microscope': PSF, background, "
        "bias field, shot noise and detector (jaxaxon.synth.optics)",
        choices=NOISE_MODELS,
        jaxaxon=True,
    )
    psf_sigma: tuple[float, float] = _range((1.0, 1.0), "PSF Gaussian sigma along its first axis (px)", 0.0, 20.0)
    psf_aspect: tuple[float, float] = _range((1.0, 1.0), "PSF width ratio, second axis / first", 0.0, 10.0, open_lo=True)
    psf_angle: tuple[float, float] = _range((0.0, 0.0), "PSF rotation (degrees)", -360.0, 360.0)
    psf_kernel: str = _field("", "optional .npy file with a user PSF kernel (odd sides), replacing the Gaussian", jaxaxon=True)
    photons: tuple[float, float] = _range((20.0, 20.0), "expected photons at the brightest signal pixel", 0.0, 1e6, open_lo=True)
    background: tuple[float, float] = _range((0.05, 0.05), "neuropil background level (fraction of the peak signal)", 0.0, 10.0)
    background_contrast: tuple[float, float] = _range((0.5, 0.5), "relative std of the neuropil background", 0.0, 10.0)
    background_scale: tuple[float, float] = _range((8.0, 8.0), "correlation length of the neuropil (px)", 0.0, 1e4, open_lo=True)
    bias: tuple[float, float] = _range((0.0, 0.0), "std of the log multiplicative bias field", 0.0, 5.0)
    bias_scale: tuple[float, float] = _range((64.0, 64.0), "correlation length of the bias field (px)", 0.0, 1e4, open_lo=True)
    dark_counts: tuple[float, float] = _range((0.0, 0.0), "mean dark counts per pixel", 0.0, 1e4)
    gain: tuple[float, float] = _range((1.0, 1.0), "detector gain per photon", 0.0, 1e6, open_lo=True)
    offset: tuple[float, float] = _range((0.0, 0.0), "detector offset", -1e6, 1e6)
    read_noise: tuple[float, float] = _range((0.0, 0.0), "detector read noise std", 0.0, 1e6)
    gamma: tuple[float, float] = _range((1.0, 1.0), "output non-linearity exponent", 0.0, 10.0, open_lo=True)
    saturation: tuple[float, float] = _range(
        (1.0, 1.0), "fraction of the peak mean count mapped to maxIntensity (brighter saturates)", 0.0, 10.0, open_lo=True
    )
    axon_brightness: tuple[float, float] = _range((1.0, 1.0), "per-image factor on axon intensities", 0.0, 100.0, open_lo=True)
    bouton_brightness: tuple[float, float] = _range((1.0, 1.0), "per-image factor on bouton intensities", 0.0, 100.0, open_lo=True)
    cell_brightness: tuple[float, float] = _range((1.0, 1.0), "per-image factor on cell intensities", 0.0, 100.0, open_lo=True)

    # ------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        _validate(self)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GeneratorConfig":
        """Builds a config from a mapping with the parameter-file keys.

        Missing keys take the shipped defaults; unknown keys, wrong types and invalid
        values raise `ConfigError` naming the key.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"parameters must be a JSON object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        data = dict(data)
        if "preset" in data:  # a named preset's values, overridden by the file's own keys
            name = data.pop("preset")
            if name not in PRESETS:
                close = difflib.get_close_matches(str(name), list(PRESETS), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"preset: unknown preset {name!r} (choose one of {', '.join(PRESETS)}){hint}")
            values.update({k: _coerce(k, v, fields[k].type) for k, v in PRESETS[name].items()})
        for key, raw in data.items():
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
                if not close:  # case-insensitive fallback (e.g. "minaxons")
                    lower = {name.lower(): name for name in fields}
                    close = [lower[str(key).lower()]] if str(key).lower() in lower else []
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown key {key!r}{hint}")
            values[key] = _coerce(key, raw, fields[key].type)
        return cls(**values)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "GeneratorConfig":
        """A named preset (`PRESETS`: 'original', 'realistic', 'randomised') with overrides."""
        return cls.from_dict({"preset": name, **overrides})

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "GeneratorConfig":
        """Reads a parameter file in the original's JSON format."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise ConfigError(f"cannot read parameter file {str(path)!r}: {err.strerror or err}") from err
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"parameter file {str(path)!r} is not valid JSON: {err}") from err
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
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(include_defaults_of_options=False), indent=1) + "\n")
        os.replace(tmp, path)

    def replace(self, **changes: Any) -> "GeneratorConfig":
        """Returns a validated copy with some parameters changed (original key names)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        for key in changes:
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown key {key!r}{hint}")
        coerced = {k: _coerce(k, v, fields[k].type) for k, v in changes.items()}
        return dataclasses.replace(self, **coerced)

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


# --- validation ---------------------------------------------------------------------------

_MIN_MAX_PAIRS = [
    ("sigma_noise_min", "sigma_noise_max"),
    ("lambdaMin", "lambdaMax"),
    ("MinAxons", "MaxAxons"),
    ("MinBran", "MaxBran"),
    ("MinThickness", "MaxThickness"),
    ("MinGapSize", "MaxGapSize"),
    ("MinAxonIntensity", "MaxAxonIntensity"),
    ("MinPeriod", "MaxPeriod"),
    ("MinNbBouton", "MaxNbBouton"),
    ("MinBrightnessBouton", "MaxBrightnessBouton"),
    ("MinNbCircles", "MaxNbCircles"),
    ("MinRadius", "MaxRadius"),
    ("MinBrightnessCircles", "MaxBrightnessCircles"),
]
_PERCENT_KEYS = [
    "MinAxonIntensity",
    "MaxAxonIntensity",
    "MinBrightnessBouton",
    "MaxBrightnessBouton",
    "MinBrightnessCircles",
    "MaxBrightnessCircles",
]
_POSITIVE_KEYS = [
    "width", "height", "maxIntensity", "NbImages", "rowshift", "colshift", "MinAxons",
    "MinBran", "MinThickness", "StepSize", "SegmentationThreshold", "sigma_spread",
    "MinRadius", "branch_candidates",
]  # fmt: skip
_NON_NEGATIVE_KEYS = [
    "maxRotAngle", "sigma_noise_min", "lambdaMin", "MinGapSize", "straightBranching",
    "MinPeriod", "sigma_noise_axon", "MinNbBouton", "sigma_noise_bouton",
    "minDistBetweenBoutons", "MinNbCircles", "CircleBrightness", "sigma_noise_circle",
    "scene_attempts",
]  # fmt: skip


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Checks a raw value against the field's type, converting the JSON spellings the
    original files use (0/1 for booleans, integral floats for integers)."""
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{key}: expected 0/1 or true/false, got {value!r}")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected an integer, got {type(value).__name__} {value!r}")
        if isinstance(value, float):
            if not math.isfinite(value) or value != int(value):
                raise ConfigError(f"{key}: expected an integer, got {value!r}")
            value = int(value)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {type(value).__name__} {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return value
    if kind.startswith("tuple"):
        items = list(value) if isinstance(value, (list, tuple)) else [value, value]
        if len(items) != 2:
            raise ConfigError(f"{key}: expected a number or a [min, max] pair, got {value!r}")
        pair = tuple(_coerce(key, item, "float") for item in items)
        if pair[0] > pair[1]:
            raise ConfigError(f"{key}: min > max in range {list(pair)!r}")
        return pair
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__} {value!r}")
        return value
    return value


def _validate(cfg: GeneratorConfig) -> None:
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        expected = _coerce(f.name, value, f.type)  # also type-checks direct construction
        if expected != value or type(expected) is not type(value):
            object.__setattr__(cfg, f.name, expected)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{f.name}: unknown value {value!r} (choose one of {', '.join(choices)}){hint}")
    for key in _POSITIVE_KEYS:
        if not getattr(cfg, key) > 0:
            raise ConfigError(f"{key}: must be positive, got {getattr(cfg, key)!r}")
    for key in _NON_NEGATIVE_KEYS:
        if getattr(cfg, key) < 0:
            raise ConfigError(f"{key}: must not be negative, got {getattr(cfg, key)!r}")
    for key in _PERCENT_KEYS:
        if not 0 <= getattr(cfg, key) <= 100:
            raise ConfigError(f"{key}: a percentage must lie in 0..100, got {getattr(cfg, key)!r}")
    for lo, hi in _MIN_MAX_PAIRS:
        if getattr(cfg, lo) > getattr(cfg, hi):
            raise ConfigError(f"{lo} > {hi}: {getattr(cfg, lo)!r} > {getattr(cfg, hi)!r}")
    for f in dataclasses.fields(cfg):
        limits = f.metadata.get("limits")
        if limits is None:
            continue
        lo, hi, open_lo = limits
        low, high = getattr(cfg, f.name)
        if (low <= lo if open_lo else low < lo) or high > hi:
            bound = f"({lo:g}" if open_lo else f"[{lo:g}"
            raise ConfigError(f"{f.name}: range {[low, high]!r} must lie in {bound}, {hi:g}]")
    if cfg.psf_kernel:
        _check_kernel_file(cfg.psf_kernel)
    if not 0 < cfg.conformity < 1:
        raise ConfigError(f"conformity: must lie strictly between 0 and 1, got {cfg.conformity!r}")
    if not 0 <= cfg.probBoutonInFirstImage <= 1:
        raise ConfigError(f"probBoutonInFirstImage: must lie in 0..1, got {cfg.probBoutonInFirstImage!r}")
    # ranges the original samples strictly inside (U(Min+1%, Max-1%), U{Min+1..Max-1})
    if cfg.MaxAxonIntensity - cfg.MinAxonIntensity < 2:
        raise ConfigError(
            "MaxAxonIntensity: must exceed MinAxonIntensity by at least 2 (percent), "
            f"got {cfg.MinAxonIntensity!r}..{cfg.MaxAxonIntensity!r}"
        )
    if cfg.MaxBrightnessBouton - cfg.MinBrightnessBouton < 2:
        raise ConfigError(
            "MaxBrightnessBouton: must exceed MinBrightnessBouton by at least 2 (percent), "
            f"got {cfg.MinBrightnessBouton!r}..{cfg.MaxBrightnessBouton!r}"
        )
    if cfg.MinBrightnessCircles < 1 and cfg.MaxNbCircles > 0:
        raise ConfigError("MinBrightnessCircles: must be at least 1 (percent) when cells are drawn")
    # sizes that cannot work
    for key in ("width", "height"):
        if not 16 <= getattr(cfg, key) <= MAX_IMAGE_SIDE:
            raise ConfigError(f"{key}: must lie in 16..{MAX_IMAGE_SIDE} pixels, got {getattr(cfg, key)!r}")
    side = min(cfg.width, cfg.height)
    if cfg.StepSize >= side / 4:
        raise ConfigError(f"StepSize: {cfg.StepSize!r} is too large for a {cfg.height}x{cfg.width} image (limit {side / 4:g})")
    if cfg.MaxThickness >= side / 4:
        raise ConfigError(f"MaxThickness: {cfg.MaxThickness!r} is too large for a {cfg.height}x{cfg.width} image (limit {side / 4:g})")
    if cfg.MaxRadius >= side / 2:
        raise ConfigError(f"MaxRadius: {cfg.MaxRadius!r} is too large for a {cfg.height}x{cfg.width} image (limit {side / 2:g})")
    if not 2 <= cfg.NSplinePoints <= MAX_SPLINE_POINTS:
        raise ConfigError(f"NSplinePoints: must lie in 2..{MAX_SPLINE_POINTS}, got {cfg.NSplinePoints!r}")
    if 2 * cfg.MaxGapSize >= cfg.NSplinePoints:
        raise ConfigError(
            f"MaxGapSize: a gap of {cfg.MaxGapSize!r} points on each side does not fit a branch of "
            f"NSplinePoints={cfg.NSplinePoints!r} points"
        )
    if cfg.max_branches > MAX_BRANCH_SLOTS:
        raise ConfigError(f"MaxAxons * MaxBran: {cfg.max_branches} branch slots exceed the limit {MAX_BRANCH_SLOTS}")
    for key in ("MaxNbBouton", "MaxNbCircles"):
        if getattr(cfg, key) > MAX_OBJECTS:
            raise ConfigError(f"{key}: {getattr(cfg, key)!r} exceeds the limit {MAX_OBJECTS}")
    if cfg.rowshift >= cfg.height or cfg.colshift >= cfg.width:
        raise ConfigError("rowshift/colshift: a series shift must be smaller than the image")
    if cfg.maxRotAngle >= 45:
        raise ConfigError(f"maxRotAngle: must be below 45 degrees, got {cfg.maxRotAngle!r}")
    steps = _walk_steps(cfg)
    if steps > MAX_WALK_STEPS:
        raise ConfigError(
            f"conformity: with conformity={cfg.conformity!r} and StepSize={cfg.StepSize!r} a walk "
            f"needs up to {steps} steps to leave a {cfg.height}x{cfg.width} image, more than the "
            f"static limit {MAX_WALK_STEPS}: raise conformity or StepSize"
        )


def _check_kernel_file(path: str) -> None:
    import numpy as np

    try:
        kernel = np.load(path)
    except (OSError, ValueError) as err:
        raise ConfigError(f"psf_kernel: cannot read {path!r} as a .npy array: {err}") from None
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ConfigError(f"psf_kernel: expected a 2-D kernel with odd sides, got shape {kernel.shape}")
    if not np.all(np.isfinite(kernel)) or np.any(kernel < 0) or kernel.sum() <= 0:
        raise ConfigError("psf_kernel: the kernel must be finite, non-negative and not all zero")


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
    msd_per_step = cfg.StepSize**2 * (1 + rho) / (1 - rho)
    half_side = min(cfg.width, cfg.height) / 2
    ballistic = 1.5 * (cfg.width + cfg.height) / cfg.StepSize
    diffusive = 10 * half_side**2 / msd_per_step
    return int(math.ceil(max(ballistic, diffusive)))


# Named presets: values applied before a parameter file's own keys (`from_dict`). 'original'
# is the shipped behaviour; 'realistic' a fixed two-photon-like setting (dark, grainy
# background, blurred thin crossing axons, many boutons); 'randomised' draws the imaging
# conditions and scene densities from wide ranges for every image (domain randomisation).
PRESETS: dict[str, dict[str, Any]] = {
    "original": {},
    "realistic": {
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
