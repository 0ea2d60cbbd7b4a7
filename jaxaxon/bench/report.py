"""Outputs of the benchmark suite: a Markdown summary, plots and the result files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from jaxaxon.atomic import save_figure, write_json_atomic, write_text_atomic

__all__ = ["OutputError", "markdown", "save_plots", "target_lines", "write_results", "resolve_out", "result_name"]


class OutputError(ValueError):
    """The result files cannot be written where asked."""


def result_name(device: dict) -> str:
    """Short file name for a device kind: ``cpu``, ``h100``, ``h200``, ``a100``, ... ."""
    if device.get("backend") == "cpu":
        return "cpu"
    kind = str(device.get("device_kind", "device")).lower()
    match = re.search(r"\b([a-z]\d{2,4}[a-z]?)\b", kind)
    return match.group(1) if match else re.sub(r"[^a-z0-9]+", "_", kind).strip("_") or "device"


def markdown(result: dict) -> str:
    """A short Markdown report of a `jaxaxon.bench.suite.run_suite` result: a line on the
    run, each section's lines (`jaxaxon.bench.sections`), the targets, the errors."""
    from jaxaxon.bench import SECTIONS
    from jaxaxon.bench.sections import section_lines

    meta = result["meta"]
    dev = meta["device"]
    out = [
        f"**{dev['device_kind']}** ({dev['backend']}, {dev['device_count']} device(s), "
        f"{dev.get('host_cpus')} host CPUs), "
        f"JAX {dev['jax_version']}, suite '{meta['settings']['name']}', {meta['date_utc']}; load average "
        f"{meta.get('load_average_start')} at start, {meta.get('load_average_end')} at the end; "
        f"median of {meta['settings']['repeats']} timed runs after warm-up.",
        "",
    ]
    for name in SECTIONS:
        if result.get(name):
            out += section_lines(name, result[name], result)
    out += target_lines(result)
    if meta.get("errors"):
        out += ["Errors:", *[f"- {e}" for e in meta["errors"]], ""]
    return "\n".join(out).rstrip() + "\n"


# Targets the report checks: the complete 256x256 generator's rate per device kind, the
# on-the-fly generation share of a training step on an H100, and the 'randomised' preset's
# cost relative to 'original'.
TARGET_IMAGES_PER_S = {"cpu": 30.0, "h100": 50_000.0}
TARGET_ONFLY_OVERHEAD = 0.10
MAX_RANDOMISED_SLOWDOWN = 2.0


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def target_lines(result: dict) -> list[str]:
    """Targets met or missed by this run (only those that apply to its device and size)."""
    kind = result_name(result["meta"]["device"])
    lines = []
    gb = result.get("generator_batch") or {}
    rates = [r["items_per_s"] for r in gb.get("rows", []) if "items_per_s" in r]
    target = TARGET_IMAGES_PER_S.get(kind)
    if target and rates and gb.get("image_shape") == [256, 256]:
        best = max(rates)
        verdict = _verdict(best >= target)
        lines.append(f"- complete 256x256 generator >= {target:,.0f} images/s on {kind}: {best:,.1f} ({verdict})")
    for r in (result.get("presets") or {}).get("rows", []):
        if r["preset"] == "randomised" and r.get("relative_to_original") is not None:
            slowdown = 1.0 / r["relative_to_original"]
            lines.append(
                f"- 'randomised' preset within {MAX_RANDOMISED_SLOWDOWN:.0f}x of 'original': {slowdown:.2f}x slower "
                f"({_verdict(slowdown <= MAX_RANDOMISED_SLOWDOWN)})"
            )
    if kind == "h100":
        for r in (result.get("training") or {}).get("rows", []):
            share = r["generation_overhead_fraction"]
            lines.append(
                f"- on-the-fly generation < {TARGET_ONFLY_OVERHEAD:.0%} of a {r['name']} training step: "
                f"{share:.1%} ({_verdict(share < TARGET_ONFLY_OVERHEAD)})"
            )
    return ["Targets:", *lines, ""] if lines else []


