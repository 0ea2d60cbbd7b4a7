"""Training workloads: the step with on-the-fly generation against the same step fed
pre-generated batches and the step fed from a dataset on disk (`time_training_step`), and
with real crops mixed in (`time_mixing`).

Variants are timed in interleaved rounds after compiling everything, so that load from other
processes hits them alike. Without ``jaxaxon.train`` a 'skipped' record is returned, never a
made-up number."""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxaxon.bench.timing import MemorySampler, load_average
from jaxaxon.config import GeneratorConfig

__all__ = ["CPU_ORIGINAL_BATCH", "time_mixing", "time_training", "time_training_step", "training_available"]

# the 'original' preset on a CPU: 8 tiles of 128x128 (2 generated 256x256 images) per step,
# as its own batch of 64 is too slow for a CPU run
CPU_ORIGINAL_BATCH = 8
SKIPPED = {"status": "skipped", "reason": "training code not available (jaxaxon.train is not in this installation)"}


def training_available() -> bool:
    """True when ``jaxaxon.train`` can be imported."""
    try:
        return importlib.util.find_spec("jaxaxon.train") is not None
    except (ImportError, ValueError):
        return False


def _time(fn, n: int) -> float:
    """Seconds per call of ``fn`` over ``n`` calls (the last result is waited for)."""
    t0 = time.perf_counter()
    out = None
    for i in range(n):
        out = fn(i)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / n


def _interleaved(fns: dict[str, Callable[[int], Any]], steps: int, rounds: int) -> tuple[float, dict, int | None, str]:
    """Compiles and warms up every ``fns`` entry, then times them in interleaved rounds.

    Returns:
      ``(warm-up and compile seconds, {name: [seconds per call, one per round]}, peak bytes,
      memory source)``.
    """
    t0 = time.perf_counter()
    for fn in fns.values():
        _time(fn, 2)
    compile_s = time.perf_counter() - t0
    times: dict[str, list[float]] = {name: [] for name in fns}
    with MemorySampler() as sampler:
        for _ in range(rounds):
            for name, fn in fns.items():
                times[name].append(_time(fn, steps))
    return (compile_s, times, *sampler.peak())


def _run_config(preset: str, dtype: str, batch: int | None, generator: GeneratorConfig | None):
    """The preset with the compute dtype, batch and generator config (tiles shrunk to fit)."""
    from jaxaxon.train import get_preset

    rc = get_preset(preset)
    changes: dict = {"model.dtype": dtype}
    if generator is not None:
        changes["generator"] = generator
        if rc.crop:
            changes["crop"] = min(rc.crop, *generator.shape)
    if batch is not None:
        changes["batch_size"] = batch
    return rc.replace(**changes)


def time_training_step(
    preset: str,
    dtype: str = "float32",
    batch: int | None = None,
    steps: int = 3,
    rounds: int = 3,
    generator: GeneratorConfig | None = None,
    *,
    dataset_steps: int = 0,
    dataset_chunk: int = 32,
    workdir: str | Path | None = None,
) -> dict:
    """Times one preset's training step three (four) ways.

    ``onfly``: the run's step (`jaxaxon.train.make_train_step`; generates its batch inside);
    ``pregen``: its update alone (`Program.update`, jitted) fed batches generated beforehand
    (a pool kept on the device, cycled); ``gen``: the batch generation alone
    (`training_batch`, jitted); with ``dataset_steps``, ``data``: the run's step fed from a
    dataset on disk (``jaxaxon train --data``: Grain reading through tensorstore, shuffled,
    prefetched) of ``dataset_steps`` steps' images, written first (untimed).
    Figures: `step_figures`.

    Args:
      preset: training preset name (`jaxaxon.train.get_preset`).
      dtype: model compute dtype (``float32`` or ``bfloat16``).
      batch: training examples per step (default: the preset's).
      steps: steps per timing round.
      rounds: interleaved rounds (the median round is reported).
      generator: generator config replacing the preset's (its tiles shrink to the image
        side where the preset's are larger).
      dataset_steps: images for this many steps make the dataset of the ``data`` variant
        (0: no such variant).
      dataset_chunk: its images per written chunk (the generator batch of the writing).
      workdir: where the dataset is written (default: a temporary directory, removed after).

    Returns:
      A JSON-ready record (steps/s, images/s, overhead fractions, round times, peak memory).
    """
    rc = _run_config(preset, dtype, batch, generator)
    with tempfile.TemporaryDirectory(prefix="jaxaxon-bench-data-", dir=workdir) as tmp:
        feed = _dataset_step(rc, dataset_steps, dataset_chunk, Path(tmp)) if dataset_steps > 0 else None
        return _time_training_step(rc, preset, dtype, steps, rounds, feed)


