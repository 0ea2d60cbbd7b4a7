"""Training workload: one training step with on-the-fly generation against pre-generated batches.

For a training preset and compute dtype it times, interleaved in rounds (so that load from
other processes hits all variants alike) and after compiling everything:

- ``onfly``: the training step (`jaxaxon.train.make_train_step`; generates its batch inside);
- ``pregen``: its update alone (`Program.update`, jitted) fed batches generated beforehand (a pool kept on
  the device, cycled);
- ``gen``: the batch generation alone (`training_batch`, jitted);

and reports steps/s, training images/s, the generation overhead ``1 - pregen_time /
onfly_time`` (what generating inside the step costs) and ``gen_time / onfly_time`` (what it
would cost if it were not overlapped with anything).

A 'skipped' record is returned where the training code (``jaxaxon.train``) is not part of
this installation, never a made-up number.
"""

from __future__ import annotations

import importlib.util
import statistics
import time

import jax

from jaxaxon.bench.timing import MemorySampler, load_average
from jaxaxon.config import GeneratorConfig

__all__ = ["CPU_ORIGINAL_BATCH", "time_training", "time_training_step", "training_available"]

# the 'original' preset on a CPU: 8 tiles of 128x128 (2 generated 256x256 images) per step;
# its own batch of 64 takes about 20 s a step on a 2-core CPU
CPU_ORIGINAL_BATCH = 8


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


def time_training_step(
    preset: str,
    dtype: str = "float32",
    batch: int | None = None,
    steps: int = 3,
    rounds: int = 3,
    generator: GeneratorConfig | None = None,
) -> dict:
    """Times one preset's training step on the fly, on pre-generated batches and the
    generation alone (module docstring).

    Args:
      preset: training preset name (`jaxaxon.train.get_preset`).
      dtype: model compute dtype (``float32`` or ``bfloat16``).
      batch: training examples per step (default: the preset's).
      steps: steps per timing round.
      rounds: interleaved rounds (the median round is reported).
      generator: generator config replacing the preset's (its tiles shrink to the image
        side where the preset's are larger).

    Returns:
      A JSON-ready record (steps/s, images/s, overhead fractions, round times, peak memory).
    """
    from jaxaxon.train import get_preset
    from jaxaxon.train.step import make_train_step, run_keys, training_batch

    rc = get_preset(preset)
    changes: dict = {"model.dtype": dtype}
    if generator is not None:
        changes["generator"] = generator
        if rc.crop:
            changes["crop"] = min(rc.crop, *generator.shape)
    if batch is not None:
        changes["batch_size"] = batch
    rc = rc.replace(**changes)
    train_step = make_train_step(rc)
    update = jax.jit(train_step.program.update, donate_argnums=(0, 1, 2))
    _, data_key, dropout_key = run_keys(rc.seed)
    state = {"onfly": [*train_step.init(0)], "pregen": [*train_step.init(0)]}
    gen = jax.jit(lambda k, s: training_batch(rc, k, s))
    pool = [gen(data_key, 10_000 + i) for i in range(min(steps, 4))]
    counter = {"onfly": 0, "gen": 0}

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

    t_compile = time.perf_counter()
    for fn in (onfly, pregen, gen_only):  # compile and warm up
        _time(fn, 2)
    t_compile = time.perf_counter() - t_compile
    times: dict[str, list[float]] = {"onfly": [], "pregen": [], "gen": []}
    with MemorySampler() as sampler:
        for _ in range(rounds):
            times["onfly"].append(_time(onfly, steps))
            times["pregen"].append(_time(pregen, steps))
            times["gen"].append(_time(gen_only, steps))
    peak, source = sampler.peak()
    t = {k: statistics.median(v) for k, v in times.items()}
    images = rc.batch_size
    return {
        "name": f"{preset} ({dtype})",
        "preset": preset,
        "dtype": dtype,
        "model": rc.model.to_dict(),
        "batch_size": images,
        "tile": rc.crop or rc.generator.height,
        "generated_images_per_step": rc.images_per_step,
        "generated_image_size": list(rc.generator.shape),
        "steps_timed": steps * rounds,
        "warmup_and_compile_s": round(t_compile, 2),
        "onfly_steps_per_s": 1 / t["onfly"],
        "pregen_steps_per_s": 1 / t["pregen"],
        "gen_only_batches_per_s": 1 / t["gen"],
        "onfly_images_per_s": images / t["onfly"],
        "pregen_images_per_s": images / t["pregen"],
        "generation_overhead_fraction": 1 - t["pregen"] / t["onfly"],
        "generation_alone_fraction": t["gen"] / t["onfly"],
        "round_times_s": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "peak_bytes": peak,
        "memory_source": source,
        "load_average": load_average(),
    }


def time_training(
    presets: tuple[str, ...] = ("quick",),
    steps: int = 3,
    rounds: int = 3,
    dtype: str = "float32",
    batch: int | None = None,
    generator: GeneratorConfig | None = None,
) -> dict:
    """The suite's training section: `time_training_step` for each preset.

    Args:
      presets: training presets.
      steps, rounds, dtype, generator: as `time_training_step`.
      batch: training examples per step for every preset (default: the preset's; on a CPU
        the 'original' preset runs at `CPU_ORIGINAL_BATCH`).

    Returns:
      ``{"rows": [record per preset]}``, or a 'skipped' record without ``jaxaxon.train``.
    """
    if not training_available():
        return {
            "status": "skipped",
            "reason": "training code not available (jaxaxon.train is not in this installation)",
        }
    cpu = jax.default_backend() == "cpu"
    rows = []
    for preset in presets:
        n = batch if batch is not None else (CPU_ORIGINAL_BATCH if cpu and preset == "original" else None)
        rows.append(time_training_step(preset, dtype, n, steps, rounds, generator))
    return {"rows": rows}