def save_plots(result: dict, stem: str | os.PathLike) -> list[Path]:
    """Plots next to ``stem``: ``STEM_batch.png`` (images/s vs batch size),
    ``STEM_size.png`` (images/s and Mpixel/s vs image size) and ``STEM_memory.png``
    (compiled memory vs batch size). Returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    dev = result["meta"]["device"]
    title = f"{dev['device_kind']} ({dev['backend']}), JAX {dev['jax_version']}"
    written = []
    stages = [r for r in result.get("stages", {}).get("rows", []) if "items_per_s" in r]
    labels = result.get("stages", {}).get("labels", {})

    gb = [r for r in result.get("generator_batch", {}).get("rows", []) if "items_per_s" in r]
    if gb:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.plot(
            [r["batch"] for r in gb], [r["items_per_s"] for r in gb], "o-", lw=2, color="k", label="complete generator"
        )
        side = gb[0]["image_shape"][0]
        for stage in dict.fromkeys(r["stage"] for r in stages):
            pts = sorted((r["batch"], r["items_per_s"]) for r in stages if r["stage"] == stage and r["size"] == side)
            if len(pts) >= 2:
                ax.plot(*zip(*pts), ".--", label=labels.get(stage, stage))
        _loglog(ax, "batch size", "images/s", f"Throughput vs batch size, {side}x{side}\n{title}", legend_size=7)
        written.append(_save(fig, stem.with_name(stem.name + "_batch.png")))

    gs = [r for r in result.get("generator_size", {}).get("rows", []) if "items_per_s" in r]
    if gs:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
        sides = [r["size"] for r in gs]
        ax1.plot(sides, [r["items_per_s"] for r in gs], "o-", lw=2, color="k", label="complete generator")
        ax2.plot(sides, [r["megapixels_per_s"] for r in gs], "o-", lw=2, color="k", label="complete generator")
        for stage in dict.fromkeys(r["stage"] for r in stages):
            pts = {}
            for r in stages:
                if (
                    r["stage"] == stage
                    and r["size"] in sides
                    and r["batch"] == next(g["batch"] for g in gs if g["size"] == r["size"])
                ):
                    pts[r["size"]] = r["items_per_s"]
            if len(pts) >= 2:
                xs = sorted(pts)
                ax1.plot(xs, [pts[x] for x in xs], ".--", label=labels.get(stage, stage))
                ax2.plot(xs, [pts[x] * x * x / 1e6 for x in xs], ".--", label=labels.get(stage, stage))
        for ax, ylabel in ((ax1, "images/s"), (ax2, "Mpixel/s")):
            ax.set(xscale="log", yscale="log", xlabel="image side (pixels)", ylabel=ylabel)
            ax.set_xticks(sides, [str(s) for s in sides])
            ax.grid(True, which="both", alpha=0.3)
        ax1.legend(fontsize=7)
        fig.suptitle(
            f"Throughput vs image size (about {result['generator_size']['pixels_per_call']:,} pixels per call)"
            f"\n{title}",
            fontsize=9,
        )
        written.append(_save(fig, stem.with_name(stem.name + "_size.png")))

    mem = result.get("memory", {})
    if mem.get("rows"):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        rows = mem["rows"]
        ax.plot(
            [r["batch"] for r in rows],
            [r["total_bytes"] / 1e9 for r in rows],
            "o-",
            color="k",
            label="total (compiled)",
        )
        ax.plot([r["batch"] for r in rows], [r["temp_bytes"] / 1e9 for r in rows], "s--", label="temporaries")
        budget = mem.get("budget", {})
        if budget.get("budget_bytes"):
            ax.axhline(
                budget["budget_bytes"] / 1e9, color="r", lw=1, label=f"{budget['budget_bytes'] / 1e9:.0f} GB budget"
            )
        shape = "x".join(map(str, mem["image_shape"]))
        _loglog(ax, "batch size", "GB", f"Compiled memory of the generator, {shape}\n{title}", legend_size=8)
        written.append(_save(fig, stem.with_name(stem.name + "_memory.png")))
    return written


def _loglog(ax, xlabel: str, ylabel: str, title: str, legend_size: int) -> None:
    """Log-log axes with labels, a light grid and a legend."""
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path)


def resolve_out(out: str | os.PathLike, device: dict | None = None) -> Path:
    """The JSON path for ``--out``, checked writable before any work is done.

    ``out`` may be a directory (existing, or given with a trailing slash): the file is then
    named after the device kind (`result_name`, e.g. ``cpu.json``; ``device`` defaults to
    the default JAX device). Raises `OutputError` when it cannot be written.
    """
    text = os.fspath(out)
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", os.sep)):
        if device is None:
            from jaxaxon.bench.timing import device_info

            device = device_info()
        path = path / f"{result_name(device)}.json"
    if path.suffix != ".json":
        raise OutputError(f"--out {text}: expected a .json file name or a directory")
    if path.is_dir():
        raise OutputError(f"--out {text}: {path} is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f".{path.name}.probe")
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise OutputError(f"--out {text}: cannot write in {path.parent}: {err.strerror or err}") from None
    return path


def write_results(result: dict, out: str | os.PathLike) -> list[Path]:
    """Writes ``OUT`` (JSON), ``OUT`` with ``.md`` (the Markdown report) and the plots
    (`save_plots`, same stem), each atomically (see `resolve_out` for ``OUT``). Returns the
    paths written."""
    out = resolve_out(out, result["meta"]["device"])
    written = [write_json_atomic(out, result), write_text_atomic(out.with_suffix(".md"), markdown(result))]
    written += save_plots(result, out.with_suffix(""))
    return written
