"""Run configuration: everything that defines a training run, stored as ``DIR/config.json``.

`RunConfig` is a frozen (hashable) dataclass so that the jitted programs built from it are
cached per configuration. Its JSON form (`RunConfig.to_dict`) holds the model kind and
hyper-parameters, the heads, the input normalisation, the full generator parameter set,
the image and crop sizes, the seeds and the preset name: enough to rebuild the model and
its input scaling without the code that created the run.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from jaxaxon.config import ConfigError, GeneratorConfig
from jaxaxon.models.config import ModelConfig
from jaxaxon.train.normalise import Normalisation

__all__ = [
    "RunConfig",
    "RunConfigError",
    "RealMixing",
    "LOSSES",
    "SCHEDULES",
    "AE_TARGETS",
    "BOUTON_TARGETS",
    "read_run_config",
    "write_json_atomic",
]

LOSSES = ("dice", "bce", "dice+bce", "mse")
SCHEDULES = ("constant", "warmup_cosine")
AE_TARGETS = ("clean", "image")
BOUTON_TARGETS = ("none", "disc", "gaussian")
FORMAT = "jaxaxon-run"


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
    share: float = 0.0
    include: tuple[str, ...] = ()
    bouton_targets: str = "none"
    bouton_radius: float = 0.0
    flips: bool = True
    rot90: bool = True
    n_images: int = 0
    fingerprint: str = ""

    def __post_init__(self) -> None:
        for key in ("paths", "include"):
            value = getattr(self, key)
            if isinstance(value, str):
                value = (value,)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
                raise RunConfigError(f"real.{key}: expected a list of non-empty strings, got {value!r}")
            object.__setattr__(self, key, tuple(value))
        if not self.paths:
            raise RunConfigError("real.paths: no real data given (--real DIR)")
        share = self.share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            raise RunConfigError(f"real.share: expected a fraction of the batch in 0..1, got {share!r}")
        object.__setattr__(self, "share", float(share))
        if self.bouton_targets not in BOUTON_TARGETS:
            close = difflib.get_close_matches(str(self.bouton_targets), BOUTON_TARGETS, n=1)
            raise RunConfigError(
                f"real.bouton_targets: unknown value {self.bouton_targets!r} (choose one of {', '.join(BOUTON_TARGETS)})"
                + (f"; did you mean {close[0]!r}?" if close else "")
            )
        r = self.bouton_radius
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r <= 1000.0:
            raise RunConfigError(f"real.bouton_radius: expected pixels in 0..1000 (0 = automatic), got {r!r}")
        for key in ("flips", "rot90"):
            if not isinstance(getattr(self, key), bool):
                raise RunConfigError(f"real.{key}: expected true or false, got {getattr(self, key)!r}")
        if isinstance(self.n_images, bool) or not isinstance(self.n_images, int) or self.n_images < 0:
            raise RunConfigError(f"real.n_images: expected a non-negative integer, got {self.n_images!r}")
        if not isinstance(self.fingerprint, str):
            raise RunConfigError(f"real.fingerprint: expected a string, got {self.fingerprint!r}")

    def count(self, batch_size: int) -> int:
        """Real crops in a batch of ``batch_size`` examples: ``round(share * batch_size)``, halves up."""
        return int(math.floor(self.share * batch_size + 0.5))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RealMixing":
        if not isinstance(data, Mapping):
            raise RunConfigError(f"real: expected an object, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                raise RunConfigError(f"unknown option 'real.{key}'" + (f"; did you mean 'real.{close[0]}'?" if close else ""))
        return cls(**data)


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
      real: labelled real images mixed into the training batches (`RealMixing`), or None.
    """

    preset: str = "custom"
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    generator: GeneratorConfig = dataclasses.field(default_factory=GeneratorConfig)
    crop: int = 0
    batch_size: int = 16
    steps: int = 1000
    seed: int = 0
    loss: str = "dice"
    dice_smooth: float = 1.0
    lr: float = 1e-3
    schedule: str = "constant"
    warmup_steps: int = 0
    end_lr_factor: float = 0.01
    clip_norm: float = 0.0
    normalise: Normalisation = dataclasses.field(default_factory=Normalisation)
    ae_target: str = "clean"
    val_images: int = 16
    val_seed: int = 1_000_003
    val_batch: int = 8
    eval_every: int = 100
    log_every: int = 10
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    init_from: str | None = None
    real: RealMixing | None = None

    def __post_init__(self) -> None:
        _validate(self)

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
                flat["normalise"] = Normalisation(**{**base.to_dict(), **nested["normalise"]})
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


