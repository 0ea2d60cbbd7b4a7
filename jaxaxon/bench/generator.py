"""Generator workloads: the complete generator and each stage on its own, batched.

Each stage is timed on inputs prepared by the stages before it (outside the timed call),
so the figures add up to roughly the complete generator's cost (a little more: the
complete generator fuses across stage boundaries).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxaxon.bench.timing import Timing, time_jitted
from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.axons import render_axons
from jaxaxon.synth.boutons import place_boutons, render_boutons
from jaxaxon.synth.cells import place_cells, render_cells
from jaxaxon.synth.image import _generate_jit, as_key, example_keys, start_index_array
from jaxaxon.synth.imaging import imaging_model
from jaxaxon.synth.scene import draw_scenes
from jaxaxon.synth.series import _generate_series_jit
from jaxaxon.synth.spline import resample_spline
from jaxaxon.synth.walk import first_exit, random_walk

__all__ = ["STAGES", "STAGE_LABELS", "lower_generator", "time_stage", "time_generator", "time_series"]

STAGES = ("walk_spline", "scene", "rasterise", "boutons", "cells", "noise")
STAGE_LABELS = {
    "walk_spline": "walks + splines (all candidates)",
    "scene": "scene (walks, splines, rejection)",
    "rasterise": "axon rasterisation",
    "boutons": "boutons (placement + drawing)",
    "cells": "cells (drawing + placement)",
    "noise": "acquisition noise + output",
}


def lower_generator(cfg: GeneratorConfig, batch: int, key: jax.Array | int = 0) -> jax.stages.Lowered:
    """The program behind ``jaxaxon.generate(key, cfg, batch)``, lowered (``.compile()`` it for
    its memory analysis, cost estimate or optimised HLO: the same program ``generate`` runs)."""
    return _generate_jit.lower(as_key(key), cfg, batch, start_index_array(0))


def time_generator(cfg: GeneratorConfig, batch: int, repeats: int = 5) -> Timing:
    """The complete generator (`jaxaxon.generate`), ``batch`` images per call.

    Compiled through the jitted function behind ``generate`` with the same argument types,
    so later ``generate(key, cfg, batch, start)`` calls (the dataset writer's) reuse the
    compilation.
    """
    args = (as_key(0), cfg, batch, start_index_array(0))
    return time_jitted(_generate_jit, args, items=batch, repeats=repeats, static_argnums=(1, 2))


def time_series(cfg: GeneratorConfig, batch: int, repeats: int = 5) -> Timing:
    """The time-series generator (`jaxaxon.generate_series`), ``batch`` series per call."""
    args = (as_key(0), cfg, batch, start_index_array(0))
    return time_jitted(_generate_series_jit, args, items=batch, repeats=repeats, static_argnums=(1, 2))


@functools.partial(jax.jit, static_argnums=(1,))
def _scenes(keys: jax.Array, cfg: GeneratorConfig):
    return draw_scenes(keys, cfg)


@functools.partial(jax.jit, static_argnums=(2,))
def _occupied(noise: jax.Array, scenes, cfg: GeneratorConfig) -> jax.Array:
    return jax.vmap(lambda z, s: render_axons(z, s, cfg).image != 0)(noise, scenes)


def time_stage(stage: str, cfg: GeneratorConfig, batch: int, repeats: int = 5) -> Timing:
    """One stage for ``batch`` images (see `STAGES`).

    ``walk_spline`` times the candidate walks and their splines alone (``MaxAxons * MaxBran *
    branch_candidates`` per image); ``scene`` the whole scene with rejection; ``rasterise``
    the axon image and mask from scenes; ``boutons`` placement and drawing; ``cells``
    placement and drawing; ``noise`` acquisition noise and output scaling (the config's
    noise model).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    keys = example_keys(jax.random.key(0), batch)
    height, width = cfg.shape
    if stage == "walk_spline":
        n = batch * cfg.max_branches * cfg.branch_candidates
        walk_keys = jax.random.split(jax.random.key(1), n)

        def walks(ks):
            def one(k):
                start, heading = jnp.array([0.0, width / 2]), jnp.array([1.0, 0.0])
                w = random_walk(
                    k, start, heading, n_steps=cfg.max_walk_steps, step_size=cfg.StepSize, conformity=cfg.conformity
                )
                control, n_pts, _ = first_exit(w, height, width)
                return resample_spline(control, n_pts, cfg.NSplinePoints)

            return jax.vmap(one)(ks)

        return time_jitted(walks, (walk_keys,), items=batch, repeats=repeats)
    if stage == "scene":
        return time_jitted(lambda ks: draw_scenes(ks, cfg), (keys,), items=batch, repeats=repeats)
    noise = jax.random.normal(jax.random.key(2), (batch, height, width))
    if stage == "noise":
        signal = jnp.abs(noise)
        model = imaging_model(cfg.noise_model)

        def noisy(ks, x):
            def one(k, x):
                k1, k2 = jax.random.split(k)
                return model.image(k1, k2, x, cfg)

            return jax.vmap(one)(ks, x)

        return time_jitted(noisy, (keys, signal), items=batch, repeats=repeats)
    scenes = _scenes(keys, cfg)
    if stage == "rasterise":
        return time_jitted(
            jax.vmap(lambda z, s: render_axons(z, s, cfg)), (noise, scenes), items=batch, repeats=repeats
        )
    if stage == "boutons":

        def boutons(ks, z, s):
            def one(k, z, s):
                k1, k2 = jax.random.split(k)
                return render_boutons(k2, place_boutons(k1, s, cfg), s, z, cfg)

            return jax.vmap(one)(ks, z, s)

        return time_jitted(boutons, (keys, noise, scenes), items=batch, repeats=repeats)
    occupied = _occupied(noise, scenes, cfg)
    return time_jitted(
        jax.vmap(lambda k, o: render_cells(place_cells(k, o, cfg), cfg)), (keys, occupied), items=batch, repeats=repeats
    )
