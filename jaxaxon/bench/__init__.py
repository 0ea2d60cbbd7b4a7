"""Benchmark helpers behind `benchmarks/` and `jaxaxon bench` (timing, stage workloads)."""
