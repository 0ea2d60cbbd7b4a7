"""Roofline of the complete generator: bytes per image against memory bandwidth.

A generator that only had to stream its data through memory once could not be faster
than ``bandwidth / bytes per image``. Two byte counts are given:

- ``outputs``: the arrays `jaxaxon.generate` returns (exact, from their shapes): the floor
  any implementation must write;
- ``pipeline``: the outputs plus the main per-pixel intermediates of the stage pipeline,
  each written once and read once (`INTERMEDIATES`): what an implementation that keeps
  the stages as separate full-image passes moves.

Bandwidth: a streaming read-and-write measured in the same run (`measure_bandwidth`) and,
for an H100, the nominal HBM3 figure.
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxaxon.config import GeneratorConfig

__all__ = ["INTERMEDIATES", "H100_BANDWIDTH", "bytes_per_image", "measure_bandwidth", "roofline"]

H100_BANDWIDTH = 3.35e12  # bytes/s, H100 SXM HBM3 (nominal)

# (name, bytes per pixel written + read) of the main per-pixel intermediates of one image
# ('original' noise model). Each float32 map written once and read once is 8 bytes/pixel.
INTERMEDIATES = (
    ("pixel-noise field (normal; read by axons and terminal branches)", 12),
    ("axon distance + nearest-value maps (scatter-min)", 16),
    ("axon image + axon clean", 16),
    ("bouton / terminal-branch image + clean", 16),
    ("cell image", 8),
    ("signal (max of the layers)", 8),
    ("Poisson bits (uint32) + Poisson field", 16),
    ("background blur (two separable passes)", 16),
    ("white-noise field", 8),
    ("noisy image before rescaling (read twice: max, scale)", 12),
)


def _output_bytes(cfg: GeneratorConfig) -> int:
    from jaxaxon.synth.image import generate

    shapes = jax.eval_shape(lambda k: generate(k, cfg, 1), jax.random.key(0))
    return int(sum(np.prod(s.shape) * s.dtype.itemsize for s in jax.tree.leaves(shapes)))


def bytes_per_image(cfg: GeneratorConfig) -> dict:
    """Bytes one image must move: ``outputs`` (exact) and ``pipeline`` (outputs + the main
    intermediates of `INTERMEDIATES`), with the per-pixel breakdown."""
    pixels = cfg.height * cfg.width
    outputs = _output_bytes(cfg)
    inter = {name: per_pixel * pixels for name, per_pixel in INTERMEDIATES}
    return {
        "pixels": pixels,
        "outputs": outputs,
        "intermediates": inter,
        "pipeline": outputs + sum(inter.values()),
    }


def measure_bandwidth(nbytes: int = 256 * 2**20, repeats: int = 5) -> dict:
    """Streaming bandwidth of this machine, bytes/s counting reads and writes.

    ``device_stream``: a jitted in-place ``x = x + 1`` (input donated, so no fresh output
    buffer is allocated and page-faulted each call) over ``nbytes`` of float32 on the
    default device: reads ``nbytes``, writes ``nbytes``. ``host_copy``: NumPy ``copyto``
    between two host arrays. Median of ``repeats`` after a warm-up. ``bound`` is the one
    the roofline uses: the device stream on an accelerator, the better of the two on a CPU
    (same memory).
    """
    n = nbytes // 4
    host = _host_copy_seconds(n, repeats)
    dev = _device_stream_seconds(n, repeats)
    out = {
        "bytes": 4 * n,
        "device_stream_bytes_per_s": 2 * 4 * n / dev,
        "host_copy_bytes_per_s": 2 * 4 * n / host,
    }
    cpu = jax.default_backend() == "cpu"
    out["bound_bytes_per_s"] = out["device_stream_bytes_per_s"]
    if cpu:
        out["bound_bytes_per_s"] = max(out["bound_bytes_per_s"], out["host_copy_bytes_per_s"])
    return out


def _host_copy_seconds(n: int, repeats: int) -> float:
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    return _median_seconds(lambda: np.copyto(dst, src), repeats)


def _device_stream_seconds(n: int, repeats: int) -> float:
    step = jax.jit(lambda a: a + 1.0, donate_argnums=0)
    state = {"x": jnp.ones(n, jnp.float32)}

    def stream() -> None:
        state["x"] = step(state["x"])
        jax.block_until_ready(state["x"])

    return _median_seconds(stream, repeats)


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (compiles, touches the pages)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def roofline(cfg: GeneratorConfig, measured_images_per_s: float | None, bandwidth: dict, device_kind: str) -> dict:
    """Bounds in images/s from the byte counts and bandwidths, and the measured rate's share.

    Args:
      cfg: the generator config measured.
      measured_images_per_s: the complete generator's measured rate on this device.
      bandwidth: `measure_bandwidth` output for this device.
      device_kind: this device's name (for the record).
    """
    counts = bytes_per_image(cfg)
    this_bw = bandwidth["bound_bytes_per_s"]
    bounds = {}
    for label, bw in (("this_device", this_bw), ("h100_nominal", H100_BANDWIDTH)):
        bounds[label] = {
            "bandwidth_bytes_per_s": bw,
            "images_per_s_outputs_only": bw / counts["outputs"],
            "images_per_s_pipeline": bw / counts["pipeline"],
        }
    out = {"image_shape": list(cfg.shape), "device_kind": device_kind, "bytes_per_image": counts, "bounds": bounds}
    if measured_images_per_s:
        out["measured_images_per_s"] = measured_images_per_s
        out["fraction_of_bound_pipeline"] = measured_images_per_s / bounds["this_device"]["images_per_s_pipeline"]
        out["fraction_of_bound_outputs_only"] = (
            measured_images_per_s / bounds["this_device"]["images_per_s_outputs_only"]
        )
        out["effective_bytes_per_s_pipeline"] = measured_images_per_s * counts["pipeline"]
    return out
