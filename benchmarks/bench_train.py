"""Training throughput: on-the-fly generation against the same step fed pre-generated batches.

For each preset and compute dtype it times, interleaved in rounds (so that load from other
processes hits all variants alike) and after compiling everything:

- ``onfly``: `Program.train_step` (generates its batch inside the jitted step);
- ``pregen``: `Program.train_step_on_batch` fed batches generated beforehand (a pool kept on
  the device, cycled);
- ``gen``: the batch generation alone (`training_batch`, jitted).

and reports steps/s, training images/s, the generation overhead ``1 - pregen_time /
onfly_time`` (what generating inside the step costs) and ``gen_time / onfly_time`` (what it
would cost if it were not overlapped with anything). Prints a table and writes JSON.

    python benchmarks/bench_train.py                         # CPU-sized defaults
    python benchmarks/bench_train.py --preset original --batch 256 --dtype both   # accelerator
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import jax

from jaxaxon.train import get_preset
from jaxaxon.train.step import get_program, run_keys, training_batch, zero_metrics


def _time(fn, n: int) -> float:
    """Seconds per call of ``fn`` over ``n`` calls (the last result is waited for)."""
    t0 = time.perf_counter()
    out = None
    for i in range(n):
        out = fn(i)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / n


def bench_one(preset: str, dtype: str, batch: int | None, steps: int, rounds: int) -> dict:
    rc = get_preset(preset)
    changes = {"model.dtype": dtype}
    if batch is not None:
        changes["batch_size"] = batch
    rc = rc.replace(**changes)
    program = get_program(rc)
    _, data_key, dropout_key = run_keys(0)
    state = {"onfly": [*program.init(0), zero_metrics()], "pregen": [*program.init(0), zero_metrics()]}
    gen = jax.jit(lambda k, s: training_batch(rc, k, s))
    pool = [gen(data_key, 10_000 + i) for i in range(min(steps, 4))]
    counter = {"onfly": 0, "gen": 0}

    def onfly(i):
        s = state["onfly"]
        counter["onfly"] += 1
        s[:] = program.train_step(*s, data_key, dropout_key, counter["onfly"])
        return s[2]["loss"]

    def pregen(i):
        s = state["pregen"]
        x, y = pool[i % len(pool)]
        s[:] = program.train_step_on_batch(*s, x, y, dropout_key, i)
        return s[2]["loss"]

    def gen_only(i):
        counter["gen"] += 1
        return gen(data_key, 20_000 + counter["gen"])

    t_compile = time.perf_counter()
    for fn in (onfly, pregen, gen_only):  # compile and warm up
        _time(fn, 2)
    t_compile = time.perf_counter() - t_compile
    times: dict[str, list[float]] = {"onfly": [], "pregen": [], "gen": []}
    for _ in range(rounds):
        times["onfly"].append(_time(onfly, steps))
        times["pregen"].append(_time(pregen, steps))
        times["gen"].append(_time(gen_only, steps))
    t = {k: statistics.median(v) for k, v in times.items()}
    images = rc.batch_size
    return {
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
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="preset(s) to time (default: quick and original)")
    parser.add_argument(
        "--batch", type=int, help="training examples per step (default: CPU 8 for original, the preset's otherwise)"
    )
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "both"), default="float32")
    parser.add_argument("--steps", type=int, default=3, help="steps per timing round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported (default 3)")
    parser.add_argument("--out", default="bench_train.json", help="JSON output (default bench_train.json)")
    args = parser.parse_args(argv)
    presets = args.preset or ["quick", "original"]
    dtypes = ["float32", "bfloat16"] if args.dtype == "both" else [args.dtype]
    on_cpu = jax.default_backend() == "cpu"
    results = []
    for preset in presets:
        batch = args.batch
        if batch is None and on_cpu and preset == "original":
            batch = 8  # 2 generated 256x256 images = 8 tiles of 128x128; 64 takes ~20 s a step here
        for dtype in dtypes:
            print(f"timing {preset} {dtype} ...", file=sys.stderr, flush=True)
            results.append(bench_one(preset, dtype, batch, args.steps, args.rounds))
    report = {
        "benchmark": "bench_train",
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    head = f"{'preset':<10}{'dtype':<10}{'batch':>6}{'tile':>6}{'onfly img/s':>13}{'pregen img/s':>14}{'gen overhead':>14}{'gen alone':>11}"
    print(head)
    for r in results:
        print(
            f"{r['preset']:<10}{r['dtype']:<10}{r['batch_size']:>6}{r['tile']:>6}{r['onfly_images_per_s']:>13.1f}"
            f"{r['pregen_images_per_s']:>14.1f}{r['generation_overhead_fraction']:>13.1%}{r['generation_alone_fraction']:>11.1%}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
