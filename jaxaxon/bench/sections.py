"""The suite's sections as a table: name -> `Section` (run it, and its report lines).

A section's ``run(ctx)`` returns its JSON-ready record (None: nothing to run with these
settings); ``lines(record, result)`` turns the record into Markdown. A record without the
section's ``ok_key`` (skipped or failed) is reported by one status line.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable
from typing import Any

import jax

from jaxaxon.bench import generator as gen_bench
from jaxaxon.bench.memory import compiled_memory, largest_arrays, linear_fit
from jaxaxon.bench.table import num, table
from jaxaxon.bench.timing import Timing, load_average
from jaxaxon.config import ConfigError, GeneratorConfig

__all__ = ["Context", "Section", "REGISTRY", "section_lines", "static_sizes", "stage_shares", "depth_configs"]


@dataclasses.dataclass
class Context:
    """What a section runs with: settings, base config, device, progress and error log.

    Generator timings are cached by ``(config, batch)``: sections that need the same
    figure (sizes, presets, roofline) time it once.
    """

    settings: Any  # jaxaxon.bench.suite.SuiteSettings
    cfg: GeneratorConfig
    device: dict
    on_progress: Callable[[str], None] = lambda _msg: None
    workdir: Any = None
    errors: list[str] = dataclasses.field(default_factory=list)
    generator_timings: dict = dataclasses.field(default_factory=dict)

    def say(self, message: str) -> None:
        self.on_progress(message)

    def record(self, timing: Timing, **extra: Any) -> dict:
        """A timing as a JSON record with ``ms_per_item``, the load average and ``extra``."""
        out = {**extra, **timing.as_dict(), "load_average": load_average()}
        out["ms_per_item"] = 1e3 * timing.median_s / timing.items
        return out

    def guarded(self, label: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, or an error record (logged) when it raises: one failing workload must not
        lose the others."""
        try:
            return fn()
        except Exception as err:  # noqa: BLE001
            self.errors.append(f"{label}: {type(err).__name__}: {err}")
            self.say(f"{label}: FAILED ({type(err).__name__}: {err})")
            return {
                "status": "error",
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=5),
            }

    def generator(self, cfg: GeneratorConfig, batch: int, label: str) -> dict:
        """The complete generator's timing record for ``(cfg, batch)`` (cached)."""
        key = (cfg, batch)
        if key not in self.generator_timings:

            def run() -> dict:
                t = gen_bench.time_generator(cfg, batch, self.settings.repeats)
                return self.record(t, batch=batch, image_shape=list(cfg.shape))

            self.generator_timings[key] = record = self.guarded(label, run)
            if "items_per_s" in record:
                self.say(f"{label}: {record['items_per_s']:.1f} images/s (compile {record['compile_s']:.1f} s)")
        return self.generator_timings[key]


@dataclasses.dataclass(frozen=True)
class Section:
    """One suite section.

    Attributes:
      run: ``ctx -> record`` (None: not run with these settings).
      lines: ``(record, whole result) -> Markdown lines``.
      title: the name in a status line (skipped or failed record).
      ok_key: a key every successful record has.
    """

    run: Callable[[Context], dict | None]
    lines: Callable[[dict, dict], list[str]]
    title: str
    ok_key: str


REGISTRY: dict[str, Section] = {}


def _register(name: str, title: str, ok_key: str, lines: Callable[[dict, dict], list[str]]):
    def wrap(run: Callable[[Context], dict | None]):
        REGISTRY[name] = Section(run, lines, title, ok_key)
        return run

    return wrap


def section_lines(name: str, record: dict, result: dict) -> list[str]:
    """The Markdown lines of one section's record (a status line when it did not run)."""
    section = REGISTRY[name]
    if section.ok_key not in record:
        return [f"{section.title}: {record.get('status')} ({record.get('reason') or record.get('error')})", ""]
    return section.lines(record, result)


# ----------------------------------------------------------------------------- helpers


def _ok(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "items_per_s" in r]


def _failed(rows: list[dict], what: str) -> list[str]:
    return [
        f"- {what} {r.get('preset', r.get('size', r.get('batch', '')))}: {r.get('status')} "
        f"({r.get('reason') or r.get('error')})"
        for r in rows
        if "items_per_s" not in r
    ]


def _mb(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 1e6:,.1f}"


