"""Run configuration: everything that defines a training run, stored as ``DIR/config.json``.

`RunConfig` is a frozen (hashable) dataclass so that the jitted programs built from it are
cached per configuration. Its JSON form (`RunConfig.to_dict`) holds the model kind and
hyper-parameters, the heads, the input normalisation, the full generator parameter set,
the image and crop sizes, the seeds and the preset name: enough to rebuild the model and
its input scaling without the code that created the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import erf

from jaxaxon.atomic import write_json_atomic
from jaxaxon.config import MAX_IMAGE_SIDE, ConfigError, GeneratorConfig
from jaxaxon.echo import brief
from jaxaxon.jsonfile import loads_json, read_json
from jaxaxon.models.config import ModelConfig
from jaxaxon.train.normalise import Normalisation
from jaxaxon.validation import NON_NEGATIVE, Bound, check_keys, param, validate

__all__ = [
    "RunConfig",
    "RunConfigError",
    "RealMixing",
    "TrainingData",
    "LOSSES",
    "SCHEDULES",
    "AE_TARGETS",
    "BOUTON_TARGETS",
    "parse_overrides",
    "read_run_config",
]

LOSSES = ("dice", "bce", "dice+bce", "mse")
SCHEDULES = ("constant", "warmup_cosine")
AE_TARGETS = ("clean", "image")
BOUTON_TARGETS = ("none", "disc", "gaussian")
FORMAT = "jaxaxon-run"


_AT_LEAST_1 = Bound(1)
_STEPS = (_AT_LEAST_1, Bound(1, 2**31 - 1))  # step counters are int32
_BATCH = (_AT_LEAST_1, Bound(1, 2**16))
_SEED = Bound(0, 2**31, high_open=True)


class RunConfigError(ValueError):
    """An invalid training option or run configuration; the message names the option."""


@dataclasses.dataclass(frozen=True)
class RealMixing:
    """Labelled real images mixed into every training batch (`jaxaxon.train.mixing`).

    Attributes:
      paths: labelled folders, ``NAME.npz`` volumes or image files (`jaxaxon.data.images`),
        stored as absolute paths.
      share: fraction of each batch's examples that are real crops, 0..1. A step holds
        ``round(share * batch_size)`` real crops (halves round up) and synthetic tiles for
        the rest.
      include: optional shell patterns on sample names (``"0[1-7]"``, ``"burgess*_z00?"``);
        when given, only matching images are used (e.g. one cross-validation fold).
      bouton_targets: how images with bouton boxes train a ``bouton`` head: ``none`` (they
        do not), ``disc`` (a disc at each box centre) or ``gaussian`` (a Gaussian of peak 1
        at each box centre).
      bouton_radius: the disc's radius and twice the Gaussian's sigma, in pixels; 0 (default)
        uses a quarter of each box's shorter side.
      flips: random horizontal and vertical flips of the crops.
      rot90: random 90-degree rotations of the (square) crops.
      n_images: number of 2-D real images in use (recorded when the run starts).
      fingerprint: SHA-256 of the images and labels in use (recorded when the run starts; a
        resumed run refuses data that changed).
    """

    paths: tuple[str, ...] = ()
    share: float = param(0.0, bounds=Bound(0, 1), what="a fraction of the batch")
    include: tuple[str, ...] = ()
    bouton_targets: str = param("none", choices=BOUTON_TARGETS)
    bouton_radius: float = param(0.0, bounds=Bound(0, 1000), what="a radius", unit="pixels (0 = automatic)")
    flips: bool = True
    rot90: bool = True
    n_images: int = param(0, bounds=(NON_NEGATIVE, Bound(0, 2**31 - 1)))
    fingerprint: str = ""

    def __post_init__(self) -> None:
        validate(self, RunConfigError, prefix="real.", rules=(_has_paths,))

    def count(self, batch_size: int) -> int:
        """Real crops in a batch of ``batch_size`` examples: ``round(share * batch_size)``, halves up."""
        return int(math.floor(self.share * batch_size + 0.5))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RealMixing":
        if not isinstance(data, Mapping):
            raise RunConfigError(f"real: expected an object, got {type(data).__name__}")
        check_keys(data, cls, RunConfigError, noun="option", prefix="real.")
        return cls(**data)


def _has_paths(real: RealMixing) -> str | None:
    return None if real.paths else "paths: no real data given (--real DIR)"


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """A dataset on disk (``jaxaxon generate``) that the run trains on instead of images
    generated on the fly (`jaxaxon.train.data_loader`), recorded when the run starts.

    Attributes:
      path: the dataset directory (absolute).
      examples: number of images in it.
      image_size: ``(height, width)`` of its images (the run's generator shape).
      fingerprint: SHA-256 of its generation record (generator, parameters, seed, number of
        images; `jaxaxon.train.data_loader.dataset_fingerprint`): a resumed run refuses
        another dataset.
    """

    path: str = ""
    examples: int = param(1, bounds=(_AT_LEAST_1, Bound(1, 2**31 - 1)))
    image_size: tuple[int, ...] = (0, 0)
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.image_size, (list, tuple)):
            object.__setattr__(self, "image_size", tuple(self.image_size))
        validate(self, RunConfigError, prefix="data.", rules=(_has_path,))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainingData":
        if not isinstance(data, Mapping):
            raise RunConfigError(f"data: expected an object, got {type(data).__name__}")
        check_keys(data, cls, RunConfigError, noun="option", prefix="data.")
        return cls(**data)


def _has_path(data: TrainingData) -> str | None:
    if not data.path:
        return "path: no dataset given (--data PATH.zarr)"
    size = data.image_size
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        return f"image_size: expected (height, width) in pixels, got {list(size)}"
    return None


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A training run.

    Attributes:
      preset: name of the preset the run started from (informative).
      model: network architecture (`ModelConfig`; the default is the nano U-Net).
      generator: generator parameters of the training and validation images.
      crop: side of the square training tiles cut from each generated image (all
        non-overlapping tiles are used, so one image gives ``(H // crop) * (W // crop)``
        examples); 0 trains on whole images. Validation always uses whole images.
      batch_size: training examples (tiles) per step; a multiple of the tiles per image.
      steps: total optimisation steps of the run.
      seed: seed of the parameter initialisation, the training images and the dropout.
      loss: ``dice`` (1 - soft Dice, the original's, batch-global as Keras' flatten),
        ``bce``, ``dice+bce`` (their sum), or ``mse`` (the autoencoder's).
      dice_smooth: smoothing constant of the soft Dice (the original's 1).
      lr: peak learning rate of Adam.
      schedule: ``constant`` or ``warmup_cosine`` (linear warm-up from 0 over
        ``warmup_steps``, then cosine decay to ``lr * end_lr_factor`` at ``steps``).
      warmup_steps: warm-up length (``warmup_cosine`` only).
      end_lr_factor: final learning rate as a fraction of ``lr`` (``warmup_cosine``).
      clip_norm: gradient clipping by global norm (0 disables it).
      normalise: per-image input scaling (`Normalisation`), also used at prediction.
      ae_target: autoencoder target: ``clean`` (the noise-free image, normalised like
        the input: denoising) or ``image`` (the normalised input: plain reconstruction).
      val_images: number of whole generated validation images (fixed set).
      val_seed: seed of the validation set (independent of ``seed``, so runs with other
        seeds are validated on the same images).
      val_batch: validation images per forward pass.
      eval_every: validate every this many steps (and at the last step).
      log_every: write a history record every this many steps.
      checkpoint_every: save a checkpoint every this many steps (and at the end).
      keep_checkpoints: latest checkpoints kept (the best one is kept separately).
      init_from: checkpoint the parameters were initialised from, if any (informative).
      axon_width: when positive, the generator parameters are rescaled
        (`GeneratorConfig.rescaled`, ``pooled``: a coarser grid also pools the photons, as
        shrinking a recorded image does) so that the tube width of `training_width` (the
        apparent width of the median tube, and at least half of it for the thinnest) is this
        many pixels of the training grid; the factor is recorded in ``generator.image_scale``,
        and evaluate/predict resample inputs by it. 0 keeps the parameters' own scale.
      real: labelled real images mixed into the training batches (`RealMixing`), or None.
      data: the dataset on disk the run trains on (`TrainingData`), or None to train on
        images generated on the fly. Validation stays on generated images.
    """

    preset: str = "custom"
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    generator: GeneratorConfig = dataclasses.field(default_factory=GeneratorConfig)
    crop: int = param(0, bounds=(NON_NEGATIVE, Bound(0, MAX_IMAGE_SIDE)))
    batch_size: int = param(16, bounds=_BATCH)
    steps: int = param(1000, bounds=_STEPS)
    seed: int = param(0, bounds=_SEED)
    loss: str = param("dice", choices=LOSSES)
    dice_smooth: float = param(1.0, bounds=(NON_NEGATIVE, Bound(0, 10**6)))
    lr: float = param(1e-3, bounds=Bound(0.0, 10.0, low_open=True))
    schedule: str = param("constant", choices=SCHEDULES)
    warmup_steps: int = param(0, bounds=(NON_NEGATIVE, Bound(0, 2**31 - 1)))
    end_lr_factor: float = param(0.01, bounds=Bound(0, 1))
    clip_norm: float = param(0.0, bounds=(NON_NEGATIVE, Bound(0, 10**6)))
    normalise: Normalisation = dataclasses.field(default_factory=Normalisation)
    ae_target: str = param("clean", choices=AE_TARGETS)
    val_images: int = param(16, bounds=(_AT_LEAST_1, Bound(1, 2**20)))
    val_seed: int = param(1_000_003, bounds=_SEED)
    val_batch: int = param(8, bounds=_BATCH)
    eval_every: int = param(100, bounds=_STEPS)
    log_every: int = param(10, bounds=_STEPS)
    checkpoint_every: int = param(100, bounds=_STEPS)
    keep_checkpoints: int = param(3, bounds=(_AT_LEAST_1, Bound(1, 1000)))
    init_from: str | None = None
    real: RealMixing | None = None
    data: TrainingData | None = None
    axon_width: float = param(0.0, bounds=Bound(0, 100), what="a width", unit="pixels (0 = the parameters' scale)")

    def __post_init__(self) -> None:
        if self.axon_width > 0:  # idempotent: a stored, already rescaled config is left as it is
            factor = self.axon_width / training_width(self.generator)
            if abs(factor - 1.0) > 1e-6:
                try:
                    object.__setattr__(self, "generator", self.generator.rescaled(factor, pooled=True))
                except ConfigError as err:
                    raise RunConfigError(f"axon_width: rescaling the generator by {factor:.3g} fails: {err}") from None
        validate(self, RunConfigError, rules=_RULES)

    # --- derived sizes ---------------------------------------------------------------------
    @property
    def tile(self) -> int | None:
        """Training tile side, or None for whole images."""
        return self.crop or None

    @property
    def tiles_per_image(self) -> int:
        if not self.crop:
            return 1
        return (self.generator.height // self.crop) * (self.generator.width // self.crop)

    @property
    def images_per_step(self) -> int:
        """Generated images per training step."""
        return self.batch_size // self.tiles_per_image

    @property
    def real_per_step(self) -> int:
        """Real crops per training step (0 without real data)."""
        return 0 if self.real is None else self.real.count(self.batch_size)

    @property
    def segmentation(self) -> bool:
        """True for a U-Net run, False for autoencoder pre-training."""
        return self.model.kind == "unet"

    @property
    def best_metric(self) -> tuple[str, str]:
        """(history key, "max" or "min") that selects the best checkpoint."""
        return ("val_dice", "max") if self.segmentation else ("val_loss", "min")

    # --- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (nested model, generator and normalise dicts)."""
        out: dict[str, Any] = {"format": FORMAT}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "generator":
                value = value.to_dict()
            elif hasattr(value, "to_dict"):
                value = value.to_dict()
            out[f.name] = value
        out["image_size"] = list(self.generator.shape)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunConfig":
        """Builds a config from `to_dict`'s form; invalid content raises `RunConfigError`."""
        if not isinstance(data, Mapping):
            raise RunConfigError(f"run config must be a JSON object, got {type(data).__name__}")
        values = {k: v for k, v in data.items() if k not in ("format", "image_size", "jaxaxon_version")}
        _check_names(values)
        try:
            if "model" in values:
                values["model"] = ModelConfig.from_dict(values["model"])
            if "generator" in values:
                values["generator"] = GeneratorConfig.from_dict(values["generator"])
            if "normalise" in values:
                values["normalise"] = Normalisation.from_dict(values["normalise"])
            if values.get("real") is not None:
                values["real"] = RealMixing.from_dict(values["real"])
            if values.get("data") is not None:
                values["data"] = TrainingData.from_dict(values["data"])
        except ConfigError as err:
            raise RunConfigError(f"generator: {err}") from None
        except (TypeError, ValueError) as err:
            raise RunConfigError(str(err)) from None
        try:
            return cls(**values)
        except TypeError as err:
            raise RunConfigError(str(err)) from None

    def replace(self, **changes: Any) -> "RunConfig":
        """A validated copy. Nested fields accept dotted names: ``model.depth=3``,
        ``generator.width=128``, ``normalise.method='zscore'``."""
        flat: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            if "." in key:
                head, tail = key.split(".", 1)
                if head not in ("model", "generator", "normalise", "real"):
                    raise RunConfigError(
                        f"unknown option {key!r} (dotted names exist for model., generator., normalise., real.)"
                    )
                nested.setdefault(head, {})[tail] = value
            else:
                flat[key] = value
        _check_names(flat)
        try:
            if "model" in nested:
                flat["model"] = flat.get("model", self.model).replace(**nested["model"])
            if "generator" in nested:
                flat["generator"] = flat.get("generator", self.generator).replace(**nested["generator"])
            if "normalise" in nested:
                base = flat.get("normalise", self.normalise)
                flat["normalise"] = Normalisation.from_dict({**base.to_dict(), **nested["normalise"]})
            if "real" in nested:
                base = flat.get("real", self.real)
                if base is None:
                    raise RunConfigError("real.*: no real data configured (give --real DIR first)")
                flat["real"] = RealMixing.from_dict({**base.to_dict(), **nested["real"]})
        except RunConfigError:
            raise
        except ConfigError as err:
            raise RunConfigError(f"generator.{err}") from None
        except (TypeError, ValueError) as err:
            raise RunConfigError(str(err)) from None
        return dataclasses.replace(self, **flat)

    def to_json(self, path: str | os.PathLike) -> None:
        """Writes ``config.json`` atomically."""
        write_json_atomic(path, self.to_dict())


def _ridge_scale(sigma: float, halfwidth: float, psf: float) -> float:
    """The scale (pixels) at which a ridge detector's normalised response ``s^1.5 |f''(0)|`` peaks
    on a line whose cross-section is a Gaussian of ``sigma`` cut at ``+-halfwidth`` and blurred
    by a Gaussian PSF of ``psf``: the width `jaxaxon.calibrate.structures` measures on such a line.

    ``f''(0)`` is closed-form (the cut Gaussian times the second derivative of the smoothing
    Gaussian integrates to error functions); the peak is found on a logarithmic grid relative to
    ``hypot(sigma, psf)`` and ``hypot(halfwidth, psf)`` and refined by a parabola in ``log s``,
    so the result scales exactly with its arguments. An uncut line gives ``hypot(sigma, psf)``;
    a flat bar of half-width ``t`` (no PSF) ``sqrt(2/3) t``.
    """
    ref = math.hypot(sigma, psf)
    low = 0.05 * min(ref, math.hypot(halfwidth, psf))
    log_s = np.linspace(math.log(low), math.log(4.0 * ref), 1201)
    scales = np.exp(log_s)
    smooth2 = scales**2 + psf**2  # variance of detector scale and PSF together
    v = 1.0 / (1.0 / sigma**2 + 1.0 / smooth2)
    i0 = np.sqrt(2 * np.pi * v) * erf(halfwidth / np.sqrt(2 * v))
    i2 = v * i0 - 2 * v * halfwidth * np.exp(-(halfwidth**2) / (2 * v))
    response = scales**1.5 * np.abs((i2 / smooth2**2 - i0 / smooth2) / np.sqrt(2 * np.pi * smooth2))
    k = int(np.clip(np.argmax(response), 1, len(scales) - 2))
    a, b, c = np.log(response[k - 1 : k + 2])
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    return float(np.exp(log_s[k] + float(np.clip(shift, -1, 1)) * (log_s[1] - log_s[0])))


def _mean_psf(generator: GeneratorConfig) -> float:
    """Mean PSF sigma (px) of the microscope imaging model; 0 for the other models (no blur)."""
    return sum(generator.psf_sigma) / 2 if generator.noise_model == "microscope" else 0.0


def apparent_axon_sigma(generator: GeneratorConfig) -> float:
    """The width (pixels) of an axon of median thickness in the image, as a Gaussian sigma: the
    scale at which the ridge detector of the calibration responds most (`_ridge_scale`) to its
    cross-section, a Gaussian of ``sigma_spread`` cut at the median branch thickness
    ``(MinThickness + MaxThickness) / 2``, blurred by the mean PSF sigma under the microscope
    imaging model. For thick branches this is ``hypot(sigma_spread, psf)``; for flat tubes
    (thickness well below ``sigma_spread``, e.g. calibrated vessels) it follows the thickness."""
    halfwidth = (generator.MinThickness + generator.MaxThickness) / 2
    return _ridge_scale(generator.sigma_spread, halfwidth, _mean_psf(generator))


def training_width(generator: GeneratorConfig) -> float:
    """The width (pixels, a Gaussian sigma) that `RunConfig.axon_width` sets on the training
    grid: `apparent_axon_sigma` (the tube of median thickness), or twice the apparent width of
    the thinnest tube (``MinThickness``) where that is smaller. Tubes of widely varying width
    (flat calibrated vessels) are then scaled by their thinnest ones, which stay at least half
    as wide as the median tube would be: their edges remain resolved on the coarser grid."""
    thinnest = _ridge_scale(generator.sigma_spread, generator.MinThickness, _mean_psf(generator))
    return min(apparent_axon_sigma(generator), 2.0 * thinnest)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` options (``--set``) as a `RunConfig.replace` mapping: values are JSON
    where they parse as JSON (numbers, lists, booleans), else plain strings.

    Raises:
      RunConfigError: an item without ``=`` or without a key, a JSON value with a duplicate
        key, or an integer too long for Python to convert.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise RunConfigError(f"--set expects KEY=VALUE, got {brief(item)}")
        try:
            json.loads(text, object_pairs_hook=list)
        except (json.JSONDecodeError, RecursionError):
            out[key] = text
            continue
        except ValueError:  # an integer with more digits than Python converts
            raise RunConfigError(f"--set {brief(key, quote=False)}: {brief(text)} is too large a number") from None
        out[key] = loads_json(text, RunConfigError, f"--set {brief(key, quote=False)}")
    return out


def read_run_config(path: str | os.PathLike) -> RunConfig:
    """Reads a run's ``config.json`` (clear `RunConfigError` when missing or invalid)."""
    path = Path(path)
    if not path.exists():
        raise RunConfigError(f"{path}: no run configuration here (is this a jaxaxon training directory?)")
    data = read_json(path, RunConfigError, "the run configuration")
    try:
        return RunConfig.from_dict(data)
    except RunConfigError as err:
        raise RunConfigError(f"{path}: {err}") from None


def _check_names(keys) -> None:
    check_keys(keys, RunConfig, RunConfigError, noun="option")


# --- cross-field rules (run once every field is valid) -----------------------------------


def _loss_fits_model(cfg: RunConfig) -> str | None:
    if cfg.segmentation and cfg.loss == "mse":
        return "loss: 'mse' is the autoencoder's loss; a U-Net uses dice, bce or dice+bce"
    if not cfg.segmentation and cfg.loss != "mse":
        return f"loss: the autoencoder is trained with 'mse', got {cfg.loss!r}"
    return None


def _warmup_fits(cfg: RunConfig) -> str | None:
    if cfg.schedule == "warmup_cosine" and cfg.warmup_steps >= cfg.steps:
        return f"warmup_steps: {cfg.warmup_steps} must be below steps ({cfg.steps})"
    return None


def _image_fits_model(cfg: RunConfig) -> str | None:
    multiple = 2**cfg.model.depth
    h, w = cfg.generator.shape
    if h % multiple or w % multiple:
        return (
            f"generator: image size {h}x{w} must be divisible by 2**model.depth = {multiple} "
            "(validation uses whole images)"
        )
    return None


def _crop_fits(cfg: RunConfig) -> str | None:
    multiple = 2**cfg.model.depth
    h, w = cfg.generator.shape
    if cfg.crop > min(h, w):
        return f"crop: {cfg.crop} exceeds the generated image size {h}x{w}"
    if cfg.crop % multiple:
        return f"crop: {cfg.crop} must be divisible by 2**model.depth = {multiple}"
    return None


def _batch_of_whole_images(cfg: RunConfig) -> str | None:
    if cfg.batch_size % cfg.tiles_per_image:
        h, w = cfg.generator.shape
        return (
            f"batch_size: {cfg.batch_size} must be a multiple of the {cfg.tiles_per_image} tiles of "
            f"{cfg.crop}x{cfg.crop} cut from each {h}x{w} image"
        )
    return None


def _real_fits_run(cfg: RunConfig) -> str | None:
    real = cfg.real
    if real is None:
        return None
    if not cfg.segmentation:
        return "real: mixing real images applies to segmentation runs (the autoencoder has no targets for real images)"
    if real.bouton_targets != "none" and "bouton" not in cfg.model.heads:
        return (
            f"real.bouton_targets: {real.bouton_targets!r} trains a bouton head, but the heads are "
            f"{', '.join(cfg.model.heads)} (add one: --heads axon,bouton)"
        )
    n = real.count(cfg.batch_size)
    if real.share > 0 and n == 0:
        return (
            f"real.share: {real.share:g} of a batch of {cfg.batch_size} rounds to no real crop per step "
            f"(use at least {0.5 / cfg.batch_size:.3g}, or a larger batch)"
        )
    if real.share < 1 and n == cfg.batch_size:
        return (
            f"real.share: {real.share:g} of a batch of {cfg.batch_size} rounds to real crops only "
            "(use 1 for real data only, or a smaller share)"
        )
    return None


_RULES = (_loss_fits_model, _warmup_fits, _image_fits_model, _crop_fits, _batch_of_whole_images, _real_fits_run)