def _dataset_step(rc, steps: int, chunk: int, root: Path):
    """The run's step fed from a dataset of ``steps`` steps' images written under ``root``."""
    from jaxaxon.data import write_dataset
    from jaxaxon.train.data_loader import fed_images_per_step, open_training_data
    from jaxaxon.train.step import make_train_step

    n = fed_images_per_step(rc) * steps
    n = chunk * -(-n // chunk)  # whole chunks
    write_dataset(root / "train.zarr", rc.generator, n, seed=1, batch_size=chunk)
    dataset, record = open_training_data(root / "train.zarr", rc)
    step = make_train_step(rc.replace(data=record), dataset=dataset)
    step.feed.stop = None  # read ahead without end: the timing calls more steps than the preset has
    return step


def _time_training_step(rc, preset: str, dtype: str, steps: int, rounds: int, data_step) -> dict:
    from jaxaxon.train.step import make_train_step, run_keys, training_batch

    train_step = make_train_step(rc)
    update = jax.jit(train_step.program.update, donate_argnums=(0, 1, 2))
    _, data_key, dropout_key = run_keys(rc.seed)
    state = {"onfly": [*train_step.init(0)], "pregen": [*train_step.init(0)]}
    gen = jax.jit(lambda k, s: training_batch(rc, k, s))
    pool = [gen(data_key, 10_000 + i) for i in range(min(steps, 4))]
    counter = {"onfly": 0, "gen": 0, "data": 0}

    def onfly(i):
        s = state["onfly"]
        counter["onfly"] += 1
        s[:] = train_step(*s, counter["onfly"])
        return s[2]["loss"]

    def pregen(i):
        s = state["pregen"]
        x, y = pool[i % len(pool)]
        s[:] = update(*s, x, y, dropout_key, i)
        return s[2]["loss"]

    def gen_only(i):
        counter["gen"] += 1
        return gen(data_key, 20_000 + counter["gen"])

    variants = {"onfly": onfly, "pregen": pregen, "gen": gen_only}
    if data_step is not None:
        state["data"] = [*data_step.init(0)]

        def data(i):
            s = state["data"]
            counter["data"] += 1  # consecutive steps: the feed reads ahead
            s[:] = data_step(*s, counter["data"])
            return s[2]["loss"]

        variants["data"] = data
    t_compile, times, peak, source = _interleaved(variants, steps, rounds)
    extra = {} if data_step is None else {"dataset_images": len(data_step.feed.batches.source)}
    return {
        "name": f"{preset} ({dtype})",
        "preset": preset,
        "dtype": dtype,
        "model": rc.model.to_dict(),
        "batch_size": rc.batch_size,
        "tile": rc.crop or rc.generator.height,
        "generated_images_per_step": rc.images_per_step,
        "generated_image_size": list(rc.generator.shape),
        **extra,
        "steps_timed": steps * rounds,
        "warmup_and_compile_s": round(t_compile, 2),
        **step_figures(times, rc.batch_size),
        "peak_bytes": peak,
        "memory_source": source,
        "load_average": load_average(),
    }


def step_figures(times: dict[str, list[float]], images: int) -> dict:
    """Rates and overhead fractions from measured round times.

    Args:
      times: seconds per call of each round for ``onfly``, ``pregen`` and ``gen``
        (median over rounds used).
      images: training examples per step.

    Returns:
      Steps/s, images/s, ``generation_overhead_fraction = 1 - pregen / onfly`` and
      ``generation_alone_fraction = gen / onfly`` (median times), and the round times; with
      a ``data`` variant (the step fed from a dataset on disk) also its steps/s, images/s and
      ``data_vs_onfly = onfly / data`` (its throughput relative to on the fly: above 1 is faster).
    """
    t = {k: statistics.median(v) for k, v in times.items()}
    data = {}
    if "data" in t:
        data = {
            "data_steps_per_s": 1 / t["data"],
            "data_images_per_s": images / t["data"],
            "data_vs_onfly": t["onfly"] / t["data"],
        }
    return {
        "onfly_steps_per_s": 1 / t["onfly"],
        "pregen_steps_per_s": 1 / t["pregen"],
        "gen_only_batches_per_s": 1 / t["gen"],
        "onfly_images_per_s": images / t["onfly"],
        "pregen_images_per_s": images / t["pregen"],
        "generation_overhead_fraction": 1 - t["pregen"] / t["onfly"],
        "generation_alone_fraction": t["gen"] / t["onfly"],
        **data,
        "round_times_s": {k: [round(x, 4) for x in v] for k, v in times.items()},
    }


def time_training(
    presets: tuple[str, ...] = ("quick",),
    steps: int = 3,
    rounds: int = 3,
    dtypes: tuple[str, ...] | str = ("float32",),
    batch: int | None = None,
    generator: GeneratorConfig | None = None,
    *,
    dataset_steps: int = 0,
    dataset_chunk: int = 32,
    workdir: str | Path | None = None,
) -> dict:
    """The suite's training section: `time_training_step` for each preset and dtype.

    Args:
      presets: training presets.
      steps, rounds, generator, dataset_steps, dataset_chunk, workdir: as `time_training_step`.
      dtypes: model compute dtypes (one name or several).
      batch: training examples per step for every preset (default: the preset's; on a CPU
        the 'original' preset runs at `CPU_ORIGINAL_BATCH`).

    Returns:
      ``{"rows": [record per preset and dtype]}``, or a 'skipped' record without ``jaxaxon.train``.
    """
    if not training_available():
        return dict(SKIPPED)
    cpu = jax.default_backend() == "cpu"
    rows = []
    for preset in presets:
        n = batch if batch is not None else (CPU_ORIGINAL_BATCH if cpu and preset == "original" else None)
        for dtype in (dtypes,) if isinstance(dtypes, str) else dtypes:
            rows.append(
                time_training_step(preset, dtype, n, steps, rounds, generator, dataset_steps=dataset_steps,
                                   dataset_chunk=dataset_chunk, workdir=workdir)  # fmt: skip
            )
    return {"rows": rows}


def _labelled_folder(root: Path, n: int, size: int) -> Path:
    """``n`` random 8-bit ``size``-pixel images with masks, as a labelled folder."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(((rng.random((size, size)) > 0.8) * 255).astype(np.uint8)).save(root / "masks" / f"{i:03d}.png")
    return root


def time_mixing(
    preset: str = "quick",
    shares: tuple[float, ...] = (0.0, 0.25, 1.0),
    *,
    batch: int | None = None,
    images: int = 8,
    size: int = 512,
    steps: int = 3,
    rounds: int = 3,
    generator: GeneratorConfig | None = None,
) -> dict:
    """Times the run's training step at each real share against the pre-generated step.

    Variants ``share=F``: the step with ``round(F * batch)`` real crops drawn on the device
    (``F = 0`` is the plain on-the-fly step); ``pregen``: `Program.update` (jitted) fed
    a batch made beforehand (the update alone, no data work: the floor). The real data are
    ``images`` random labelled images of ``size`` pixels.

    Returns:
      A JSON-ready record with ``variants``: ``{name: {real_per_step, steps_per_s,
      time_vs_pregen, round_times_s}}``, or a 'skipped' record without ``jaxaxon.train``.
    """
    if not training_available():
        return dict(SKIPPED)
    from jaxaxon.train.config import RealMixing
    from jaxaxon.train.mixing import prepare_real
    from jaxaxon.train.step import get_program, make_train_step, run_keys, training_batch, zero_metrics

    rc = _run_config(preset, "float32", batch, generator)
    _, data_key, dropout_key = run_keys(rc.seed)
    program = get_program(rc)  # the runs' program too: the real data are not part of it
    update = jax.jit(program.update, donate_argnums=(0, 1, 2))
    x, y = jax.jit(lambda k: training_batch(rc, k, 10_000))(data_key)
    variants: dict[str, tuple[Callable | None, int | None]] = {}
    with tempfile.TemporaryDirectory(prefix="jaxaxon-mixing-") as tmp:
        folder = _labelled_folder(Path(tmp) / "real", images, size)
        for share in shares:
            real = RealMixing(paths=(str(folder),), share=share)
            run, bank = prepare_real(rc.replace(real=real), log=lambda _s: None)
            variants[f"share={share:g}"] = (make_train_step(run, bank), run.real_per_step)
        variants["pregen"] = (None, None)

        def runner(name: str) -> Callable[[int], Any]:
            step_fn, _ = variants[name]
            s = [*program.init(0), zero_metrics()] if step_fn is None else [*step_fn.init(0)]

            def fn(i: int) -> Any:
                if step_fn is None:
                    s[:] = update(*s, x, y, dropout_key, i)
                else:
                    s[:] = step_fn(*s, i)
                return s[2]["loss"]

            return fn

        compile_s, times, peak, source = _interleaved({name: runner(name) for name in variants}, steps, rounds)
    return {
        "preset": preset,
        "batch_size": rc.batch_size,
        "tile": rc.crop,
        "real_images": images,
        "real_size": size,
        "steps_timed": steps * rounds,
        "warmup_and_compile_s": round(compile_s, 2),
        "variants": mixing_figures(times, {name: v[1] for name, v in variants.items()}),
        "peak_bytes": peak,
        "memory_source": source,
        "load_average": load_average(),
    }


def mixing_figures(times: dict[str, list[float]], real_per_step: dict[str, int | None]) -> dict:
    """Per variant: steps/s and the median time relative to the ``pregen`` variant's."""
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        k: {
            "real_per_step": real_per_step.get(k),
            "steps_per_s": 1 / med[k],
            "time_vs_pregen": med[k] / med["pregen"],
            "round_times_s": [round(t, 4) for t in times[k]],
        }
        for k in times
    }
