"""The benchmark suite (same as ``jaxaxon bench``): every workload, JSON + Markdown + plots.

Usage::

    python benchmarks/bench_suite.py --quick --out benchmarks/results/    # cpu.json on a CPU
    python benchmarks/bench_suite.py --out benchmarks/results/           # full; h100.json on an H100

See ``jaxaxon bench --help`` for every option.
"""

from __future__ import annotations

import sys

from jaxaxon.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
