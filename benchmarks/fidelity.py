"""Fidelity report: statistics of jaxaxon's images against the original generator's.

Generates a few hundred images with the shipped parameters, computes every statistic of
the original's reference statistics (``original_stats.json``, ``--reference``) exactly as its
``definitions`` say
(`jaxaxon.eval.image_stats`), and prints, per statistic, the original's mean and spread,
jaxaxon's, and the difference in units of the original's standard deviation, as a
Markdown table and as JSON.

Pass rule: ``|z| <= 1`` (``<= 2`` for the radial-spectrum bins). A statistic with zero
spread in the original's sample (e.g. exactly 7 boutons in all 42 images) passes when the
means differ by less than ``1 / n_ref`` of its unit, ``n_ref`` being the number of
independent scenes in the original's sample (42 images; 5 series for the 30 series frames,
whose frames share one scene): a rate rarer than one scene in ``n_ref`` could not have
shown in the original's sample.

Usage::

    python benchmarks/fidelity.py --reference DIR/original_stats.json [--n 300] [--modes fixed original] [--series]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from jaxaxon.atomic import write_json_atomic
from jaxaxon.bench.table import table


def _rows(cfg, n: int, seed: int, batch: int, series: bool) -> list[dict]:
    """The statistics of ``n`` generated images (or of every frame of ``n`` series)."""
    import jax

    import jaxaxon
    from jaxaxon.eval.image_stats import image_statistics, series_statistics

    generate, stats = (jaxaxon.generate_series, series_statistics) if series else (jaxaxon.generate, image_statistics)
    rows = []
    for start in range(0, n, batch):
        out = generate(jax.random.key(seed), cfg, batch, start_index=start)
        images = np.asarray(out.image).astype(np.uint8)
        axon, bouton = np.asarray(out.axon_mask), np.asarray(out.bouton_mask)
        for i in range(min(batch, n - start)):
            found = stats(images[i], axon[i], bouton[i])
            rows += found if series else [found]
    return rows


def verdict(stat: str, row: dict, n_scenes: int) -> bool:
    """Whether one compared statistic passes the report's rule (see the module docstring)."""
    if row["ref_std"] == 0:
        return abs(row["mean"] - row["ref_mean"]) < 1.0 / n_scenes
    limit = 2.0 if stat.startswith("psd_bin") else 1.0
    return abs(row["z"]) <= limit


def run(reference_path: Path, n: int, modes: list[str], series: bool, seed: int, batch: int) -> dict:
    """Computes the comparison for each compat mode; returns the JSON-ready report."""
    from jaxaxon import GeneratorConfig
    from jaxaxon.eval.image_stats import compare, summarise

    reference = json.loads(Path(reference_path).read_text())
    kind = "series_frames" if series else "single"
    report = {"kind": kind, "n_generated": n, "seed": seed, "reference_source": reference["source"], "modes": {}}
    for mode in modes:
        cfg = GeneratorConfig(compat=mode)
        t0 = time.perf_counter()
        rows = _rows(cfg, n, seed, batch, series)
        elapsed = time.perf_counter() - t0
        comparison = compare(reference[kind], summarise(rows))
        for stat, row in comparison.items():
            n_ref = reference[kind][stat]["n"]
            n_scenes = max(1, n_ref // cfg.NbImages) if series else n_ref
            row["pass"] = verdict(stat, row, n_scenes)
        report["modes"][mode] = {
            "seconds": elapsed,
            "all_pass": all(r["pass"] for r in comparison.values()),
            "stats": comparison,
        }
    return report


def markdown(report: dict) -> str:
    """A Markdown table: one row per statistic, one column group per mode."""
    modes = list(report["modes"])
    header = ["statistic", "original mean ± sd", *[c for m in modes for c in (f"{m}: mean ± sd", f"{m}: z")]]
    rows = []
    for stat, ref in report["modes"][modes[0]]["stats"].items():
        cells = [stat, f"{ref['ref_mean']:.4g} ± {ref['ref_std']:.3g}"]
        for m in modes:
            row = report["modes"][m]["stats"][stat]
            cells += [f"{row['mean']:.4g} ± {row['std']:.3g}", f"{row['z']:+.2f}" + ("" if row["pass"] else " ✗")]
        rows.append(cells)
    return "\n".join(table(header, rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, metavar="FILE",
                        help="the original generator's statistics (original_stats.json: 'definitions', 'source', "
                        "'single' and 'series_frames' entries)")  # fmt: skip
    parser.add_argument("--n", type=int, default=300, help="images (or series) to generate per mode")
    parser.add_argument("--modes", nargs="+", default=["fixed", "original"], choices=["fixed", "original"])
    parser.add_argument("--series", action="store_true", help="compare time series frames instead of single images")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args(argv)
    if not Path(args.reference).is_file():
        print(f"fidelity: reference statistics not found at {args.reference}", file=sys.stderr)
        return 2
    report = run(Path(args.reference), args.n, args.modes, args.series, args.seed, args.batch)
    print(markdown(report))
    print()
    print(json.dumps(report, indent=1))
    if args.out:
        write_json_atomic(args.out, report)
    return 0 if all(m["all_pass"] for m in report["modes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
