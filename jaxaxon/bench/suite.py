"""The benchmark suite behind ``jaxaxon bench``: every workload, one JSON result.

Sections (each a key of the result):

- ``generator_batch``: the complete generator at the base image size over batch sizes;
- ``generator_size``: the complete generator over image sizes (the base config with its
  width and height replaced, every other parameter kept), at a batch that keeps the
  pixels per call about constant, with the static sizes each size compiles to;
- ``stages``: each stage (`jaxaxon.bench.generator.STAGES`) over sizes and batch sizes;
- ``series``: the time-series generator;
- ``dataset``: `jaxaxon.data.write_dataset` end to end against generation only;
- ``training``: one training step with on-the-fly generation against pre-generated
  batches (a 'skipped' record while the training code is absent);
- ``scaling``: sharded generation over devices (virtual CPU devices in a subprocess when
  the backend is a single CPU device);
- ``memory``: the compiled program's memory over batch sizes (compile only) and its
  largest arrays;
- ``roofline``: bytes per image against the measured streaming bandwidth.

Every timed figure is the median of repeated runs after a warm-up, with
``block_until_ready``; compile time is reported apart; peak memory per workload from the
device's statistics where the backend has them, else the process RSS sampled while the
workload ran. A failing workload is recorded with its error and the suite goes on.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time
import traceback
from typing import Any, Callable

import jax

from jaxaxon.bench import SECTIONS
from jaxaxon.bench import generator as gen_bench
from jaxaxon.bench.memory import compiled_memory, largest_arrays, linear_fit
from jaxaxon.bench.timing import Timing, device_info, load_average
from jaxaxon.config import ConfigError, GeneratorConfig

__all__ = [
    "SuiteSettings",
    "QUICK",
    "FULL",
    "SECTIONS",
    "ORIGINAL_OCTAVE_SECONDS",
    "run_suite",
    "static_sizes",
    "stage_shares",
]


# The original MATLAB generator under GNU Octave 7.3 on this project's 2-core CPU, seconds per
# item (../shared/reference/original_stats.json, "seconds_per_item_octave").
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
      training_steps: training steps per timing round.
      training_rounds: interleaved timing rounds (median reported).
      training_batch: training examples per step (0: each preset's own; on a CPU the
        'original' preset takes `jaxaxon.bench.training.CPU_ORIGINAL_BATCH`). The training
        step generates images of the suite's base config.
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


def static_sizes(cfg: GeneratorConfig) -> dict:
    """The static sizes a config compiles to (what grows with the image size)."""
    from jaxaxon.synth.cells import canvas_halfsize
    from jaxaxon.synth.imaging.original import poisson_table
    from jaxaxon.synth.series import series_geometry

    canvas, view, _ = series_geometry(cfg)
    return {
        "max_walk_steps": cfg.max_walk_steps,
        "branch_slots": cfg.max_branches,
        "branch_candidates": cfg.branch_candidates,
        "spline_points": cfg.NSplinePoints,
        "raster_halfwidth": cfg.raster_halfwidth,
        "cell_canvas_side": 2 * canvas_halfsize(cfg) + 1,
        "poisson_thresholds": int(poisson_table(cfg.lambdaMin, cfg.lambdaMax).shape[1]),
        "series_canvas": list(canvas.shape),
        "series_view": list(view.shape),
    }


class _Runner:
    """Runs workloads, records errors and progress, caches timings by (config, batch)."""

    def __init__(self, settings: SuiteSettings, on_progress: Callable[[str], None] | None):
        self.settings = settings
        self.on_progress = on_progress or (lambda _msg: None)
        self.errors: list[str] = []
        self.generator_timings: dict[tuple[GeneratorConfig, int], dict] = {}

    def say(self, message: str) -> None:
        self.on_progress(message)

    def timing_record(self, timing: Timing, **extra: Any) -> dict:
        record = {**extra, **timing.as_dict(), "load_average": load_average()}
        record["ms_per_item"] = 1e3 * timing.median_s / timing.items
        return record

    def guarded(self, label: str, fn: Callable[[], dict]) -> dict:
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - one failing workload must not lose the others
            self.errors.append(f"{label}: {type(err).__name__}: {err}")
            self.say(f"{label}: FAILED ({type(err).__name__}: {err})")
            return {
                "status": "error",
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=5),
            }

    def generator(self, cfg: GeneratorConfig, batch: int, label: str) -> dict:
        key = (cfg, batch)
        if key not in self.generator_timings:

            def run() -> dict:
                t = gen_bench.time_generator(cfg, batch, self.settings.repeats)
                return self.timing_record(t, batch=batch, image_shape=list(cfg.shape))

            self.generator_timings[key] = self.guarded(label, run)
            record = self.generator_timings[key]
            if "items_per_s" in record:
                self.say(f"{label}: {record['items_per_s']:.1f} images/s (compile {record['compile_s']:.1f} s)")
        return self.generator_timings[key]


def _sized(cfg: GeneratorConfig, side: int) -> GeneratorConfig:
    return cfg.replace(width=side, height=side)


def _size_batch(settings: SuiteSettings, side: int) -> int:
    return max(1, settings.pixels_per_call // (side * side))


def run_suite(
    settings: SuiteSettings = QUICK,
    cfg: GeneratorConfig | None = None,
    *,
    sections: tuple[str, ...] = SECTIONS,
    on_progress: Callable[[str], None] | None = None,
    workdir: str | os.PathLike | None = None,
) -> dict:
    """Runs the suite and returns its JSON-ready result.

    Args:
      settings: `QUICK`, `FULL` or custom `SuiteSettings`.
      cfg: base generator config (default: the shipped 256x256 set).
      sections: which sections to run (`SECTIONS`).
      on_progress: called with a line of text after each workload.
      workdir: where the dataset section writes its temporary datasets.

    Returns:
      A dict with ``meta`` (device, JAX version, settings, config, load averages, date,
      wall time, errors) and one key per section run.
    """
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    cfg = GeneratorConfig() if cfg is None else cfg
    runner = _Runner(settings, on_progress)
    t_start = time.perf_counter()
    info = device_info()
    result: dict[str, Any] = {
        "meta": {
            "suite": "jaxaxon bench",
            "settings": dataclasses.asdict(settings),
            "device": info,
            "config": cfg.to_dict(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "load_average_start": load_average(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "persistent_compilation_cache": bool(jax.config.jax_compilation_cache_dir),
            "original_octave_seconds": ORIGINAL_OCTAVE_SECONDS,
        }
    }
    base_side = cfg.height if cfg.height == cfg.width else None

    if "generator_batch" in sections:
        rows = [runner.generator(cfg, b, f"generator {cfg.height}x{cfg.width} batch {b}") for b in settings.batches]
        result["generator_batch"] = {"image_shape": list(cfg.shape), "rows": rows}

    if "presets" in sections:
        result["presets"] = _presets_section(cfg, settings, runner)

    if "generator_size" in sections:
        rows = []
        for side in settings.sizes:
            try:
                sized = _sized(cfg, side)
            except ConfigError as err:
                rows.append({"size": side, "status": "invalid", "reason": str(err)})
                runner.say(f"size {side}: not a valid size for this config ({err})")
                continue
            batch = _size_batch(settings, side)
            record = dict(runner.generator(sized, batch, f"generator {side}x{side} batch {batch}"))
            record.update(size=side, static_sizes=static_sizes(sized))
            if "items_per_s" in record:
                record["megapixels_per_s"] = record["items_per_s"] * side * side / 1e6
            rows.append(record)
        result["generator_size"] = {"pixels_per_call": settings.pixels_per_call, "rows": rows}

    if "stages" in sections:
        points = [(side, _size_batch(settings, side)) for side in settings.stage_sizes]
        points += [(base_side or cfg.height, b) for b in settings.stage_batches]
        rows = []
        for side, batch in dict.fromkeys(points):
            try:
                sized = cfg if side == base_side else _sized(cfg, side)
            except ConfigError as err:
                rows.append({"size": side, "status": "invalid", "reason": str(err)})
                continue
            for stage in gen_bench.STAGES:
                label = f"stage {stage} {side}x{side} batch {batch}"

                def run(stage=stage, sized=sized, batch=batch, side=side) -> dict:
                    t = gen_bench.time_stage(stage, sized, batch, settings.repeats)
                    return runner.timing_record(t, stage=stage, size=side, batch=batch)

                record = runner.guarded(label, run)
                record.setdefault("stage", stage)
                record.setdefault("size", side)
                record.setdefault("batch", batch)
                rows.append(record)
                if "items_per_s" in record:
                    runner.say(f"{label}: {record['items_per_s']:.1f} images/s")
        result["stages"] = {"labels": gen_bench.STAGE_LABELS, "rows": rows}
        result["stages"]["shares"] = stage_shares(result)

    if "series" in sections:

        def run_series() -> dict:
            t = gen_bench.time_series(cfg, settings.series_batch, settings.repeats)
            record = runner.timing_record(
                t, batch=settings.series_batch, frames=cfg.NbImages, image_shape=list(cfg.shape)
            )
            record["frames_per_s"] = record["items_per_s"] * cfg.NbImages
            return record

        result["series"] = runner.guarded("series", run_series)
        if "items_per_s" in result["series"]:
            runner.say(f"series batch {settings.series_batch}: {result['series']['items_per_s']:.2f} series/s")

    if "dataset" in sections and settings.dataset_n > 0:
        from jaxaxon.bench.dataset import run_dataset_benchmark

        runner.generator(
            cfg, settings.dataset_batch, f"generator {cfg.height}x{cfg.width} batch {settings.dataset_batch}"
        )
        result["dataset"] = runner.guarded(
            "dataset",
            lambda: run_dataset_benchmark(
                cfg, settings.dataset_n, settings.dataset_batch, repeats=settings.dataset_repeats, workdir=workdir
            ),
        )
        if "examples_per_s" in result["dataset"]:
            rates = result["dataset"]["examples_per_s"]
            runner.say(
                f"dataset: write {rates['write_dataset']:.1f} vs generator {rates['generator_only']:.1f} images/s"
            )

    if "training" in sections:
        from jaxaxon.bench.training import time_training

        result["training"] = runner.guarded(
            "training",
            lambda: time_training(
                settings.training_presets,
                settings.training_steps,
                settings.training_rounds,
                batch=settings.training_batch or None,
                generator=cfg,
            ),
        )
        for row in result["training"].get("rows", []):
            runner.say(
                f"training {row['name']}: {row['onfly_steps_per_s']:.2f} steps/s on the fly, "
                f"{row['pregen_steps_per_s']:.2f} pre-generated (generation {row['generation_overhead_fraction']:.0%})"
            )
        if "rows" not in result["training"]:
            runner.say(f"training: {result['training'].get('status')}")

    if "scaling" in sections:
        from jaxaxon.bench import scaling as scaling_bench

        def run_scaling() -> dict:
            counts = tuple(settings.scaling_devices)
            cpu = jax.default_backend() == "cpu"
            batch = scaling_bench.CPU_PER_DEVICE_BATCH if cpu else settings.scaling_per_device_batch
            if jax.device_count() > 1:
                out = scaling_bench.scaling(cfg, batch, counts, settings.repeats)
                out["virtual_cpu_devices"] = 0
            elif not cpu:
                return {"status": "skipped", "reason": f"one {info['device_kind']} device only"}
            else:
                out = scaling_bench.run_in_subprocess(cfg, batch, counts, settings.repeats)
            if cpu:
                out["note"] = scaling_bench.CPU_BATCH_NOTE
            return out

        result["scaling"] = runner.guarded("scaling", run_scaling)
        for row in result["scaling"].get("rows", []):
            if "items_per_s" in row:
                runner.say(
                    f"scaling {row['devices']} devices: {row['items_per_s']:.1f} images/s, "
                    f"efficiency {row['efficiency']:.2f}"
                )

    if "memory" in sections:
        result["memory"] = runner.guarded("memory", lambda: _memory_section(cfg, settings, runner))

    if "roofline" in sections:
        result["roofline"] = runner.guarded("roofline", lambda: _roofline_section(cfg, settings, runner, info))

    result["meta"]["load_average_end"] = load_average()
    result["meta"]["wall_s"] = time.perf_counter() - t_start
    result["meta"]["errors"] = runner.errors
    return result


def _presets_section(cfg: GeneratorConfig, settings: SuiteSettings, runner: _Runner) -> dict:
    """The complete generator under each named preset at the base size and largest batch.

    The ratio to the 'original' preset is the cost of the imaging model and of the drawn
    ranges (issue 10's target: 'randomised' within 2x of 'original').
    """
    batch = max(settings.batches)
    rows = []
    for name in settings.presets:
        try:
            preset_cfg = GeneratorConfig.from_preset(name).replace(width=cfg.width, height=cfg.height)
        except ConfigError as err:
            rows.append({"preset": name, "status": "invalid", "reason": str(err)})
            continue
        record = dict(runner.generator(preset_cfg, batch, f"preset {name} {cfg.height}x{cfg.width} batch {batch}"))
        rows.append({"preset": name, **record})
    base = next((r for r in rows if r["preset"] == "original" and "items_per_s" in r), None)
    for r in rows:
        if base is not None and "items_per_s" in r:
            r["relative_to_original"] = r["items_per_s"] / base["items_per_s"]
    return {"image_shape": list(cfg.shape), "batch": batch, "rows": rows}


def _memory_section(cfg: GeneratorConfig, settings: SuiteSettings, runner: _Runner) -> dict:
    from jaxaxon.synth.image import _generate_jit, as_key, start_index_array

    key, start = as_key(0), start_index_array(0)
    rows, first_compiled = [], None
    for batch in settings.memory_batches:
        t0 = time.perf_counter()
        compiled = _generate_jit.lower(key, cfg, batch, start).compile()
        info = compiled_memory(compiled)
        if first_compiled is None:
            first_compiled = (batch, compiled)
        if info is None:
            return {"status": "skipped", "reason": "this backend gives no memory analysis"}
        rows.append({"batch": batch, "compile_s": time.perf_counter() - t0, **info})
        runner.say(f"memory batch {batch}: {info['total_bytes'] / 1e6:.1f} MB (compiled, not run)")
    out: dict[str, Any] = {"image_shape": list(cfg.shape), "rows": rows}
    if len(rows) >= 2:
        batches = [r["batch"] for r in rows]
        total_fit = linear_fit(batches, [r["total_bytes"] for r in rows])
        temp_fit = linear_fit(batches, [r["temp_bytes"] for r in rows])
        out["bytes_per_image_total"] = total_fit["slope"]
        out["bytes_per_image_temp"] = temp_fit["slope"]
        out["fixed_bytes"] = total_fit["intercept"]
        out["max_relative_residual"] = total_fit["max_relative_residual"]
        out["linear"] = total_fit["max_relative_residual"] < 0.05
    budget_batch = settings.memory_budget_batch
    measured = next((r for r in rows if r["batch"] == budget_batch), None)
    if measured is not None:
        need, extrapolated = measured["total_bytes"], False
    elif "bytes_per_image_total" in out:
        need, extrapolated = out["fixed_bytes"] + out["bytes_per_image_total"] * budget_batch, True
    else:
        need, extrapolated = None, None
    out["budget"] = {
        "batch": budget_batch,
        "budget_bytes": settings.memory_budget_bytes,
        "needed_bytes": need,
        "extrapolated": extrapolated,
        "fits": None if need is None else bool(need <= settings.memory_budget_bytes),
    }
    batch, compiled = first_compiled
    out["largest_arrays"] = {"batch": batch, "arrays": largest_arrays(compiled, top=10)}
    return out


def _roofline_section(cfg: GeneratorConfig, settings: SuiteSettings, runner: _Runner, info: dict) -> dict:
    from jaxaxon.bench.roofline import measure_bandwidth, roofline

    bandwidth = measure_bandwidth(settings.bandwidth_bytes, repeats=settings.repeats)
    runner.say(
        f"bandwidth: {bandwidth['device_stream_bytes_per_s'] / 1e9:.1f} GB/s device stream, "
        f"{bandwidth['host_copy_bytes_per_s'] / 1e9:.1f} GB/s host copy"
    )
    measured = [r for (c, _), r in runner.generator_timings.items() if c == cfg and "items_per_s" in r]
    best = max(measured, key=lambda r: r["items_per_s"]) if measured else None
    out = roofline(cfg, best["items_per_s"] if best else None, bandwidth, info["device_kind"])
    out["bandwidth"] = bandwidth
    out["measured_batch"] = best["batch"] if best else None
    return out


def stage_shares(result: dict) -> dict | None:
    """``{"size", "batch", "ms_per_image": {stage: ms}, "share": {stage: fraction}}`` of the
    stage timings at the base image size and the largest batch timed there (the
    ``walk_spline`` part is inside ``scene`` and left out of the sum)."""
    stages = result.get("stages", {}).get("rows", [])
    shape = result.get("meta", {}).get("config", {})
    side = shape.get("height")
    rows = [r for r in stages if r.get("size") == side and "items_per_s" in r]
    if not rows:
        return None
    batch = max(r["batch"] for r in rows)
    ms = {r["stage"]: r["ms_per_item"] for r in rows if r["batch"] == batch}
    summed = sum(v for k, v in ms.items() if k != "walk_spline")
    share = {k: v / summed for k, v in ms.items() if k != "walk_spline"} if summed else {}
    return {"size": side, "batch": batch, "ms_per_image": ms, "share": share, "sum_ms_per_image": summed}
