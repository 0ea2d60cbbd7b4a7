"""Dataset workload: writing a dataset end to end against generating the same examples only.

Three measurements with the same config, batch size and device, interleaved per repeat so
that other load on a shared machine hits them alike:

- ``generator_only``: the generator batch after batch (the next batch dispatched before the
  previous one is waited for), ``block_until_ready``;
- ``generator_to_host``: the same plus the conversion to the stored dtypes and the copy to
  host memory (what the writer needs before any disk I/O);
- ``write_dataset``: `jaxaxon.data.write_dataset` end to end into a fresh directory
  (generation, conversion, compression, file writes, completion records);
- ``write_dataset_format1``: the same in dataset format 1 (no crc32c checksums, chunks equal
  to the fill value not stored), the writer without integrity checks;
- ``verify_dataset``: `jaxaxon.data.verify_dataset` on the dataset just written (read,
  decompress and checksum every chunk, check every chunk file);
- ``store_only`` / ``store_only_format1``: `write_dataset` with a generator that returns one
  pre-generated batch for every chunk, in format 2 and 1: the storage pipeline alone
  (conversion, copy to host, compression, checksums, file writes, records).

``write_over_generator`` (1.0: the device never waits for the disk) shows how well writing
overlaps generation. The checks' cost is the extra time of format 2 over format 1 as a
share of writing without checks (format 1 end to end), from the storage-only runs, which
are short and can be repeated: ``checks_cost`` in wall time, ``checks_cost_cpu`` in process
CPU time (all threads; the figure least disturbed by other load on a shared machine);
``checks_cost_end_to_end`` is 1 - format-2 rate / format-1 rate of the end-to-end runs.
``verify_over_write`` is the time of a full verification as a share of the time to write
the dataset.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import jax

from jaxaxon.bench.table import table
from jaxaxon.bench.timing import device_info
from jaxaxon.config import GeneratorConfig
from jaxaxon.data import verify_dataset, write_dataset
from jaxaxon.data.layout import derive_specs
from jaxaxon.data.outputs import output_shapes, outputs_dict, resolve_generator, storage_plan, to_storage

__all__ = ["lines", "replay_generator", "run_dataset_benchmark", "time_generator_stream", "time_write"]

MEASUREMENTS = (
    "generator_only",
    "generator_to_host",
    "write_dataset",
    "write_dataset_format1",
    "verify_dataset",
    "store_only",
    "store_only_format1",
)
LABELS = {
    "generator_only": "generator only",
    "generator_to_host": "generator + conversion + copy to host",
    "write_dataset": "write_dataset end to end",
    "write_dataset_format1": "write_dataset, format 1 (no checksums)",
    "verify_dataset": "verify_dataset (read and check every chunk)",
    "store_only": "storage alone (pre-generated batch), format 2",
    "store_only_format1": "storage alone (pre-generated batch), format 1",
}
STORE_REPEATS = 3  # storage-only runs per repeat and format


def time_generator_stream(cfg: GeneratorConfig, n: int, batch: int, seed: int, *, kind: str, to_host: bool) -> float:
    """Seconds to generate ``n`` examples in batches (and optionally bring them to host memory
    in their stored dtypes, as the writer does)."""
    fn, _ = resolve_generator(kind, None)
    key = jax.random.key(seed)
    plan = storage_plan(derive_specs(output_shapes(fn, cfg, batch), cfg), cfg) if to_host else ()
    sources = {source for source, *_ in plan}
    t0 = time.perf_counter()
    previous = None
    for start in range(0, n, batch):
        out = fn(key, cfg, batch, start)
        if to_host:
            fields = outputs_dict(out)
            stored, _ = to_storage({s: fields[s] for s in sources}, plan)
            out = (stored, {k: v for k, v in fields.items() if k not in sources})
        if previous is not None:
            jax.device_get(previous) if to_host else jax.block_until_ready(previous)
        previous = out
    jax.device_get(previous) if to_host else jax.block_until_ready(previous)
    return time.perf_counter() - t0


def replay_generator(cfg: GeneratorConfig, batch: int, *, kind: str) -> Callable:
    """A generator that returns one batch of the real one, generated once, for every call."""
    fn, _ = resolve_generator(kind, None)
    out = jax.block_until_ready(fn(jax.random.key(0), cfg, batch, 0))

    def replay(key: Any, config: GeneratorConfig, batch_size: int, start_index: int = 0) -> Any:
        return out

    return replay


def time_write(
    cfg: GeneratorConfig, n: int, batch: int, seed: int, root: Path, *, kind: str, format_version: int = 2,
    verify: bool = False, generator: Callable | None = None,
) -> tuple[float, int, float | None, float]:
    """Seconds to write a fresh dataset of ``n`` examples, its size on disk in bytes,
    (``verify``) seconds to verify it, and the process CPU seconds of the write."""
    path = root / f"bench-{seed}-{format_version}.zarr"
    t0, c0 = time.perf_counter(), time.process_time()
    write_dataset(
        path, cfg, n, seed=seed, batch_size=batch, kind=kind, format_version=format_version, generator=generator
    )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    verify_seconds = None
    if verify:
        t0 = time.perf_counter()
        if not verify_dataset(path).ok:
            raise RuntimeError(f"{path}: a freshly written dataset does not verify")
        verify_seconds = time.perf_counter() - t0
    shutil.rmtree(path)
    return seconds, size, verify_seconds, cpu


def run_dataset_benchmark(
    cfg: GeneratorConfig,
    n: int,
    batch: int,
    *,
    repeats: int = 3,
    kind: str = "images",
    workdir: str | Path | None = None,
) -> dict:
    """Runs the measurements (after a warm-up that compiles everything) and returns a
    JSON-ready result: medians (and bests, robust to other load) of ``repeats`` runs
    (``STORE_REPEATS`` times as many for the storage-only runs)."""
    root = Path(tempfile.mkdtemp(prefix="jaxaxon-bench-", dir=workdir))
    cpu: dict[str, list[float]] = {"write_dataset_format1": [], "store_only": [], "store_only_format1": []}
    try:
        time_generator_stream(cfg, batch, batch, 10_000, kind=kind, to_host=False)
        time_generator_stream(cfg, batch, batch, 10_000, kind=kind, to_host=True)
        time_write(cfg, batch, batch, 10_001, root, kind=kind, verify=True)
        time_write(cfg, batch, batch, 10_001, root, kind=kind, format_version=1)
        replay = replay_generator(cfg, batch, kind=kind)
        for version in (2, 1):
            time_write(cfg, batch, batch, 10_002, root, kind=kind, format_version=version, generator=replay)
        times: dict[str, list[float]] = {name: [] for name in MEASUREMENTS}
        sizes, sizes1 = [], []
        for r in range(repeats):
            times["generator_only"].append(time_generator_stream(cfg, n, batch, r, kind=kind, to_host=False))
            times["generator_to_host"].append(time_generator_stream(cfg, n, batch, r, kind=kind, to_host=True))
            order = (2, 1) if r % 2 == 0 else (1, 2)  # alternate the order: load drifts hit both alike
            for version in order:
                seconds, size, verify_seconds, cpu_s = time_write(
                    cfg, n, batch, r, root, kind=kind, format_version=version, verify=version == 2
                )
                if version == 2:
                    times["write_dataset"].append(seconds)
                    times["verify_dataset"].append(verify_seconds)
                    sizes.append(size)
                else:
                    times["write_dataset_format1"].append(seconds)
                    cpu["write_dataset_format1"].append(cpu_s)
                    sizes1.append(size)
            for _ in range(STORE_REPEATS):
                for version in order:
                    name = "store_only" if version == 2 else "store_only_format1"
                    seconds, _, _, cpu_s = time_write(
                        cfg, n, batch, r, root, kind=kind, format_version=version, generator=replay
                    )
                    times[name].append(seconds)
                    cpu[name].append(cpu_s)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med_s = {name: statistics.median(ts) for name, ts in times.items()}
    med_cpu = {name: statistics.median(ts) for name, ts in cpu.items()}
    median = {name: n / statistics.median(ts) for name, ts in times.items()}
    best = {name: n / min(ts) for name, ts in times.items()}
    return {
        "benchmark": "dataset",
        "device": device_info(),
        "kind": kind,
        "example_shape": ([cfg.NbImages] if kind == "series" else []) + list(cfg.shape),
        "n": n,
        "batch": batch,
        "repeats": repeats,
        "examples_per_s": {k: round(v, 2) for k, v in median.items()},
        "write_over_generator": round(median["write_dataset"] / median["generator_only"], 3),
        "examples_per_s_best": {k: round(v, 2) for k, v in best.items()},
        "write_over_generator_best": round(best["write_dataset"] / best["generator_only"], 3),
        "checks_cost": round((med_s["store_only"] - med_s["store_only_format1"]) / med_s["write_dataset_format1"], 4),
        "checks_cost_cpu": round(
            (med_cpu["store_only"] - med_cpu["store_only_format1"]) / med_cpu["write_dataset_format1"], 4
        ),
        "checks_cost_end_to_end": round(1 - median["write_dataset"] / median["write_dataset_format1"], 4),
        "checks_cost_end_to_end_best": round(1 - best["write_dataset"] / best["write_dataset_format1"], 4),
        "verify_over_write": round(med_s["verify_dataset"] / med_s["write_dataset"], 4),
        "cpu_seconds": {k: [round(t, 4) for t in ts] for k, ts in cpu.items()},
        "seconds": {k: [round(t, 4) for t in ts] for k, ts in times.items()},
        "bytes_on_disk": int(statistics.median(sizes)),
        "bytes_per_example": round(statistics.median(sizes) / n, 1),
        "bytes_per_example_format1": round(statistics.median(sizes1) / n, 1),
    }


def lines(result: dict) -> list[str]:
    """Markdown lines of a `run_dataset_benchmark` result: a summary line, then a table."""
    med, best = result["examples_per_s"], result["examples_per_s_best"]
    unit = "series/s" if result["kind"] == "series" else "images/s"
    rows = [(LABELS[k], f"{med[k]:.1f}", f"{best[k]:.1f}") for k in MEASUREMENTS if k in med]
    ratio, ratio_best = result["write_over_generator"], result["write_over_generator_best"]
    rows.append(("write / generator", f"{ratio:.2f}", f"{ratio_best:.2f}"))
    if "checks_cost_cpu" in result:
        cost = f"{result['checks_cost']:.1%} wall, {result['checks_cost_cpu']:.1%} CPU"
        rows.append(("checks cost (storage-only format 2 - format 1) / write format 1", cost, ""))
        rows.append(("end to end: 1 - format 2 / format 1 rate", f"{result['checks_cost_end_to_end']:.1%}",
                     f"{result['checks_cost_end_to_end_best']:.1%}"))  # fmt: skip
        rows.append(("verify / write time", f"{result['verify_over_write']:.1%}", ""))
    shape = "x".join(str(d) for d in result["example_shape"])
    head = (
        f"{result['n']} {result['kind']} of {shape}, batch {result['batch']}, {result['device']['device_kind']} "
        f"({result['device']['backend']}), median of {result['repeats']}; "
        f"{result['bytes_per_example']:.0f} bytes per example on disk"
    )
    return [head, "", *table(["measurement", f"{unit} (median)", f"{unit} (best)"], rows)]
