"""Fidelity report: statistics of jaxaxon's images against the original generator's.

Generates a few hundred images with the shipped parameters, computes every statistic of
``reference/original_stats.json`` exactly as its ``definitions`` say
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

    python benchmarks/fidelity.py [--n 300] [--modes fixed original] [--series] [--out fidelity.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "original_stats.json"


def _single_rows(cfg, n: int, seed: int, batch: int) -> list[dict]:
    import jax

    import jaxaxon
    from jaxaxon.eval.image_stats import image_statistics

    rows = []
    for start in range(0, n, batch):
        size = min(batch, n - start)
        b = jaxaxon.generate(jax.random.key(seed), cfg, batch, start_index=start)
        images = np.asarray(b.image).astype(np.uint8)
        axon, bouton = np.asarray(b.axon_mask), np.asarray(b.bouton_mask)
        rows += [image_statistics(images[i], axon[i], bouton[i]) for i in range(size)]
    return rows


def _series_rows(cfg, n: int, seed: int, batch: int) -> list[dict]:
    import jax

    import jaxaxon
    from jaxaxon.eval.image_stats import series_statistics

    rows = []
    for start in range(0, n, batch):
        size = min(batch, n - start)
        s = jaxaxon.generate_series(jax.random.key(seed), cfg, batch, start_index=start)
        images = np.asarray(s.image).astype(np.uint8)
        axon, bouton = np.asarray(s.axon_mask), np.asarray(s.bouton_mask)
        for i in range(size):
            rows += series_statistics(images[i], axon[i], bouton[i])
    return rows


def verdict(stat: str, row: dict, n_scenes: int) -> bool:
    """Whether one compared statistic passes the report's rule (see the module docstring)."""
    if row["ref_std"] == 0:
        return abs(row["mean"] - row["ref_mean"]) < 1.0 / n_scenes
    limit = 2.0 if stat.startswith("psd_bin") else 1.0
    return abs(row["z"]) <= limit


def run(n: int, modes: list[str], series: bool, seed: int, batch: int) -> dict:
    """Computes the comparison for each compat mode; returns the JSON-ready report."""
    from jaxaxon import GeneratorConfig
    from jaxaxon.eval.image_stats import compare, summarise

    reference = json.loads(REFERENCE.read_text())
    kind = "series_frames" if series else "single"
    report = {"kind": kind, "n_generated": n, "seed": seed, "reference_source": reference["source"], "modes": {}}
    for mode in modes:
        cfg = GeneratorConfig(compat=mode)
        t0 = time.perf_counter()
        rows = (_series_rows if series else _single_rows)(cfg, n, seed, batch)
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
    head = "| statistic | original mean ± sd | " + " | ".join(f"{m}: mean ± sd | {m}: z" for m in modes) + " |"
    sep = "|---|---|" + "---|---|" * len(modes)
    lines = [head, sep]
    first = report["modes"][modes[0]]["stats"]
    for stat, ref in first.items():
        cells = [stat, f"{ref['ref_mean']:.4g} ± {ref['ref_std']:.3g}"]
        for m in modes:
            row = report["modes"][m]["stats"][stat]
            flag = "" if row["pass"] else " ✗"
            cells += [f"{row['mean']:.4g} ± {row['std']:.3g}", f"{row['z']:+.2f}{flag}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="images (or series) to generate per mode")
    parser.add_argument("--modes", nargs="+", default=["fixed", "original"], choices=["fixed", "original"])
    parser.add_argument("--series", action="store_true", help="compare time series frames instead of single images")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args(argv)
    if not REFERENCE.is_file():
        print(f"reference statistics not found at {REFERENCE}", file=sys.stderr)
        return 2
    report = run(args.n, args.modes, args.series, args.seed, args.batch)
    print(markdown(report))
    print()
    print(json.dumps(report, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0 if all(m["all_pass"] for m in report["modes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
