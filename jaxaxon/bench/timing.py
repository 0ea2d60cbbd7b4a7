"""Timing of jitted functions: compile time apart, median of repeated runs, peak memory."""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import statistics
import threading
import time
from typing import Any, Callable

import jax

from jaxaxon.bench.memory import compiled_memory

__all__ = [
    "Timing",
    "time_jitted",
    "device_info",
    "peak_memory_bytes",
    "MemorySampler",
    "load_average",
    "current_rss_bytes",
]


@dataclasses.dataclass(frozen=True)
class Timing:
    """One measured workload.

    Attributes:
      compile_s: seconds to lower and compile.
      median_s: median seconds of one call (after warm-up), ``block_until_ready`` included.
      runs_s: every timed run.
      items: items (images, series, steps) produced per call.
      peak_bytes: peak memory while the workload ran (see ``memory_source``), None when
        unknown.
      memory_source: ``"device"`` (the backend's ``peak_bytes_in_use``: a peak since the
        process started, as JAX cannot reset it, so an upper bound for this workload),
        ``"rss"`` (process resident memory sampled while the workload ran) or
        ``"rss_lifetime"`` (the process's lifetime maximum RSS, where sampling is
        unavailable).
      compiled: the compiled program's memory analysis and cost estimate
        (`jaxaxon.bench.memory.compiled_memory`), None when the backend gives none.
    """

    compile_s: float
    median_s: float
    runs_s: tuple[float, ...]
    items: int
    peak_bytes: int | None
    memory_source: str
    compiled: dict | None = None

    @property
    def items_per_s(self) -> float:
        return self.items / self.median_s

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["runs_s"] = list(self.runs_s)
        out["items_per_s"] = self.items_per_s
        return out


def current_rss_bytes() -> int | None:
    """Resident memory of this process now (Linux ``/proc/self/statm``), None elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _device_stats() -> dict | None:
    try:
        return jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats raise various errors
        return None


def peak_memory_bytes() -> tuple[int | None, str]:
    """Peak memory of the default device where the backend reports it, else the process's
    lifetime maximum RSS."""
    stats = _device_stats()
    if stats and "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"]), "device"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss_kib) * 1024, "rss_lifetime"


class MemorySampler:
    """Peak memory of the code run inside ``with MemorySampler() as m:`` (then ``m.peak()``).

    Device memory stats where the backend has them (the backend's own peak counter);
    otherwise the process RSS, sampled by a background thread every ``interval`` seconds.
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self._max = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._device = bool((_device_stats() or {}).get("peak_bytes_in_use") is not None)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = current_rss_bytes()
            if rss is not None:
                self._max = max(self._max, rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        if not self._device and current_rss_bytes() is not None:
            self._max = current_rss_bytes() or 0
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._max = max(self._max, current_rss_bytes() or 0)

    def peak(self) -> tuple[int | None, str]:
        """``(bytes, source)``; see `Timing.memory_source`."""
        if self._thread is not None:
            return self._max, "rss"
        return peak_memory_bytes()


def time_jitted(
    fn: Callable,
    args: tuple,
    *,
    items: int,
    repeats: int = 5,
    warmup: int = 1,
    static_argnums: tuple[int, ...] = (),
) -> Timing:
    """Compiles ``fn`` for ``args`` and times it.

    Args:
      fn: function of ``*args``, jitted here (static values must be closed over); or an
        already jitted function, used as it is: its own compilation cache is filled, so
        later plain calls with the same arguments do not compile again.
      args: example arguments (arrays/keys; static ones for an already jitted ``fn``).
      items: items produced per call (for items/s).
      repeats: timed runs (the median is reported).
      warmup: untimed runs after compiling.
      static_argnums: positions in ``args`` of an already jitted ``fn``'s static
        arguments (they are left out of the calls to the compiled program).

    Returns:
      A `Timing`.
    """
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    dynamic = tuple(a for i, a in enumerate(args) if i not in static_argnums)
    runs = []
    with MemorySampler() as sampler:
        for _ in range(warmup):
            jax.block_until_ready(compiled(*dynamic))
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(*dynamic))
            runs.append(time.perf_counter() - t0)
    peak, source = sampler.peak()
    return Timing(compile_s, statistics.median(runs), tuple(runs), items, peak, source, compiled_memory(compiled))


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        return None


def device_info() -> dict[str, Any]:
    """The device, backend, JAX version and host, for result files."""
    device = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "jax_version": jax.__version__,
        "jaxlib_version": _jaxlib_version(),
        "python": platform.python_version(),
        "host_cpus": _cpu_count(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
    }


def _jaxlib_version() -> str | None:
    try:
        import jaxlib

        return jaxlib.__version__
    except (ImportError, AttributeError):  # pragma: no cover
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _cpu_count() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count()
