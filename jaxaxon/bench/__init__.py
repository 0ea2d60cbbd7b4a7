"""Benchmark helpers behind `benchmarks/` and `jaxaxon bench` (timing, workloads, the suite)."""

# the suite's sections, in the order they run (kept here so that the CLI parser needs no JAX)
SECTIONS = (
    "generator_batch",
    "presets",
    "generator_size",
    "stages",
    "series",
    "dataset",
    "training",
    "scaling",
    "memory",
    "roofline",
)
