"""Named training presets (`jaxaxon train --preset NAME`).

- ``quick``: the README's main command; finishes within 10 minutes on a 2-core CPU.
- ``original``: the original study's settings (nano U-Net, Adam 1e-5, batch 64, 128x128
  inputs, negative soft Dice, 40 epochs of 26,200 images).
- ``unet``: a stronger configurable U-Net for an accelerator.
- ``real``: synthetic-only training on a calibrated parameter file (`jaxaxon calibrate`,
  then ``--params``): both heads when the file draws boutons, at a training grid where the
  axons are 1.5 px wide (the run records the factor; evaluate/predict resample by it);
  within 30 minutes on a 2-core CPU.
- ``ae-quick`` / ``ae-original``: autoencoder pre-training whose encoder fits ``quick`` /
  ``original`` (continue with ``--preset quick|original --init-from DIR``).
"""

from __future__ import annotations

from typing import Callable

from jaxaxon.config import GeneratorConfig
from jaxaxon.models.config import ModelConfig
from jaxaxon.train.config import RunConfig, RunConfigError
from jaxaxon.validation import unknown_choice

__all__ = ["PRESETS", "get_preset", "preset_names", "with_generator"]


def _original() -> RunConfig:
    # 40 epochs over the study's 26,200 images at batch 64 = 16,375 steps; 128x128 inputs
    # are the 4 tiles of each shipped 256x256 image.
    return RunConfig(
        preset="original",
        model=ModelConfig(),
        generator=GeneratorConfig(),
        crop=128,
        batch_size=64,
        steps=16_375,
        loss="dice",
        lr=1e-5,
        schedule="constant",
        clip_norm=0.0,
        val_images=64,
        val_batch=16,
        eval_every=500,
        log_every=50,
        checkpoint_every=500,
    )


def _quick() -> RunConfig:
    # The nano U-Net's layout (5x5 kernels, one convolution per level, dropout 0.3 on the
    # bottleneck) at half width (16-32-64), the original's soft Dice loss, on 64x64 tiles of
    # the shipped 256x256 images: 2 images = 32 tiles per step. Sized to finish within 10
    # minutes on a 2-core CPU shared with other work.
    return _original().replace(
        preset="quick",
        model=ModelConfig(base_width=16),
        crop=64, batch_size=32, steps=100, lr=3e-3, schedule="warmup_cosine", warmup_steps=10, clip_norm=1.0,
        val_images=16, val_batch=8, eval_every=20, log_every=5, checkpoint_every=20,
    )  # fmt: skip


def _real() -> RunConfig:
    # The quick network with both heads and the Dice + cross-entropy loss, on 96x96 tiles
    # of 256x256 images rescaled so that axons are 1.5 px wide (apparent sigma; the thinnest
    # tubes at least 0.75 px, `training_width`): a real image of the calibration's microscope
    # is resampled by the same factor before the network sees it. The parameter file is the
    # run's --params (default: the realistic preset).
    return _quick().replace(
        preset="real",
        model=ModelConfig(base_width=16, heads=("axon", "bouton")),
        generator=GeneratorConfig.from_preset("realistic"),
        axon_width=1.5,
        crop=96, batch_size=16, steps=600, loss="dice+bce", lr=2e-3, warmup_steps=30,
        val_images=16, val_batch=8, eval_every=100, log_every=10, checkpoint_every=100,
    )  # fmt: skip


def _unet() -> RunConfig:
    return _original().replace(
        preset="unet",
        model=ModelConfig(
            depth=4, base_width=32, convs_per_level=2, kernel_size=3, norm="group", dropout=0.1, kernel_init="he_normal"
        ),
        steps=20_000, loss="dice+bce", lr=1e-3, schedule="warmup_cosine", warmup_steps=500, clip_norm=1.0,
    )  # fmt: skip


def _autoencoder(base: RunConfig, name: str, steps: int) -> RunConfig:
    return base.replace(
        preset=name,
        model=base.model.replace(kind="autoencoder"),
        loss="mse",
        steps=steps,
        warmup_steps=min(base.warmup_steps, steps - 1),
    )


def _ae_quick() -> RunConfig:
    # 3e-3 lets the denoising autoencoder collapse to an all-zero output (dead ReLUs in the
    # encoder, useless for initialisation); 1e-3 learns
    return _autoencoder(_quick(), "ae-quick", 200).replace(lr=1e-3)


def _ae_original() -> RunConfig:
    # the study's pre-training settings are not documented; a faster rate than 1e-5 makes
    # the pre-training worth its cost
    return _autoencoder(_original(), "ae-original", 5_000).replace(lr=1e-4)


PRESETS: dict[str, Callable[[], RunConfig]] = {
    "quick": _quick,
    "original": _original,
    "unet": _unet,
    "real": _real,
    "ae-quick": _ae_quick,
    "ae-original": _ae_original,
}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> RunConfig:
    """The `RunConfig` of a preset; an unknown name raises `RunConfigError`."""
    if name not in PRESETS:
        raise RunConfigError(unknown_choice(name, list(PRESETS), "preset"))
    return PRESETS[name]()


def with_generator(rc: RunConfig, generator: GeneratorConfig, *, heads_given: bool = False) -> RunConfig:
    """``rc`` with other generator parameters (``--params``). For the ``real`` preset
    without explicit heads, the bouton head is dropped when the parameters draw no boutons."""
    if rc.preset == "real" and not heads_given and generator.MaxNbBouton == 0:
        return rc.replace(generator=generator, **{"model.heads": ["axon"]})
    return rc.replace(generator=generator)
