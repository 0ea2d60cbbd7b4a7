"""Benchmark: writing a dataset end to end against generating the same images only.

Prints JSON and a short Markdown table: images/s of the generator alone, of the generator
plus the copy to host memory, and of `write_dataset` end to end, with the same config,
batch and device, measured in the same run (median and best of ``--repeats`` after a
warm-up; see `jaxaxon.bench.dataset`).

Usage::

    python benchmarks/bench_dataset.py [--quick] [--n 256] [--batch 32] [--params FILE] [--series] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# --quick: a 64x64 config with every stage active (as the tests' small config)
QUICK_CONFIG = dict(
    width=64, height=64, NSplinePoints=60, MaxThickness=2.0, MinNbBouton=3, MaxNbBouton=3,
    minDistBetweenBoutons=4.0, MinNbCircles=3, MaxNbCircles=3, MinRadius=3, MaxRadius=8,
    rowshift=6, colshift=6, branch_candidates=16,
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from jaxaxon.bench.dataset import markdown, run_dataset_benchmark
    from jaxaxon.config import GeneratorConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64x64 images, n=64, batch=8 (a smoke run)")
    parser.add_argument("--n", type=int, help="examples per timed run (default 256; 64 with --quick)")
    parser.add_argument("--batch", type=int, help="batch / chunk size (default 32; 8 with --quick)")
    parser.add_argument("--params", help="parameter file (default: the shipped 256x256 set; 64x64 with --quick)")
    parser.add_argument("--series", action="store_true", help="time series instead of single images")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median reported; default 3)")
    parser.add_argument("--dir", help="where the benchmark datasets are written (default: a temporary directory)")
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.params:
        cfg = GeneratorConfig.from_json(args.params)
    else:
        cfg = GeneratorConfig(**QUICK_CONFIG) if args.quick else GeneratorConfig()
    n = args.n or (64 if args.quick else 256)
    batch = args.batch or (8 if args.quick else 32)
    if n <= 0 or batch <= 0 or args.repeats <= 0:
        parser.error("--n, --batch and --repeats must be positive")
    kind = "series" if args.series else "images"
    result = run_dataset_benchmark(cfg, n, batch, repeats=args.repeats, kind=kind, workdir=args.dir)
    text = json.dumps(result, indent=1)
    print(text)
    print()
    print(markdown(result))
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
