"""Timing of jitted functions: compile time apart, median of repeated runs, peak memory."""

from __future__ import annotations

import dataclasses
import platform
import resource
import statistics
import time
from typing import Any, Callable

import jax

__all__ = ["Timing", "time_jitted", "device_info", "peak_memory_bytes"]


@dataclasses.dataclass(frozen=True)
class Timing:
    """One measured workload.

    Attributes:
      compile_s: seconds to lower and compile.
      median_s: median seconds of one call (after warm-up), ``block_until_ready`` included.
      runs_s: every timed run.
      items: items (images, series, steps) produced per call.
      peak_bytes: peak device memory (device stats) or process RSS, None when unknown.
      memory_source: ``"device"`` or ``"rss"``.
    """

    compile_s: float
    median_s: float
    runs_s: tuple[float, ...]
    items: int
    peak_bytes: int | None
    memory_source: str

    @property
    def items_per_s(self) -> float:
        return self.items / self.median_s

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["runs_s"] = list(self.runs_s)
        out["items_per_s"] = self.items_per_s
        return out


def peak_memory_bytes() -> tuple[int | None, str]:
    """Peak memory of the default device where the backend reports it, else process RSS."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats raise various errors
        stats = None
    if stats and "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"]), "device"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss_kib) * 1024, "rss"


def time_jitted(fn: Callable, args: tuple, *, items: int, repeats: int = 5, warmup: int = 1) -> Timing:
    """Compiles ``jax.jit(fn)`` for ``args`` and times it.

    Args:
      fn: function of ``*args`` (jitted here; static values must be closed over).
      args: example arguments (arrays/keys).
      items: items produced per call (for items/s).
      repeats: timed runs (the median is reported).
      warmup: untimed runs after compiling.

    Returns:
      A `Timing`.
    """
    jitted = jax.jit(fn)
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    for _ in range(warmup):
        jax.block_until_ready(compiled(*args))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t0)
    peak, source = peak_memory_bytes()
    return Timing(compile_s, statistics.median(runs), tuple(runs), items, peak, source)


def device_info() -> dict[str, Any]:
    """The device, backend, JAX version and host, for result files."""
    device = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "jax_version": jax.__version__,
        "python": platform.python_version(),
        "host_cpus": _cpu_count(),
        "machine": platform.machine(),
    }


def _cpu_count() -> int | None:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count()
