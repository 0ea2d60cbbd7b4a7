"""Memory of compiled programs, known without running them.

`compiled_memory` reads XLA's memory analysis of a compiled program (argument, output and
temporary buffer sizes: what the device must hold while it runs) and XLA's cost estimate;
`linear_fit` checks that a quantity grows linearly with the batch size; and
`largest_arrays` lists the biggest arrays of the optimised program with the source line
that made them, to find where the memory goes.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["compiled_memory", "linear_fit", "largest_arrays"]

_ANALYSIS_FIELDS = {
    "argument_bytes": "argument_size_in_bytes",
    "output_bytes": "output_size_in_bytes",
    "temp_bytes": "temp_size_in_bytes",
    "alias_bytes": "alias_size_in_bytes",
    "generated_code_bytes": "generated_code_size_in_bytes",
}
_COST_FIELDS = {"flops": "flops", "bytes_accessed": "bytes accessed", "transcendentals": "transcendentals"}


def compiled_memory(compiled: Any) -> dict | None:
    """XLA's memory analysis and cost estimate of a compiled program (``jax.stages.Compiled``).

    Returns:
      ``argument_bytes``, ``output_bytes``, ``temp_bytes``, ``alias_bytes``,
      ``generated_code_bytes``, ``total_bytes`` (arguments + outputs + temporaries -
      aliased: the device memory the program needs while it runs) and ``xla_cost``
      (``flops``, ``bytes_accessed``, ``transcendentals`` as XLA's cost model counts them;
      loop bodies may be counted once), or None when the backend gives no analysis.
    """
    try:
        analysis = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - unsupported on some backends / versions
        analysis = None
    if analysis is None:
        return None
    out: dict[str, Any] = {}
    for name, attr in _ANALYSIS_FIELDS.items():
        value = getattr(analysis, attr, None)
        if value is not None:
            out[name] = int(value)
    out["total_bytes"] = (
        out.get("argument_bytes", 0) + out.get("output_bytes", 0) + out.get("temp_bytes", 0) - out.get("alias_bytes", 0)
    )
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001
        cost = None
    if isinstance(cost, (list, tuple)):  # older JAX: one dict per computation
        cost = cost[0] if cost else None
    if cost:
        out["xla_cost"] = {k: float(cost[v]) for k, v in _COST_FIELDS.items() if v in cost}
    return out


def linear_fit(xs: list[float], ys: list[float]) -> dict:
    """Least-squares line ``y = slope * x + intercept`` and how far the points are from it.

    Returns:
      ``slope``, ``intercept`` and ``max_relative_residual`` (the largest ``|y - fit| / y``).
    """
    n = len(xs)
    if n < 2:
        raise ValueError("a linear fit needs at least two points")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    intercept = my - slope * mx
    residual = max(abs(y - (slope * x + intercept)) / max(abs(y), 1.0) for x, y in zip(xs, ys))
    return {"slope": slope, "intercept": intercept, "max_relative_residual": residual}


_DTYPE_BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4, "u32": 4, "f32": 4,
                "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16}  # fmt: skip
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(\w+)\[([\d,]*)\]\S*\s+([\w\-]+)\(")
_SOURCE = re.compile(r'source_file="([^"]+)"\s+source_line=(\d+)')
_FRAME = re.compile(r"stack_frame_id=(\d+)")
_CALLS = re.compile(r"calls=%?([\w.\-]+)")


def _frames(text: str) -> dict[int, str]:
    """``stack_frame_id -> "file.py:line (function)"`` from the HLO text's frame tables."""
    tables: dict[str, dict[int, str]] = {}
    current = None
    for line in text.splitlines():
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            current = tables.setdefault(line, {})
            continue
        if current is None:
            continue
        head, _, rest = line.partition(" ")
        if not head.isdigit():
            current = None
            continue
        current[int(head)] = rest.strip()
    files, functions = tables.get("FileNames", {}), tables.get("FunctionNames", {})
    locations = {}
    for i, text_ in tables.get("FileLocations", {}).items():
        f = re.search(r"file_name_id=(\d+)", text_)
        fn = re.search(r"function_name_id=(\d+)", text_)
        ln = re.search(r"\bline=(\d+)", text_)
        if f and ln:
            name = files.get(int(f.group(1)), "?").strip('"').rsplit("/", 1)[-1]
            func = functions.get(int(fn.group(1)), "?").strip('"') if fn else "?"
            locations[i] = f"{name}:{ln.group(1)} ({func})"
    frames = {}
    for i, text_ in tables.get("StackFrames", {}).items():
        loc = re.search(r"file_location_id=(\d+)", text_)
        if loc and int(loc.group(1)) in locations:
            frames[i] = locations[int(loc.group(1))]
    return frames


def largest_arrays(compiled: Any, top: int = 8) -> list[dict]:
    """The largest distinct arrays the optimised program materialises.

    Instructions inside fusion bodies are left out (they live in registers or are
    recomputed); a fusion's own result is kept, with the source line of the fusion's root.

    Args:
      compiled: a ``jax.stages.Compiled``.
      top: how many to list.

    Returns:
      Up to ``top`` records ``{"shape": "f32[8,256,256]", "bytes": ..., "op": ...,
      "source": "file.py:line (function)" or None, "count": instructions of that shape}``,
      largest first.
    """
    text = compiled.as_text()
    frames = _frames(text)

    def source_of(line: str) -> str | None:
        if m := _SOURCE.search(line):
            return f"{m.group(1).rsplit('/', 1)[-1]}:{m.group(2)}"
        if m := _FRAME.search(line):
            return frames.get(int(m.group(1)))
        return None

    computation, fused_root_source, kept = None, {}, []
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith("{"):
            words = line.split()
            computation = (words[1] if words[0] == "ENTRY" else words[0]).lstrip("%")
            continue
        match = _INSTRUCTION.match(line)
        if not match or computation is None:
            continue
        if computation.startswith(("fused", "wrapped_")):
            if line.lstrip().startswith("ROOT"):
                fused_root_source[computation] = source_of(line)
            continue
        kept.append((match, line))
    found: dict[str, dict] = {}
    for match, line in kept:
        dtype, dims, op = match.groups()
        if op == "parameter" or dtype not in _DTYPE_BYTES:
            continue
        shape = [int(d) for d in dims.split(",") if d]
        key = f"{dtype}[{dims}]"
        source = source_of(line)
        if source is None and (called := _CALLS.search(line)):
            source = fused_root_source.get(called.group(1))
        record = found.setdefault(
            key, {"shape": key, "bytes": _DTYPE_BYTES[dtype] * math.prod(shape), "op": op, "source": source, "count": 0}
        )
        record["count"] += 1
        if record["source"] is None and source is not None:
            record["source"], record["op"] = source, op
    return sorted(found.values(), key=lambda r: -r["bytes"])[:top]
