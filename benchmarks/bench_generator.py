"""Images per second of the complete generator and of each stage, per batch size.

Prints a Markdown table and JSON (device, JAX version, configuration, compile time apart,
median of repeated runs after warm-up with block_until_ready, peak memory).

Usage::

    python benchmarks/bench_generator.py [--batches 1 8 32] [--stages] [--params FILE] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from jaxaxon.bench.generator import STAGES, time_generator, time_stage
    from jaxaxon.bench.timing import device_info
    from jaxaxon.config import GeneratorConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--stages", action="store_true", help="also time each stage (at the largest batch)")
    parser.add_argument("--params", help="parameter file (default: the shipped 256x256 set)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    cfg = GeneratorConfig() if args.params is None else GeneratorConfig.from_json(args.params)
    rows = []
    for batch in args.batches:
        t = time_generator(cfg, batch, args.repeats)
        rows.append({"workload": "generate", "batch": batch, **t.as_dict()})
    if args.stages:
        batch = max(args.batches)
        for stage in STAGES:
            t = time_stage(stage, cfg, batch, args.repeats)
            rows.append({"workload": f"stage:{stage}", "batch": batch, **t.as_dict()})
    result = {"device": device_info(), "config": {"height": cfg.height, "width": cfg.width, "compat": cfg.compat}, "results": rows}
    print("| workload | batch | images/s | ms/image | compile s |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workload']} | {r['batch']} | {r['items_per_s']:.1f} | {1e3 / r['items_per_s']:.2f} | {r['compile_s']:.1f} |")
    print()
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