def _shape(shape: list[int]) -> str:
    return "x".join(map(str, shape))


def _compiled_mb(r: dict) -> str:
    return _mb((r.get("compiled") or {}).get("total_bytes"))


def _accessed_mb_per_item(r: dict) -> str:
    """XLA's estimate of the bytes a compiled call reads and writes, per item (loop bodies
    counted once), in MB."""
    accessed = ((r.get("compiled") or {}).get("xla_cost") or {}).get("bytes_accessed")
    return _mb(None if accessed is None else accessed / r["batch"])


def _sized(cfg: GeneratorConfig, side: int) -> GeneratorConfig:
    return cfg.replace(width=side, height=side)


def _size_batch(settings: Any, side: int) -> int:
    return max(1, settings.pixels_per_call // (side * side))


def static_sizes(cfg: GeneratorConfig) -> dict:
    """The static sizes a config compiles to (what grows with the image size)."""
    from jaxaxon.synth.cells import canvas_halfsize
    from jaxaxon.synth.imaging.original import poisson_table
    from jaxaxon.synth.series import series_geometry

    canvas, view, _ = series_geometry(cfg)
    return {
        "max_walk_steps": cfg.max_walk_steps,
        "branch_slots": cfg.max_branches,
        "branch_candidates": cfg.branch_candidates,
        "spline_points": cfg.NSplinePoints,
        "raster_halfwidth": cfg.raster_halfwidth,
        "cell_canvas_side": 2 * canvas_halfsize(cfg) + 1,
        "poisson_thresholds": int(poisson_table(cfg.lambdaMin, cfg.lambdaMax).shape[1]),
        "series_canvas": list(canvas.shape),
        "series_view": list(view.shape),
    }


def stage_shares(result: dict) -> dict | None:
    """``{"size", "batch", "ms_per_image": {stage: ms}, "share": {stage: fraction}}`` of the
    stage timings at the base image size and the largest batch timed there (the
    ``walk_spline`` part is inside ``scene`` and left out of the sum)."""
    stages = result.get("stages", {}).get("rows", [])
    side = result.get("meta", {}).get("config", {}).get("height")
    rows = [r for r in stages if r.get("size") == side and "items_per_s" in r]
    if not rows:
        return None
    batch = max(r["batch"] for r in rows)
    ms = {r["stage"]: r["ms_per_item"] for r in rows if r["batch"] == batch}
    summed = sum(v for k, v in ms.items() if k != "walk_spline")
    share = {k: v / summed for k, v in ms.items() if k != "walk_spline"} if summed else {}
    return {"size": side, "batch": batch, "ms_per_image": ms, "share": share, "sum_ms_per_image": summed}


def _memory_source(rows: list[dict]) -> str:
    sources = {r.get("memory_source") for r in rows if "memory_source" in r}
    return "/".join(sorted(s for s in sources if s)) or "n/a"


# ----------------------------------------------------------------------------- generator


def _generator_batch_lines(rec: dict, result: dict) -> list[str]:
    octave = result["meta"]["original_octave_seconds"]
    ok = _ok(rec["rows"])
    out = []
    if ok:
        best = max(ok, key=lambda r: r["items_per_s"])
        out += [
            f"Complete generator, {_shape(rec['image_shape'])}: **{best['items_per_s']:,.1f} images/s** "
            f"(batch {best['batch']}, load {best['load_average']}) = {best['ms_per_item']:.2f} ms/image; the "
            f"original under Octave: {octave['single_image_median']} s/image median "
            f"({octave['single_image_range'][0]}-{octave['single_image_range'][1]} s): "
            f"**{octave['single_image_median'] * best['items_per_s']:,.0f}x faster**.",
            "",
        ]
    header = ["batch", "images/s", "ms/image", "compile s", f"peak memory MB ({_memory_source(rec['rows'])})",
              "compiled program MB", "XLA MB accessed/image"]  # fmt: skip
    rows = [
        (r["batch"], num(r["items_per_s"]), f"{r['ms_per_item']:.2f}", f"{r['compile_s']:.1f}", _mb(r["peak_bytes"]),
         _compiled_mb(r), _accessed_mb_per_item(r))
        for r in ok
    ]  # fmt: skip
    note = ["", "XLA MB accessed/image: XLA's cost estimate of the bytes the compiled call reads and writes "
            "(loop bodies counted once), per image."]  # fmt: skip
    return out + table(header, rows) + _failed(rec["rows"], "batch") + note + [""]


@_register("generator_batch", "Complete generator", "rows", _generator_batch_lines)
def _generator_batch(ctx: Context) -> dict:
    cfg = ctx.cfg
    rows = [ctx.generator(cfg, b, f"generator {cfg.height}x{cfg.width} batch {b}") for b in ctx.settings.batches]
    return {"image_shape": list(cfg.shape), "rows": rows}


def _presets_lines(rec: dict, result: dict) -> list[str]:
    rows = [
        (r["preset"], num(r["items_per_s"]), f"{r['ms_per_item']:.2f}", num(r.get("relative_to_original"), 2, ""),
         _accessed_mb_per_item(r))
        for r in _ok(rec["rows"])
    ]  # fmt: skip
    head = [f"Generator presets ({_shape(rec['image_shape'])}, batch {rec['batch']}):", ""]
    lines = table(["preset", "images/s", "ms/image", "relative to original", "XLA MB accessed/image"], rows)
    return head + lines + _failed(rec["rows"], "preset") + [""]


@_register("presets", "Generator presets", "rows", _presets_lines)
def _presets(ctx: Context) -> dict:
    """The complete generator under each named preset at the base size and largest batch; the
    ratio to 'original' is the cost of the imaging model and of the drawn ranges."""
    cfg, batch = ctx.cfg, max(ctx.settings.batches)
    rows = []
    for name in ctx.settings.presets:
        try:
            preset_cfg = GeneratorConfig.from_preset(name).replace(width=cfg.width, height=cfg.height)
        except ConfigError as err:
            rows.append({"preset": name, "status": "invalid", "reason": str(err)})
            continue
        record = ctx.generator(preset_cfg, batch, f"preset {name} {cfg.height}x{cfg.width} batch {batch}")
        rows.append({"preset": name, **record})
    base = next((r for r in rows if r["preset"] == "original" and "items_per_s" in r), None)
    for r in rows:
        if base is not None and "items_per_s" in r:
            r["relative_to_original"] = r["items_per_s"] / base["items_per_s"]
    return {"image_shape": list(cfg.shape), "batch": batch, "rows": rows}


# 3-D slab settings of the depth section: the realistic preset seen as a slab (jaxaxon/params/depth_mean.json)
DEPTH_BENCH = {"defocused_axons": [25, 45], "slab_depth": 30, "axial_sigma": 6, "stack_depth": 6}
DEPTH_BENCH_VARIANTS = (("section", "in_focus"), ("max", "in_focus"), ("mean", "in_focus"), ("mean", "all"))
DEPTH_COST_BUDGET = 2.0  # a depth mode may cost at most this many times its 2-D twin


def depth_configs(cfg: GeneratorConfig) -> tuple[GeneratorConfig, list[tuple[str, GeneratorConfig]]]:
    """The depth section's 2-D twin (the realistic preset at ``cfg``'s size) and its depth
    variants ``(label, config)``."""
    twin = GeneratorConfig.from_preset("realistic", width=cfg.width, height=cfg.height)
    variants = [
        (f"{mode}, labels {labels}", twin.replace(depth_mode=mode, depth_labels=labels, **{
            k: tuple(v) if isinstance(v, list) else v for k, v in DEPTH_BENCH.items()}))
        for mode, labels in DEPTH_BENCH_VARIANTS
    ]  # fmt: skip
    return twin, variants


def _depth_lines(rec: dict, result: dict) -> list[str]:
    rows = [
        (r["variant"], num(r["items_per_s"]), f"{r['ms_per_item']:.2f}", num(r.get("cost_ratio"), 2, ""))
        for r in _ok(rec["rows"])
    ]
    head = [
        f"Depth modes ({_shape(rec['image_shape'])}, batch {rec['batch']}; realistic preset with {rec['settings']}) "
        f"against their 2-D twin: cost = median over {rec['rounds']} interleaved rounds of ms/image over the twin's "
        f"(budget {rec['budget']:g}x; all within: {rec['within_budget']}):",
        "",
    ]
    lines = table(["variant", "images/s", "ms/image", "cost / 2-D twin"], rows)
    return head + lines + _failed(rec["rows"], "variant") + [""]


def _interleaved_seconds(cfgs: list[GeneratorConfig], batch: int, rounds: int) -> list[list[float]]:
    """``[round][config]`` seconds of one call of each (compiled) generator, the configs
    taking turns in every round, so a load that drifts during the run weighs on all alike."""
    import numpy as np

    from jaxaxon.synth.image import _generate_jit, as_key, start_index_array

    args = (as_key(0), batch, start_index_array(0))
    out = []
    for _ in range(rounds):
        row = []
        for cfg in cfgs:
            t0 = time.perf_counter()
            jax.block_until_ready(_generate_jit(args[0], cfg, args[1], args[2]))
            row.append(time.perf_counter() - t0)
        out.append(row)
    return np.asarray(out).tolist()


@_register("depth", "Depth modes", "rows", _depth_lines)
def _depth(ctx: Context) -> dict:
    """Each depth mode against the same config with depth off: the cost of the defocused
    population and the projection. Each config is compiled and timed (`Context.generator`),
    then all take turns for ``repeats`` more rounds; ``cost_ratio`` is the median over the
    rounds of a variant's time over the twin's in the same round."""
    import numpy as np

    batch = max(ctx.settings.batches)
    twin, variants = depth_configs(ctx.cfg)
    shape = f"{ctx.cfg.height}x{ctx.cfg.width}"
    rows = [{"variant": "off (2-D twin)", **ctx.generator(twin, batch, f"depth off (2-D twin) {shape} batch {batch}")}]
    cfgs = [twin]
    for label, cfg in variants:
        rows.append({"variant": label, **ctx.generator(cfg, batch, f"depth {label} {shape} batch {batch}")})
        cfgs.append(cfg)
    ok = [i for i, r in enumerate(rows) if "items_per_s" in r]
    rounds = ctx.settings.repeats
    if ok and ok[0] == 0:
        seconds = np.asarray(_interleaved_seconds([cfgs[i] for i in ok], batch, rounds))  # [rounds, len(ok)]
        for j, i in enumerate(ok):
            rows[i]["interleaved_s"] = seconds[:, j].tolist()
            rows[i]["cost_ratio"] = float(np.median(seconds[:, j] / seconds[:, 0]))
    ratios = [r["cost_ratio"] for r in rows[1:] if "cost_ratio" in r]
    costs = ", ".join(f"{r['variant']} {r['cost_ratio']:.2f}" for r in rows[1:] if "cost_ratio" in r)
    ctx.say(f"depth cost / 2-D twin: {costs}")
    return {
        "image_shape": list(ctx.cfg.shape),
        "batch": batch,
        "settings": DEPTH_BENCH,
        "budget": DEPTH_COST_BUDGET,
        "rounds": rounds,
        "max_cost_ratio": max(ratios) if ratios else None,
        "within_budget": bool(ratios) and max(ratios) <= DEPTH_COST_BUDGET,
        "rows": rows,
    }


def _generator_size_lines(rec: dict, result: dict) -> list[str]:
    header = ["image size", "batch", "images/s", "Mpixel/s", "ms/image", "compile s", "walk steps", "compiled MB"]
    rows = [
        (f"{r['size']}x{r['size']}", r["batch"], num(r["items_per_s"]), num(r["megapixels_per_s"], 2),
         f"{r['ms_per_item']:.2f}", f"{r['compile_s']:.1f}", r["static_sizes"]["max_walk_steps"], _compiled_mb(r))
        for r in _ok(rec["rows"])
    ]  # fmt: skip
    return table(header, rows) + _failed(rec["rows"], "size") + [""]


@_register("generator_size", "Image sizes", "rows", _generator_size_lines)
def _generator_size(ctx: Context) -> dict:
    rows = []
    for side in ctx.settings.sizes:
        try:
            sized = _sized(ctx.cfg, side)
        except ConfigError as err:
            rows.append({"size": side, "status": "invalid", "reason": str(err)})
            ctx.say(f"size {side}: not a valid size for this config ({err})")
            continue
        batch = _size_batch(ctx.settings, side)
        record = dict(ctx.generator(sized, batch, f"generator {side}x{side} batch {batch}"))
        record.update(size=side, static_sizes=static_sizes(sized))
        if "items_per_s" in record:
            record["megapixels_per_s"] = record["items_per_s"] * side * side / 1e6
        rows.append(record)
    return {"pixels_per_call": ctx.settings.pixels_per_call, "rows": rows}


def _stages_lines(rec: dict, result: dict) -> list[str]:
    labels, point = rec["labels"], rec.get("shares") or {}
    shares = point.get("share", {})
    rows = []
    for r in _ok(rec["rows"]):
        here = r["size"] == point.get("size") and r["batch"] == point.get("batch")
        share = f"{shares[r['stage']]:.0%}" if here and r["stage"] in shares else ""
        rows.append((labels.get(r["stage"], r["stage"]), f"{r['size']}x{r['size']}", r["batch"],
                     num(r["items_per_s"]), f"{r['ms_per_item']:.2f}", share))  # fmt: skip
    lines = table(["stage", "image size", "batch", "images/s", "ms/image", "share*"], rows)
    note = ("*share of the sum of stage times (scene, rasterise, boutons, cells, noise) at that point; "
            "'walks + splines' is part of 'scene'.")  # fmt: skip
    return lines + _failed(rec["rows"], "stage") + ["", note, ""]


@_register("stages", "Stages", "rows", _stages_lines)
def _stages(ctx: Context) -> dict:
    cfg, settings = ctx.cfg, ctx.settings
    base_side = cfg.height if cfg.height == cfg.width else None
    points = [(side, _size_batch(settings, side)) for side in settings.stage_sizes]
    points += [(base_side or cfg.height, b) for b in settings.stage_batches]
    rows = []
    for side, batch in dict.fromkeys(points):
        try:
            sized = cfg if side == base_side else _sized(cfg, side)
        except ConfigError as err:
            rows.append({"size": side, "status": "invalid", "reason": str(err)})
            continue
        for stage in gen_bench.STAGES:
            label = f"stage {stage} {side}x{side} batch {batch}"

            def run(stage=stage, sized=sized, batch=batch, side=side) -> dict:
                t = gen_bench.time_stage(stage, sized, batch, settings.repeats)
                return ctx.record(t, stage=stage, size=side, batch=batch)

            record = ctx.guarded(label, run)
            record.setdefault("stage", stage)
            record.setdefault("size", side)
            record.setdefault("batch", batch)
            rows.append(record)
            if "items_per_s" in record:
                ctx.say(f"{label}: {record['items_per_s']:.1f} images/s")
    out = {"labels": gen_bench.STAGE_LABELS, "rows": rows}
    out["shares"] = stage_shares({"stages": out, "meta": {"config": {"height": cfg.height}}})
    return out


def _series_lines(rec: dict, result: dict) -> list[str]:
    octave = result["meta"]["original_octave_seconds"]
    return [
        f"Time series ({rec['frames']} frames of {_shape(rec['image_shape'])}, batch {rec['batch']}): "
        f"**{rec['items_per_s']:,.2f} series/s** ({rec['frames_per_s']:,.1f} frames/s, compile "
        f"{rec['compile_s']:.1f} s); the original: {octave['series_median']} s/series median: "
        f"**{octave['series_median'] * rec['items_per_s']:,.0f}x faster**.",
        "",
    ]


@_register("series", "Time series", "items_per_s", _series_lines)
def _series(ctx: Context) -> dict:
    cfg, batch = ctx.cfg, ctx.settings.series_batch
    t = gen_bench.time_series(cfg, batch, ctx.settings.repeats)
    record = ctx.record(t, batch=batch, frames=cfg.NbImages, image_shape=list(cfg.shape))
    record["frames_per_s"] = record["items_per_s"] * cfg.NbImages
    ctx.say(f"series batch {batch}: {record['items_per_s']:.2f} series/s")
    return record


# ----------------------------------------------------------------------------- data and training


def _dataset_lines(rec: dict, result: dict) -> list[str]:
    from jaxaxon.bench.dataset import lines

    head, *rest = lines(rec)
    return ["Dataset writing: " + head, *rest, ""]


@_register("dataset", "Dataset writing", "examples_per_s", _dataset_lines)
def _dataset(ctx: Context) -> dict | None:
    from jaxaxon.bench.dataset import run_dataset_benchmark

    s, cfg = ctx.settings, ctx.cfg
    if s.dataset_n <= 0:
        return None
    ctx.generator(cfg, s.dataset_batch, f"generator {cfg.height}x{cfg.width} batch {s.dataset_batch}")
    rec = run_dataset_benchmark(cfg, s.dataset_n, s.dataset_batch, repeats=s.dataset_repeats, workdir=ctx.workdir)
    rates = rec["examples_per_s"]
    ctx.say(f"dataset: write {rates['write_dataset']:.1f} vs generator {rates['generator_only']:.1f} images/s")
    return rec


def _training_lines(rec: dict, result: dict) -> list[str]:
    header = ["preset", "batch (tile)", "images generated per step", "on the fly steps/s", "pre-generated steps/s",
              "generation overhead", "generation alone", "from disk steps/s", "from disk / on the fly"]  # fmt: skip
    rows = [
        (r["name"], f"{r['batch_size']} ({r['tile']}x{r['tile']})", r["generated_images_per_step"],
         num(r["onfly_steps_per_s"], 2), num(r["pregen_steps_per_s"], 2), f"{r['generation_overhead_fraction']:.1%}",
         f"{r['generation_alone_fraction']:.1%}",
         num(r["data_steps_per_s"], 2) if "data_steps_per_s" in r else "-",
         f"{r['data_vs_onfly']:.2f}x" if "data_vs_onfly" in r else "-")
        for r in rec["rows"]
    ]  # fmt: skip
    return [
        "One training step, generating its images inside the jitted step (on the fly) vs fed pre-generated batches "
        "and vs fed from a dataset on disk (`jaxaxon train --data`: Grain, tensorstore, shuffled, read ahead):",
        "",
        *table(header, rows),
        "",
        "Generation overhead = 1 - pre-generated step time / on-the-fly step time; generation alone = time to "
        "generate one step's batch / on-the-fly step time; from disk / on the fly = throughput (images/s) of the "
        "dataset-fed step over the on-the-fly step's (above 1: faster).",
        "",
    ]


@_register("training", "Training step", "rows", _training_lines)
def _training(ctx: Context) -> dict:
    from jaxaxon.bench.training import time_training

    s = ctx.settings
    rec = time_training(s.training_presets, s.training_steps, s.training_rounds, s.training_dtypes,
                        batch=s.training_batch or None, generator=ctx.cfg, dataset_steps=s.training_dataset_steps,
                        dataset_chunk=s.dataset_batch, workdir=ctx.workdir)  # fmt: skip
    for row in rec.get("rows", []):
        disk = f", {row['data_steps_per_s']:.2f} from disk" if "data_steps_per_s" in row else ""
        ctx.say(
            f"training {row['name']}: {row['onfly_steps_per_s']:.2f} steps/s on the fly, "
            f"{row['pregen_steps_per_s']:.2f} pre-generated (generation {row['generation_overhead_fraction']:.0%}){disk}"
        )
    if "rows" not in rec:
        ctx.say(f"training: {rec.get('status')}")
    return rec


def _mixing_lines(rec: dict, result: dict) -> list[str]:
    rows = [
        (name, "-" if v["real_per_step"] is None else v["real_per_step"], num(v["steps_per_s"], 2),
         num(v["time_vs_pregen"], 2))
        for name, v in rec["variants"].items()
    ]  # fmt: skip
    head = (
        f"Training steps with real crops mixed in ({rec['preset']}, batch {rec['batch_size']}, {rec['real_images']} "
        f"random {rec['real_size']}x{rec['real_size']} images) against the step fed a pre-generated batch:"
    )
    return [head, "", *table(["variant", "real crops per step", "steps/s", "time / pregen"], rows), ""]


@_register("mixing", "Real-data mixing", "variants", _mixing_lines)
def _mixing(ctx: Context) -> dict | None:
    from jaxaxon.bench.training import time_mixing

    s = ctx.settings
    if not s.mixing_shares:
        return None
    rec = time_mixing(s.mixing_preset, s.mixing_shares, batch=s.training_batch or None, images=s.mixing_images,
                      size=s.mixing_size, steps=s.training_steps, rounds=s.training_rounds, generator=ctx.cfg)  # fmt: skip
    for name, v in rec.get("variants", {}).items():
        ctx.say(f"mixing {name}: {v['steps_per_s']:.2f} steps/s ({v['time_vs_pregen']:.2f}x the pre-generated step)")
    return rec


# ----------------------------------------------------------------------------- devices and memory


def _scaling_lines(rec: dict, result: dict) -> list[str]:
    virtual, cpus = rec.get("virtual_cpu_devices"), (rec.get("device") or {}).get("host_cpus")
    head = (
        f"Scaling over {virtual} virtual CPU devices in one process: they share the host's {cpus or 'few'} cores, so "
        "no speed-up is possible and efficiency falls roughly like 1/n; this shows that the sharded program runs "
        "and what it costs"
        if virtual
        else "Scaling over devices"
    )
    rows = [
        (r["devices"], r["global_batch"], num(r["items_per_s"]), num(r["efficiency"], 2))
        if "items_per_s" in r
        else (r["devices"], "", f"{r.get('status')}: {r.get('reason')}", "")
        for r in rec["rows"]
    ]
    return [
        f"{head}, {rec['per_device_batch']} images per device per call (weak scaling); images identical to the "
        f"1-device run: {rec.get('identical_to_one_device')}." + (f" Note: {rec['note']}." if rec.get("note") else ""),
        "",
        *table(["devices", "global batch", "images/s", "efficiency"], rows),
        "",
    ]


@_register("scaling", "Scaling", "rows", _scaling_lines)
def _scaling(ctx: Context) -> dict:
    from jaxaxon.bench import scaling as scaling_bench

    counts = tuple(ctx.settings.scaling_devices)
    cpu = jax.default_backend() == "cpu"
    batch = scaling_bench.CPU_PER_DEVICE_BATCH if cpu else ctx.settings.scaling_per_device_batch
    if jax.device_count() > 1:
        out = scaling_bench.scaling(ctx.cfg, batch, counts, ctx.settings.repeats)
        out["virtual_cpu_devices"] = 0
    elif not cpu:
        return {"status": "skipped", "reason": f"one {ctx.device['device_kind']} device only"}
    else:
        out = scaling_bench.run_in_subprocess(ctx.cfg, batch, counts, ctx.settings.repeats)
    if cpu:
        out["note"] = scaling_bench.CPU_BATCH_NOTE
    for row in out.get("rows", []):
        if "items_per_s" in row:
            ctx.say(f"scaling {row['devices']} devices: {row['items_per_s']:.1f} images/s, "
                    f"efficiency {row['efficiency']:.2f}")  # fmt: skip
    return out


def _memory_lines(rec: dict, result: dict) -> list[str]:
    rows = [
        (r["batch"], _mb(r["temp_bytes"]), _mb(r["output_bytes"]), _mb(r["total_bytes"]),
         f"{r['total_bytes'] / r['batch'] / 1e6:.2f}")
        for r in rec["rows"]
    ]  # fmt: skip
    lines = [
        f"Compiled memory of the complete generator ({_shape(rec['image_shape'])}; XLA memory analysis, compiled "
        "not run):",
        "",
        *table(["batch", "temporaries MB", "outputs MB", "total MB", "total MB/image"], rows),
    ]
    if "bytes_per_image_total" in rec:
        lines += [
            "",
            f"Linear fit: {rec['bytes_per_image_total'] / 1e6:.2f} MB per image + {rec['fixed_bytes'] / 1e6:.1f} MB "
            f"(largest deviation {rec['max_relative_residual']:.1%}: {'linear' if rec['linear'] else 'NOT linear'}).",
        ]
    b = rec.get("budget", {})
    if b.get("needed_bytes") is not None:
        how = "extrapolated" if b["extrapolated"] else "compiled"
        lines.append(
            f"A {b['batch']}-image batch needs {b['needed_bytes'] / 1e9:.3f} GB ({how}): "
            f"{'fits' if b['fits'] else 'does NOT fit'} in {b['budget_bytes'] / 1e9:.0f} GB."
        )
    return lines + [""]


@_register("memory", "Memory", "rows", _memory_lines)
def _memory(ctx: Context) -> dict:
    cfg, settings = ctx.cfg, ctx.settings
    rows, first = [], None
    for batch in settings.memory_batches:
        t0 = time.perf_counter()
        compiled = gen_bench.lower_generator(cfg, batch).compile()
        info = compiled_memory(compiled)
        if info is None:
            return {"status": "skipped", "reason": "this backend gives no memory analysis"}
        first = first or (batch, compiled)
        rows.append({"batch": batch, "compile_s": time.perf_counter() - t0, **info})
        ctx.say(f"memory batch {batch}: {info['total_bytes'] / 1e6:.1f} MB (compiled, not run)")
    out: dict[str, Any] = {"image_shape": list(cfg.shape), "rows": rows}
    if len(rows) >= 2:
        batches = [r["batch"] for r in rows]
        total_fit = linear_fit(batches, [r["total_bytes"] for r in rows])
        out["bytes_per_image_total"] = total_fit["slope"]
        out["bytes_per_image_temp"] = linear_fit(batches, [r["temp_bytes"] for r in rows])["slope"]
        out["fixed_bytes"] = total_fit["intercept"]
        out["max_relative_residual"] = total_fit["max_relative_residual"]
        out["linear"] = total_fit["max_relative_residual"] < 0.05
    budget_batch = settings.memory_budget_batch
    measured = next((r for r in rows if r["batch"] == budget_batch), None)
    if measured is not None:
        need, extrapolated = measured["total_bytes"], False
    elif "bytes_per_image_total" in out:
        need, extrapolated = out["fixed_bytes"] + out["bytes_per_image_total"] * budget_batch, True
    else:
        need, extrapolated = None, None
    out["budget"] = {
        "batch": budget_batch,
        "budget_bytes": settings.memory_budget_bytes,
        "needed_bytes": need,
        "extrapolated": extrapolated,
        "fits": None if need is None else bool(need <= settings.memory_budget_bytes),
    }
    batch, compiled = first
    out["largest_arrays"] = {"batch": batch, "arrays": largest_arrays(compiled, top=10)}
    return out


def _roofline_lines(rec: dict, result: dict) -> list[str]:
    counts = rec["bytes_per_image"]
    this, h100 = rec["bounds"]["this_device"], rec["bounds"]["h100_nominal"]
    rows = [
        (f"this device ({rec['device_kind']}, measured)", num(this["bandwidth_bytes_per_s"] / 1e9),
         num(this["images_per_s_outputs_only"], 0), num(this["images_per_s_pipeline"], 0)),
        ("H100 (nominal HBM3)", num(h100["bandwidth_bytes_per_s"] / 1e9, 0), num(h100["images_per_s_outputs_only"], 0),
         num(h100["images_per_s_pipeline"], 0)),
    ]  # fmt: skip
    lines = [
        f"Roofline ({_shape(rec['image_shape'])}): {counts['outputs'] / 1e6:.2f} MB of outputs per image, "
        f"{counts['pipeline'] / 1e6:.2f} MB with the main intermediates written and read once.",
        "",
        *table(["bandwidth", "GB/s", "bound, outputs only (images/s)", "bound, pipeline (images/s)"], rows),
    ]
    if rec.get("measured_images_per_s"):
        lines += [
            "",
            f"Measured {rec['measured_images_per_s']:,.1f} images/s = {rec['fraction_of_bound_pipeline']:.1%} of this "
            f"device's pipeline bound ({rec['effective_bytes_per_s_pipeline'] / 1e9:.2f} GB/s of pipeline traffic).",
        ]
    return lines + [""]


@_register("roofline", "Roofline", "bounds", _roofline_lines)
def _roofline(ctx: Context) -> dict:
    from jaxaxon.bench.roofline import measure_bandwidth, roofline

    bandwidth = measure_bandwidth(ctx.settings.bandwidth_bytes, repeats=ctx.settings.repeats)
    ctx.say(
        f"bandwidth: {bandwidth['device_stream_bytes_per_s'] / 1e9:.1f} GB/s device stream, "
        f"{bandwidth['host_copy_bytes_per_s'] / 1e9:.1f} GB/s host copy"
    )
    measured = [r for (c, _), r in ctx.generator_timings.items() if c == ctx.cfg and "items_per_s" in r]
    best = max(measured, key=lambda r: r["items_per_s"]) if measured else None
    out = roofline(ctx.cfg, best["items_per_s"] if best else None, bandwidth, ctx.device["device_kind"])
    out["bandwidth"] = bandwidth
    out["measured_batch"] = best["batch"] if best else None
    return out

