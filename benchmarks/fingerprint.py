"""Fingerprints of generated batches and XLA's cost estimate per image, to compare two commits.

Usage::

    python benchmarks/fingerprint.py --out before.json                     # on the old commit
    python benchmarks/fingerprint.py --out after.json --compare before.json  # on the new one

For each preset and batch size: a SHA-256 over every field of ``generate(key(seed), cfg,
batch, start)`` for two (seed, start) pairs, and XLA's estimate of the bytes the compiled
generator reads and writes per image (loop bodies counted once), its flops per image and its
compiled memory. ``--compare`` prints, per row, whether the batches are bit-identical and the
ratio of the byte estimates, and exits 1 when a fingerprint differs. Compare runs of the same
JAX version on the same backend: a spline's last bits depend on how XLA fuses it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import jax
import numpy as np

from jaxaxon import generate
from jaxaxon.atomic import write_json_atomic
from jaxaxon.bench.generator import lower_generator
from jaxaxon.bench.memory import compiled_memory
from jaxaxon.bench.table import table
from jaxaxon.config import GeneratorConfig

DRAWS = ((0, 0), (7, 13))  # (seed, start index) of the fingerprinted batches


def batch_digest(cfg: GeneratorConfig, batch: int) -> str:
    """SHA-256 over the field names and bytes of the `DRAWS` batches."""
    digest = hashlib.sha256()
    for seed, start in DRAWS:
        out = generate(jax.random.key(seed), cfg, batch, start)
        for path, leaf in jax.tree_util.tree_leaves_with_path(out):
            array = np.asarray(leaf)
            digest.update(f"{jax.tree_util.keystr(path)}:{array.dtype}:{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def fingerprint(preset: str, batch: int) -> dict:
    """The record of one preset and batch size."""
    cfg = GeneratorConfig.from_preset(preset)
    memory = compiled_memory(lower_generator(cfg, batch).compile()) or {}
    cost = memory.get("xla_cost", {})
    return {
        "preset": preset,
        "batch": batch,
        "sha256": batch_digest(cfg, batch),
        "bytes_accessed_per_image": cost.get("bytes_accessed", float("nan")) / batch,
        "flops_per_image": cost.get("flops", float("nan")) / batch,
        "compiled_bytes": memory.get("total_bytes"),
    }


def compare(new: list[dict], old: list[dict]) -> tuple[list[str], bool]:
    """Table lines comparing two runs' rows (matched by preset and batch) and whether every
    matched fingerprint is equal."""
    before = {(r["preset"], r["batch"]): r for r in old}
    rows, same = [], True
    for r in new:
        o = before.get((r["preset"], r["batch"]))
        after = r["bytes_accessed_per_image"]
        if o is None:
            rows.append((r["preset"], r["batch"], "not in the old run", None, f"{after / 1e6:.1f}"))
            continue
        equal = o["sha256"] == r["sha256"]
        same &= equal
        old_bytes = o["bytes_accessed_per_image"]
        rows.append((r["preset"], r["batch"], "yes" if equal else "**no**", f"{old_bytes / 1e6:.1f}",
                     f"{after / 1e6:.1f}", f"{after / old_bytes:.2f}"))  # fmt: skip
    header = ["preset", "batch", "bit-identical", "XLA MB/image before", "after", "after / before"]
    return table(header, rows), same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="original,realistic,randomised")
    parser.add_argument("--batches", default="8,32", help="comma-separated batch sizes")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    parser.add_argument("--compare", default=None, help="a JSON written by an earlier run")
    args = parser.parse_args(argv)
    rows = [fingerprint(p, int(b)) for p in args.presets.split(",") for b in args.batches.split(",")]
    result = {"jax": jax.__version__, "backend": jax.default_backend(), "rows": rows}
    if args.out:
        write_json_atomic(args.out, result)
    print(json.dumps(result, indent=1))
    if args.compare:
        with open(args.compare) as f:
            old = json.load(f)
        lines, same = compare(rows, old["rows"])
        print("\n".join(lines))
        if (old.get("jax"), old.get("backend")) != (result["jax"], result["backend"]):
            print(f"note: the old run used JAX {old.get('jax')} on {old.get('backend')}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
