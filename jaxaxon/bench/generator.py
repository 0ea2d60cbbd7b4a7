"""Generator workloads: the complete generator and each stage on its own, batched.

Each stage is timed on inputs prepared by the stages before it (outside the timed call),
so the figures add up to roughly the complete generator's cost.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxaxon.bench.timing import Timing, time_jitted
from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.axons import render_axons
from jaxaxon.synth.boutons import place_boutons, render_boutons
from jaxaxon.synth.cells import place_cells, render_cells
from jaxaxon.synth.image import example_keys, generate
from jaxaxon.synth.noise import add_acquisition_noise, draw_noise_params, to_output
from jaxaxon.synth.scene import draw_scene
from jaxaxon.synth.spline import resample_spline
from jaxaxon.synth.walk import first_exit, random_walk

__all__ = ["STAGES", "time_stage", "time_generator"]

STAGES = ("walk_spline", "scene", "rasterise", "boutons", "cells", "noise")


def time_generator(cfg: GeneratorConfig, batch: int, repeats: int = 5) -> Timing:
    """The complete generator (`jaxaxon.generate`), ``batch`` images per call."""
    return time_jitted(lambda k: generate(k, cfg, batch), (jax.random.key(0),), items=batch, repeats=repeats)


def time_stage(stage: str, cfg: GeneratorConfig, batch: int, repeats: int = 5) -> Timing:
    """One stage for ``batch`` images (see `STAGES`).

    ``walk_spline`` times the candidate walks and their splines alone (``MaxAxons * MaxBran *
    branch_candidates`` per image); ``scene`` the whole scene with rejection; ``rasterise``
    the axon image and mask from scenes; ``boutons`` placement and drawing; ``cells``
    placement and drawing; ``noise`` acquisition noise and output scaling.
    """
    keys = example_keys(jax.random.key(0), batch)
    height, width = cfg.shape
    if stage == "walk_spline":
        n = batch * cfg.max_branches * cfg.branch_candidates
        walk_keys = jax.random.split(jax.random.key(1), n)

        def walks(ks):
            def one(k):
                w = random_walk(k, jnp.array([0.0, width / 2]), jnp.array([1.0, 0.0]),
                                n_steps=cfg.max_walk_steps, step_size=cfg.StepSize, conformity=cfg.conformity)  # fmt: skip
                control, n_pts, _ = first_exit(w, height, width)
                return resample_spline(control, n_pts, cfg.NSplinePoints)

            return jax.vmap(one)(ks)

        return time_jitted(walks, (walk_keys,), items=batch, repeats=repeats)
    scenes = jax.jit(jax.vmap(lambda k: draw_scene(k, cfg)))(keys)
    if stage == "scene":
        return time_jitted(jax.vmap(lambda k: draw_scene(k, cfg)), (keys,), items=batch, repeats=repeats)
    noise = jax.random.normal(jax.random.key(2), (batch, height, width))
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
    if stage == "cells":
        occupied = jax.jit(jax.vmap(lambda z, s: render_axons(z, s, cfg).image != 0))(noise, scenes)
        return time_jitted(
            jax.vmap(lambda k, o: render_cells(place_cells(k, o, cfg), cfg)), (keys, occupied), items=batch, repeats=repeats
        )
    if stage == "noise":
        signal = jnp.abs(noise)

        def noisy(ks, x):
            def one(k, x):
                k1, k2 = jax.random.split(k)
                sigma, lam = draw_noise_params(k1, cfg)
                return to_output(add_acquisition_noise(k2, x, sigma, lam, cfg), cfg)

            return jax.vmap(one)(ks, x)

        return time_jitted(noisy, (keys, signal), items=batch, repeats=repeats)
    raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
