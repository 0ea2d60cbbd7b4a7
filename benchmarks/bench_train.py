"""Training throughput: on-the-fly generation against the same step fed pre-generated batches.

For each preset and compute dtype: `jaxaxon.bench.training.time_training_step` (on the
fly, pre-generated, generation alone; interleaved rounds after compiling). Also run by
``jaxaxon bench`` (its training section). Prints a table and writes JSON.

    python benchmarks/bench_train.py                         # CPU-sized defaults
    python benchmarks/bench_train.py --preset original --batch 256 --dtype both   # accelerator
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import jax

from jaxaxon.bench.training import CPU_ORIGINAL_BATCH, time_training_step


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
            batch = CPU_ORIGINAL_BATCH  # 2 generated 256x256 images = 8 tiles of 128x128
        for dtype in dtypes:
            print(f"timing {preset} {dtype} ...", file=sys.stderr, flush=True)
            results.append(time_training_step(preset, dtype, batch, args.steps, args.rounds))
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
