"""Shared helpers of the generator-stage tests: transformation runner, cached generator runs
and brute-force NumPy references used by several test modules."""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import jax
import numpy as np

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.image import generate
from jaxaxon.synth.scene import AxonScene, draw_scene

MODES = ("plain", "jit", "vmap")


def run_batched(mode: str, fn: Callable[..., Any], *batched: Any) -> Any:
    """Applies ``fn`` to every element of the leading axis of ``batched`` and stacks the results.

    ``plain`` calls ``fn`` eagerly per element, ``jit`` calls ``jax.jit(fn)`` per element and
    ``vmap`` calls ``jax.jit(jax.vmap(fn))`` once; outputs are NumPy arrays (pytrees of them).
    """
    if mode == "vmap":
        return jax.tree.map(np.asarray, transformed("vmap", fn)(*batched))
    f = transformed("jit", fn) if mode == "jit" else fn
    n = len(jax.tree.leaves(batched)[0])
    outs = [f(*jax.tree.map(lambda a: a[i], batched)) for i in range(n)]
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


@functools.lru_cache(maxsize=None)
def transformed(mode: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``jax.jit(fn)`` (``"jit"``) or ``jax.jit(jax.vmap(fn))`` (``"vmap"``), one wrapper per
    function object, so tests passing the same function share its compilations."""
    return jax.jit(jax.vmap(fn)) if mode == "vmap" else jax.jit(fn)


# --- shared generator runs -------------------------------------------------------------------------
# Every distinct (config, batch size) is one compilation of `generate` (10-15 s on a CPU), so the
# stage tests, the image tests and the property tests share a few configs and one batch size.

GEN_BATCH = 8


@functools.lru_cache(maxsize=None)
def generated(cfg: GeneratorConfig, seed: int, start_index: int = 0):
    """``generate(key(seed), cfg, GEN_BATCH, start_index)`` as a Batch of NumPy arrays (cached)."""
    batch = generate(jax.random.key(seed), cfg, GEN_BATCH, start_index)
    return jax.tree.map(np.asarray, batch)


def generated_many(cfg: GeneratorConfig, seed: int, n_batches: int):
    """``n_batches * GEN_BATCH`` consecutive images of one stream, concatenated (NumPy Batch)."""
    parts = [generated(cfg, seed, i * GEN_BATCH) for i in range(n_batches)]
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def scene_from_batch(batch) -> AxonScene:
    """The scene fields of a (NumPy) generated `Batch` as an `AxonScene` with a batch axis."""
    return AxonScene(
        points=batch.centerlines, branch_valid=batch.centerline_valid[:, :, 0], thickness=batch.thickness,
        variation=batch.variation, gap=batch.gap, parent_slot=batch.parent_slot, parent_index=batch.parent_index,
        failed_branches=batch.failed_branches, attempts=batch.scene_attempts,
    )  # fmt: skip


draw_scenes = jax.jit(jax.vmap(draw_scene, in_axes=(0, None)), static_argnums=1)


@functools.lru_cache(maxsize=None)
def scenes(cfg: GeneratorConfig, seed: int, n: int) -> AxonScene:
    """``n`` scenes from ``jax.vmap(draw_scene)`` over ``split(key(seed), n)`` (NumPy, cached)."""
    return jax.tree.map(np.asarray, draw_scenes(jax.random.split(jax.random.key(seed), n), cfg))


# --- brute-force references ------------------------------------------------------------------------


def point_distances_np(points, valid, thickness, height: int, width: int) -> np.ndarray:
    """``[P, H, W]`` distance of every pixel of a point's window ``[floor(p - t), ceil(p + t)]``
    (clipped) to the point, by loops; +inf outside the window and for invalid points or points
    outside the image (docs/original.md, step 3)."""
    out = np.full((len(points), height, width), np.inf)
    for i, ((r, c), ok, t) in enumerate(zip(np.asarray(points, np.float64), valid, np.asarray(thickness, np.float64))):
        if not ok or not (0 <= r <= height - 1 and 0 <= c <= width - 1):
            continue
        for q in range(max(math.floor(r - t), 0), min(math.ceil(r + t), height - 1) + 1):
            for s in range(max(math.floor(c - t), 0), min(math.ceil(c + t), width - 1) + 1):
                out[i, q, s] = math.hypot(q - r, s - c)
    return out


def footprint_np(points, t: float, height: int, width: int) -> np.ndarray:
    """Brute-force footprint of one branch: the union of the windows of its points inside the image."""
    mask = np.zeros((height, width), bool)
    for r, c in np.asarray(points, np.float64):
        if 0 <= r <= height - 1 and 0 <= c <= width - 1:
            r0, r1 = max(math.floor(r - t), 0), min(math.ceil(r + t), height - 1)
            c0, c1 = max(math.floor(c - t), 0), min(math.ceil(c + t), width - 1)
            mask[r0 : r1 + 1, c0 : c1 + 1] = True
    return mask


def gaussian_np(d: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(-d^2 / (2 sigma^2)) / sqrt(2 pi sigma^2)``, 0 where ``d`` is infinite (docs/original.md, step 3)."""
    finite = np.isfinite(d)
    dd = np.where(finite, d, 0.0)
    return np.where(finite, np.exp(-(dd**2) / (2 * sigma**2)) / math.sqrt(2 * math.pi * sigma**2), 0.0)
