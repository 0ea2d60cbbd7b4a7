"""The benchmark suite behind ``jaxaxon bench``: settings, and `run_suite`, a loop over the
sections of `jaxaxon.bench.sections.REGISTRY` (``SECTIONS``, in order) into one JSON result.

Every timed figure is the median of repeated runs after a warm-up, with
``block_until_ready``; compile time is reported apart. A failing workload is recorded with
its error and the suite goes on.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax

from jaxaxon.bench import SECTIONS
from jaxaxon.bench.sections import REGISTRY, Context, static_sizes, stage_shares
from jaxaxon.bench.timing import device_info, load_average
from jaxaxon.config import ConfigError, GeneratorConfig
from jaxaxon.suggest import did_you_mean

__all__ = [
    "SuiteSettings",
    "QUICK",
    "FULL",
    "SECTIONS",
    "ORIGINAL_OCTAVE_SECONDS",
    "run_suite",
    "with_settings",
    "static_sizes",
    "stage_shares",
]


# The original MATLAB generator under GNU Octave 7.3 on a 2-core CPU, seconds per item (the
# original's reference statistics, "seconds_per_item_octave"): the baseline of the report's
# speed-up figures.
ORIGINAL_OCTAVE_SECONDS = {
    "single_image_median": 18.1,
    "single_image_range": [2.5, 111.6],
    "series_median": 21.6,
    "series_range": [12.8, 130.3],
}


@dataclasses.dataclass(frozen=True)
class SuiteSettings:
    """What the suite runs.

    Attributes:
      name: label stored in the result.
      batches: complete-generator batch sizes at the base image size.
      sizes: image sides (square images) of the size sweep.
      pixels_per_call: size sweep batch ``max(1, pixels_per_call // side**2)``.
      stage_sizes: sides at which every stage is timed (size sweep batch).
      stage_batches: batch sizes at which every stage is timed (base size).
      series_batch: series per call.
      dataset_n: examples per timed dataset run (0 skips the section).
      dataset_batch: dataset batch / chunk size.
      dataset_repeats: timed dataset runs.
      training_presets: training presets timed (`jaxaxon.bench.training`).
      training_dtypes: model compute dtypes of the training section.
      training_steps: training steps per timing round.
      training_rounds: interleaved timing rounds (median reported).
      training_batch: training examples per step (0: each preset's own; on a CPU the
        'original' preset takes `jaxaxon.bench.training.CPU_ORIGINAL_BATCH`). The training
        step generates images of the suite's base config.
      training_dataset_steps: the training section also times the step fed from a dataset
        on disk (``jaxaxon train --data``) of this many steps' images of the base config,
        written in chunks of ``dataset_batch`` (0: not timed).
      mixing_preset: training preset of the mixing section.
      mixing_shares: real shares timed by the mixing section (empty: skipped).
      mixing_images: random real images of the mixing section.
      mixing_size: their side in pixels.
      scaling_devices: device counts of the scaling section.
      scaling_per_device_batch: images per device per call on accelerators (CPU devices
        take `jaxaxon.bench.scaling.CPU_PER_DEVICE_BATCH`).
      memory_batches: batch sizes compiled (not run) for the memory analysis.
      memory_budget_batch: the batch that must fit ``memory_budget_bytes``.
      memory_budget_bytes: device memory budget of that batch.
      bandwidth_bytes: array size of the bandwidth measurement.
      repeats: timed runs per figure (median reported).
      warmup: untimed runs after compiling.
    """

    name: str
    batches: tuple[int, ...]
    sizes: tuple[int, ...]
    pixels_per_call: int
    stage_sizes: tuple[int, ...]
    stage_batches: tuple[int, ...]
    series_batch: int
    dataset_n: int
    dataset_batch: int
    dataset_repeats: int
    training_presets: tuple[str, ...]
    training_steps: int
    training_rounds: int
    scaling_devices: tuple[int, ...]
    scaling_per_device_batch: int
    memory_batches: tuple[int, ...]
    training_batch: int = 0
    training_dataset_steps: int = 8
    training_dtypes: tuple[str, ...] = ("float32",)
    mixing_preset: str = "quick"
    mixing_shares: tuple[float, ...] = (0.0, 0.25, 1.0)
    mixing_images: int = 8
    mixing_size: int = 512
    presets: tuple[str, ...] = ("original", "realistic", "randomised")
    memory_budget_batch: int = 1024
    memory_budget_bytes: int = 8 * 10**9
    bandwidth_bytes: int = 256 * 2**20
    repeats: int = 5
    warmup: int = 1


QUICK = SuiteSettings(
    name="quick",
    batches=(1, 8, 32),
    sizes=(128, 256, 512, 1024),
    pixels_per_call=8 * 256 * 256,
    stage_sizes=(256,),
    stage_batches=(8, 32),
    series_batch=2,
    dataset_n=64,
    dataset_batch=32,
    dataset_repeats=3,
    training_presets=("quick",),
    training_steps=3,
    training_rounds=3,
    scaling_devices=(1, 8),
    scaling_per_device_batch=64,
    memory_batches=(8, 128, 1024),
    repeats=3,
)

FULL = SuiteSettings(
    name="full",
    batches=(1, 4, 16, 32, 64, 128),
    sizes=(128, 256, 512, 1024),
    pixels_per_call=32 * 256 * 256,
    stage_sizes=(128, 256, 512, 1024),
    stage_batches=(1, 8, 32, 128),
    series_batch=8,
    dataset_n=512,
    dataset_batch=32,
    dataset_repeats=3,
    training_presets=("quick", "original"),
    training_steps=3,
    training_rounds=3,
    scaling_devices=(1, 2, 4, 8),
    scaling_per_device_batch=256,
    memory_batches=(8, 32, 128, 512, 1024),
    repeats=5,
)


def with_settings(settings: SuiteSettings, items: Sequence[str]) -> SuiteSettings:
    """``settings`` with ``KEY=VALUE`` changes (tuples as comma-separated values).

    Raises:
      ConfigError: unknown key (with a suggestion) or a value of the wrong type.
    """
    fields = {f.name: str(f.type) for f in dataclasses.fields(SuiteSettings)}
    changes: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item}: expected KEY=VALUE")
        if key not in fields:
            raise ConfigError(f"--set: unknown suite setting {key!r}{did_you_mean(key, fields)}")
        kind = fields[key]
        convert = int if "int" in kind else float if "float" in kind else str
        try:
            if kind.startswith("tuple"):
                changes[key] = tuple(convert(v.strip()) for v in value.split(",") if v.strip())
            else:
                changes[key] = convert(value)
        except ValueError:
            raise ConfigError(f"--set {key}: expected {kind}, got {value!r}") from None
    return dataclasses.replace(settings, **changes)


def run_suite(
    settings: SuiteSettings = QUICK,
    cfg: GeneratorConfig | None = None,
    *,
    sections: Sequence[str] = SECTIONS,
    on_progress: Callable[[str], None] | None = None,
    workdir: str | os.PathLike | None = None,
) -> dict:
    """Runs the suite and returns its JSON-ready result.

    Args:
      settings: `QUICK`, `FULL` or custom `SuiteSettings`.
      cfg: base generator config (default: the shipped 256x256 set).
      sections: which sections to run (any of `SECTIONS`; they run in that order).
      on_progress: called with a line of text after each workload.
      workdir: where the dataset section writes its temporary datasets.

    Returns:
      A dict with ``meta`` (device, JAX version, settings, config, load averages, date,
      wall time, errors) and one key per section run.

    Raises:
      ValueError: an unknown section name.
    """
    for name in sections:
        if name not in REGISTRY:
            raise ValueError(
                f"unknown section {name!r}{did_you_mean(name, SECTIONS)}; choose from {', '.join(SECTIONS)}"
            )
    cfg = GeneratorConfig() if cfg is None else cfg
    t_start = time.perf_counter()
    ctx = Context(settings, cfg, device_info(), on_progress or (lambda _msg: None), workdir)
    result: dict[str, Any] = {
        "meta": {
            "suite": "jaxaxon bench",
            "settings": dataclasses.asdict(settings),
            "device": ctx.device,
            "config": cfg.to_dict(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "load_average_start": load_average(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "persistent_compilation_cache": bool(jax.config.jax_compilation_cache_dir),
            "original_octave_seconds": ORIGINAL_OCTAVE_SECONDS,
        }
    }
    for name in (s for s in SECTIONS if s in sections):
        record = ctx.guarded(name, lambda name=name: REGISTRY[name].run(ctx))
        if record is not None:
            result[name] = record
    result["meta"]["load_average_end"] = load_average()
    result["meta"]["wall_s"] = time.perf_counter() - t_start
    result["meta"]["errors"] = ctx.errors
    return result
