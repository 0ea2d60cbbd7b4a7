"""Benchmarks behind ``jaxaxon bench``: timing, workloads, the sections and the suite."""

# the suite's sections, in the order they run (kept here so that the CLI parser needs no JAX;
# `jaxaxon.bench.sections.REGISTRY` holds one entry per name)
SECTIONS = (
    "generator_batch",
    "presets",
    "depth",
    "generator_size",
    "stages",
    "series",
    "dataset",
    "training",
    "mixing",
    "scaling",
    "memory",
    "roofline",
)
