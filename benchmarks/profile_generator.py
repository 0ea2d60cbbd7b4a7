"""Profiles compiled generator calls with `jax.profiler` and lists the device work that takes the time.

Usage::

    python benchmarks/profile_generator.py --batch 1024 --calls 3 [--preset original | --params FILE] [--out FILE.json]

Traces ``--calls`` calls of the jitted 256x256 generator (after a warm-up call), reads the
trace back with `jax.profiler.ProfileData` (no TensorBoard plugin needed) and prints, per
device op / kernel name, the total time, the number of launches and the share of the busy
time, plus the launches per call (many tiny launches mean a latency-bound program). The
JSON holds the same rows.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

import jax

from jaxaxon import generate
from jaxaxon.atomic import write_json_atomic
from jaxaxon.bench.generator import lower_generator
from jaxaxon.config import GeneratorConfig

_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=.*?metadata=\{([^}]*)\}")
_FIELD = re.compile(r'(op_name|source_file|source_line)=("([^"]*)"|\d+)')


def hlo_sources(hlo_text: str) -> dict[str, str]:
    """Maps each optimised-HLO instruction name to the ``op_name`` in its metadata."""
    sources = {}
    for line in hlo_text.splitlines():
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        fields = {m.group(1): (m.group(3) if m.group(3) is not None else m.group(2)) for m in _FIELD.finditer(match.group(2))}
        sources[match.group(1)] = fields.get("op_name", "")
        sources[match.group(1).replace(".", "_")] = fields.get("op_name", "")  # GPU kernel names
    return sources


_SCOPES = ("scene", "walk", "spline", "overlap_test", "render_axons", "boutons", "cells", "noise")


def scope_of(op_name: str) -> str:
    """The generator's named scopes in an op name (``scene/spline``), or ``other``."""
    parts = [w for p in op_name.split("/") for w in re.findall(r"\w+", p) if w in _SCOPES]
    return "/".join(dict.fromkeys(parts)) or "other"


def _event_stats(event) -> dict:
    try:
        return {str(k): str(v) for k, v in event.stats}
    except Exception:  # noqa: BLE001 - stats are best effort across jaxlib versions
        return {}


def summarise_trace(path: str, top: int, sources: dict[str, str] | None = None) -> dict:
    """Aggregates the device events of one xplane.pb file.

    Args:
      path: the ``*.xplane.pb`` file written by `jax.profiler.trace`.
      top: how many rows to keep per table.
      sources: optional `hlo_sources` map used to name where each op comes from.

    Returns:
      ``{"planes": [...], "by_line": {line: [{"name", "total_ms", "count", "example_stats"}]}}``.
    """
    data = jax.profiler.ProfileData.from_file(path)
    planes = []
    by_line: dict[str, list] = {}
    for plane in data.planes:
        planes.append(plane.name)
        if not (plane.name.startswith("/device:") or plane.name.startswith("/host:CPU")):
            continue
        for line in plane.lines:
            totals: dict[str, float] = collections.defaultdict(float)
            counts: dict[str, int] = collections.defaultdict(int)
            stats: dict[str, dict] = {}
            for event in line.events:
                totals[event.name] += event.duration_ns
                counts[event.name] += 1
                if event.name not in stats:
                    stats[event.name] = _event_stats(event)
            if not totals or sum(totals.values()) <= 0:
                continue
            busy = sum(totals.values())
            scopes: dict[str, float] = collections.defaultdict(float)
            for name, total in totals.items():
                scopes[scope_of((sources or {}).get(name, ""))] += total
            rows = sorted(totals, key=totals.get, reverse=True)[:top]
            by_line[f"{plane.name} | {line.name}"] = {
                "busy_ms": busy / 1e6,
                "events": sum(counts.values()),
                "by_scope_ms": dict(sorted(((k, v / 1e6) for k, v in scopes.items()), key=lambda kv: -kv[1])),
                "rows": [
                    {
                        "name": name[:160],
                        "total_ms": totals[name] / 1e6,
                        "count": counts[name],
                        "share": totals[name] / busy,
                        "source": (sources or {}).get(name, "").replace("jit(_generate_jit)/", "")[:200],
                        "example_stats": {k: v[:200] for k, v in stats[name].items()},
                    }
                    for name in rows
                ],
            }
    return {"planes": planes, "by_line": by_line}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--preset", default="original", help="generator preset (default: original)")
    parser.add_argument("--params", default=None, help="parameter file (JSON) instead of the preset")
    parser.add_argument("--trace-dir", default=None, help="keep the trace here (default: a temporary folder)")
    parser.add_argument("--out", default=None, help="write the summary as JSON here")
    args = parser.parse_args(argv)

    cfg = GeneratorConfig.from_json(args.params) if args.params else GeneratorConfig.from_preset(args.preset)
    key = jax.random.key(0)
    t0 = time.perf_counter()
    jax.block_until_ready(generate(key, cfg, args.batch, 0))
    compile_s = time.perf_counter() - t0
    compiled = lower_generator(cfg, args.batch, key).compile()  # the program generate() runs
    sources = hlo_sources(compiled.as_text())
    trace_dir = args.trace_dir or tempfile.mkdtemp(prefix="jaxaxon_trace_")
    with jax.profiler.trace(trace_dir):
        t0 = time.perf_counter()
        for i in range(args.calls):
            jax.block_until_ready(generate(key, cfg, args.batch, (i + 1) * args.batch))
        wall = (time.perf_counter() - t0) / args.calls
    files = sorted(glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True))
    if not files:
        print(f"no xplane.pb under {trace_dir}", file=sys.stderr)
        return 1
    summary = summarise_trace(files[-1], args.top, sources)
    summary.update(
        device=str(jax.devices()[0].device_kind), batch=args.batch, calls=args.calls, preset=args.preset,
        first_call_s=compile_s, wall_s_per_call=wall, images_per_s=args.batch / wall,
    )  # fmt: skip
    if args.out:  # before printing: a closed pipe (| head) must not lose the file
        write_json_atomic(args.out, summary)
    print(f"{summary['device']}: batch {args.batch}, {wall * 1e3:.1f} ms/call, {args.batch / wall:,.0f} images/s")
    for line, info in summary["by_line"].items():
        if info["events"] < 2:
            continue
        print(f"\n## {line}: busy {info['busy_ms'] / args.calls:.2f} ms/call, {info['events'] / args.calls:.0f} events/call")
        print("by scope (ms/call): " + ", ".join(f"{k} {v / args.calls:.2f}" for k, v in info["by_scope_ms"].items()))
        print(f"{'ms/call':>9} {'n/call':>8} {'share':>6}  name")
        for row in info["rows"]:
            print(f"{row['total_ms'] / args.calls:9.3f} {row['count'] / args.calls:8.1f} {row['share']:6.1%}  {row['name'][:30]}  {row['source'][:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
