"""Benchmark: writing a dataset end to end against generating the same images only.

Prints JSON (and a short Markdown table): images/s of

- ``generator_only``: `jaxaxon.generate` batch after batch (the next batch dispatched before
  the previous one is waited for), ``block_until_ready``;
- ``generator_to_host``: the same plus the conversion to stored dtypes and the copy to host
  memory (what the writer needs before any disk I/O);
- ``write_dataset``: `jaxaxon.data.write_dataset` end to end into a fresh directory
  (generation, conversion, compression, file writes, completion records);

all with the same config, batch size and device, in the same run, as the median of
``--repeats`` timed repeats after a warm-up (compilation excluded). The ratio
``write_dataset / generator_only`` shows how well writing overlaps generation (1.0: the
device never waits for the disk).

Usage::

    python benchmarks/bench_dataset.py [--quick] [--n 256] [--batch 32] [--params FILE] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax

import jaxaxon
from jaxaxon.config import GeneratorConfig
from jaxaxon.data import write_dataset
from jaxaxon.data.dataset import _storage_plan, _to_storage
from jaxaxon.data.layout import derive_specs

# --quick: a 64x64 config with every stage active (as the tests' small config)
QUICK_CONFIG = dict(
    width=64, height=64, NSplinePoints=60, MaxThickness=2.0, MinNbBouton=3, MaxNbBouton=3,
    minDistBetweenBoutons=4.0, MinNbCircles=3, MaxNbCircles=3, MinRadius=3, MaxRadius=8,
    rowshift=6, colshift=6, branch_candidates=16,
)  # fmt: skip


def _time_generator(cfg: GeneratorConfig, n: int, batch: int, seed: int, to_host: bool) -> float:
    """Seconds to generate n images (and optionally bring them to host memory as stored)."""
    key = jax.random.key(seed)
    plan = None
    if to_host:
        shapes = jax.eval_shape(lambda k: jaxaxon.generate(k, cfg, batch, 0), key)
        outputs = {f: (getattr(shapes, f).shape[1:], getattr(shapes, f).dtype) for f in shapes.__dataclass_fields__}
        plan = _storage_plan(derive_specs(outputs, cfg), cfg)
    t0 = time.perf_counter()
    previous = None
    for start in range(0, n, batch):
        out = jaxaxon.generate(key, cfg, batch, start)
        if to_host:
            stored, _ = _to_storage({s: getattr(out, s) for s, *_ in plan}, plan)
            fields = {f: getattr(out, f) for f in out.__dataclass_fields__ if f not in {s for s, *_ in plan}}
            out = (stored, fields)
        if previous is not None:
            jax.device_get(previous) if to_host else jax.block_until_ready(previous)
        previous = out
    jax.device_get(previous) if to_host else jax.block_until_ready(previous)
    return time.perf_counter() - t0


def _time_write(cfg: GeneratorConfig, n: int, batch: int, seed: int, root: Path) -> tuple[float, int]:
    """Seconds to write a fresh dataset of n images, and its size on disk in bytes."""
    path = root / f"bench-{seed}.zarr"
    t0 = time.perf_counter()
    write_dataset(path, cfg, n, seed=seed, batch_size=batch)
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    shutil.rmtree(path)
    return seconds, size


def run(n: int, batch: int, cfg: GeneratorConfig, repeats: int, workdir: Path) -> dict:
    """Runs the benchmark and returns the JSON-ready result."""
    # warm-up: compile the generator and the conversion, create the code paths once
    _time_generator(cfg, batch, batch, seed=10_000, to_host=True)
    _time_write(cfg, batch, batch, seed=10_001, root=workdir)
    times = {"generator_only": [], "generator_to_host": [], "write_dataset": []}
    sizes = []
    for r in range(repeats):  # interleaved, so slow phases of a shared machine hit all three alike
        times["generator_only"].append(_time_generator(cfg, n, batch, seed=r, to_host=False))
        times["generator_to_host"].append(_time_generator(cfg, n, batch, seed=r, to_host=True))
        seconds, size = _time_write(cfg, n, batch, seed=r, root=workdir)
        times["write_dataset"].append(seconds)
        sizes.append(size)
    rates = {name: n / statistics.median(ts) for name, ts in times.items()}
    best = {name: n / min(ts) for name, ts in times.items()}  # robust to other load on a shared machine
    raw_image_bytes = 5 * n * cfg.height * cfg.width  # the five uint8 image arrays
    return {
        "benchmark": "dataset",
        "device": str(jax.devices()[0]),
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "host": platform.machine(),
        "jax": jax.__version__,
        "jaxaxon": jaxaxon.__version__,
        "image_shape": list(cfg.shape),
        "n": n,
        "batch": batch,
        "repeats": repeats,
        "images_per_s": {k: round(v, 2) for k, v in rates.items()},
        "write_over_generator": round(rates["write_dataset"] / rates["generator_only"], 3),
        "images_per_s_best": {k: round(v, 2) for k, v in best.items()},
        "write_over_generator_best": round(best["write_dataset"] / best["generator_only"], 3),
        "seconds": {k: [round(t, 4) for t in ts] for k, ts in times.items()},
        "bytes_on_disk": int(statistics.median(sizes)),
        "bytes_per_image": round(statistics.median(sizes) / n, 1),
        "image_arrays_raw_bytes": raw_image_bytes,
    }


def markdown(result: dict) -> str:
    rates = result["images_per_s"]
    best = result["images_per_s_best"]
    rows = [
        "| measurement | images/s (median) | images/s (best) |",
        "|---|---|---|",
        f"| generator only | {rates['generator_only']:.1f} | {best['generator_only']:.1f} |",
        f"| generator + conversion + copy to host | {rates['generator_to_host']:.1f} "
        f"| {best['generator_to_host']:.1f} |",
        f"| write_dataset end to end | {rates['write_dataset']:.1f} | {best['write_dataset']:.1f} |",
        f"| write / generator | {result['write_over_generator']:.2f} | {result['write_over_generator_best']:.2f} |",
    ]
    head = (
        f"{result['n']} images of {result['image_shape'][0]}x{result['image_shape'][1]}, batch {result['batch']}, "
        f"{result['device']}, median of {result['repeats']}; {result['bytes_per_image']:.0f} bytes/image on disk"
    )
    return head + "\n\n" + "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64x64 images, n=64, batch=8 (a smoke run)")
    parser.add_argument("--n", type=int, help="images per timed run (default 256; 64 with --quick)")
    parser.add_argument("--batch", type=int, help="batch / chunk size (default 32; 8 with --quick)")
    parser.add_argument("--params", help="parameter file (default: the shipped 256x256 set; 64x64 with --quick)")
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
    workdir = Path(tempfile.mkdtemp(prefix="jaxaxon-bench-", dir=args.dir))
    try:
        result = run(n, batch, cfg, args.repeats, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(result, indent=1)
    print(text)
    print()
    print(markdown(result))
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