def read_run_config(path: str | os.PathLike) -> RunConfig:
    """Reads a run's ``config.json`` (clear `RunConfigError` when missing or invalid)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunConfigError(f"{path}: no run configuration here (is this a jaxaxon training directory?)") from None
    except (OSError, json.JSONDecodeError) as err:
        raise RunConfigError(f"{path}: cannot read the run configuration: {err}") from None
    try:
        return RunConfig.from_dict(data)
    except RunConfigError as err:
        raise RunConfigError(f"{path}: {err}") from None


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Writes JSON to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_names(keys) -> None:
    names = [f.name for f in dataclasses.fields(RunConfig)]
    for key in keys:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            raise RunConfigError(f"unknown option {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""))


def _int_at_least(cfg: RunConfig, key: str, low: int) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise RunConfigError(f"{key}: expected an integer >= {low}, got {value!r}")


def _number(cfg: RunConfig, key: str, low: float, high: float = float("inf"), low_open: bool = False) -> None:
    value = getattr(cfg, key)
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and (low < value if low_open else low <= value)
        and value <= high
    )
    if not ok:
        bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise RunConfigError(f"{key}: expected a number in {bound}, got {value!r}")


def _choice(cfg: RunConfig, key: str, choices: tuple[str, ...]) -> None:
    value = getattr(cfg, key)
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RunConfigError(f"{key}: unknown value {value!r} (choose one of {', '.join(choices)}){hint}")


def _validate(cfg: RunConfig) -> None:
    if not isinstance(cfg.model, ModelConfig):
        raise RunConfigError("model: expected a ModelConfig")
    if not isinstance(cfg.generator, GeneratorConfig):
        raise RunConfigError("generator: expected a GeneratorConfig")
    if not isinstance(cfg.normalise, Normalisation):
        raise RunConfigError("normalise: expected a Normalisation")
    for key, low in (("crop", 0), ("batch_size", 1), ("steps", 1), ("seed", 0), ("warmup_steps", 0), ("val_images", 1),
                     ("val_seed", 0), ("val_batch", 1), ("eval_every", 1), ("log_every", 1), ("checkpoint_every", 1),
                     ("keep_checkpoints", 1)):  # fmt: skip
        _int_at_least(cfg, key, low)
    if cfg.seed >= 2**31 or cfg.val_seed >= 2**31:
        raise RunConfigError("seed/val_seed: must be below 2**31")
    _choice(cfg, "loss", LOSSES)
    _choice(cfg, "schedule", SCHEDULES)
    _choice(cfg, "ae_target", AE_TARGETS)
    _number(cfg, "lr", 0.0, 10.0, low_open=True)
    _number(cfg, "dice_smooth", 0.0)
    _number(cfg, "end_lr_factor", 0.0, 1.0)
    _number(cfg, "clip_norm", 0.0)
    if cfg.segmentation and cfg.loss == "mse":
        raise RunConfigError("loss: 'mse' is the autoencoder's loss; a U-Net uses dice, bce or dice+bce")
    if not cfg.segmentation and cfg.loss != "mse":
        raise RunConfigError(f"loss: the autoencoder is trained with 'mse', got {cfg.loss!r}")
    if cfg.schedule == "warmup_cosine" and cfg.warmup_steps >= cfg.steps:
        raise RunConfigError(f"warmup_steps: {cfg.warmup_steps} must be below steps ({cfg.steps})")
    multiple = 2**cfg.model.depth
    h, w = cfg.generator.shape
    if h % multiple or w % multiple:
        raise RunConfigError(
            f"generator: image size {h}x{w} must be divisible by 2**model.depth = {multiple} (validation uses whole images)"
        )
    if cfg.crop:
        if cfg.crop > min(h, w):
            raise RunConfigError(f"crop: {cfg.crop} exceeds the generated image size {h}x{w}")
        if cfg.crop % multiple:
            raise RunConfigError(f"crop: {cfg.crop} must be divisible by 2**model.depth = {multiple}")
    if cfg.batch_size % cfg.tiles_per_image:
        raise RunConfigError(
            f"batch_size: {cfg.batch_size} must be a multiple of the {cfg.tiles_per_image} tiles of {cfg.crop}x{cfg.crop} "
            f"cut from each {h}x{w} image"
        )
    if cfg.real is not None:
        _validate_real(cfg)


def _validate_real(cfg: RunConfig) -> None:
    real = cfg.real
    if not isinstance(real, RealMixing):
        raise RunConfigError("real: expected a RealMixing")
    if not cfg.segmentation:
        raise RunConfigError(
            "real: mixing real images applies to segmentation runs (the autoencoder has no targets for real images)"
        )
    if real.bouton_targets != "none" and "bouton" not in cfg.model.heads:
        raise RunConfigError(
            f"real.bouton_targets: {real.bouton_targets!r} trains a bouton head, but the heads are "
            f"{', '.join(cfg.model.heads)} (add one: --heads axon,bouton)"
        )
    n = real.count(cfg.batch_size)
    if real.share > 0 and n == 0:
        raise RunConfigError(
            f"real.share: {real.share:g} of a batch of {cfg.batch_size} rounds to no real crop per step "
            f"(use at least {0.5 / cfg.batch_size:.3g}, or a larger batch)"
        )
    if real.share < 1 and n == cfg.batch_size:
        raise RunConfigError(
            f"real.share: {real.share:g} of a batch of {cfg.batch_size} rounds to real crops only "
            "(use 1 for real data only, or a smaller share)"
        )
