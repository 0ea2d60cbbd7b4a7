"""The mixing experiment: real shares of every training batch at the same number of training
examples (steps x batch), each run evaluated on held-out real images; a results table.

Every run is ``jaxaxon train`` with ``--real ... --real-share F`` and the same preset, steps,
batch and seed; only the share changes. Folds: `jaxaxon.experiments.protocol`.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from jaxaxon.bench.table import table
from jaxaxon.experiments import protocol as rp
from jaxaxon.experiments.protocol import COLUMNS

__all__ = ["arm_name", "main", "markdown", "means", "parse_shares"]

USAGE = """\
Outputs: OUT/mixing_results.md and .json; per run OUT/<arm>/ (the training run) and
OUT/eval/<arm>/ (metrics.json, plots, predictions); OUT/eval/baselines/. Re-running the
same command keeps finished runs and resumes interrupted ones."""


def parse_shares(text: str) -> list[float]:
    """``--shares``: comma-separated fractions in 0..1."""
    try:
        shares = [float(s) for s in rp.csv_items(text)]
    except ValueError:
        raise rp.ProtocolError(f"--shares: expected comma-separated fractions, got {text!r}") from None
    if not shares or any(not 0 <= s <= 1 for s in shares):
        raise rp.ProtocolError(f"--shares: expected fractions in 0..1, got {text!r}")
    return shares


def arm_name(share: float, seed: int) -> str:
    """The run folder of one share and seed (``real025_seed0``)."""
    return f"real{round(share * 100):03d}_seed{seed}"


def markdown(result: dict) -> str:
    """The results tables: every run, the means over seeds, the baselines."""
    cfg = result["training"]
    runs = [
        ((f"{r['share'] * 100:g} %", f"{r['real_per_step']} / {r['synthetic_per_step']}", r["seed"]), r,
         (f"{r['train_seconds']:.0f}",))
        for r in result["runs"]
    ]  # fmt: skip
    lines = [
        *rp.markdown_header("Mixing real and synthetic images", result),
        f"Training: preset `{cfg['preset']}`, {cfg['steps']} steps x {cfg['batch_size']} examples "
        f"({cfg['crop']}x{cfg['crop']} crops) = {cfg['steps'] * cfg['batch_size']} training crops per run, "
        f"heads {', '.join(cfg['heads'])}; the final checkpoint of each run is evaluated.",
        "",
        result["folds_text"],
        "",
        *rp.metric_table(["real share", "real / synthetic crops per step", "seed"], runs, ["train time (s)"]),
    ]
    if result.get("means"):
        rows = [
            [f"{m['share'] * 100:g} %", *("–" if m[k] is None else f"{m[k][0]:.3f} ± {m[k][1]:.3f}" for k, _ in COLUMNS)]
            for m in result["means"]
        ]
        header = ["real share", *(label for _, label in COLUMNS)]
        lines += ["", "Mean ± standard deviation over seeds:", "", *table(header, rows)]
    if result.get("baselines"):
        keys = ("dice", "cldice", "best_threshold", "bouton_precision", "bouton_recall", "bouton_f1")
        header = ["method", "vessel Dice", "vessel clDice", "threshold", "bouton P", "bouton R", "bouton F1"]
        rows = [[b["name"], *(rp.fmt(b.get(k)) for k in keys)] for b in result["baselines"]]
        lines += ["", "Reference (no training; same held-out images and evaluation):", "", *table(header, rows)]
        notes = [b["note"] for b in result["baselines"] if b.get("note")]
        if notes:
            lines += ["", *notes]
    return "\n".join([*lines, "", rp.METRICS_NOTE, ""])


def means(rows: list[dict]) -> list[dict]:
    """Mean and standard deviation of every metric over the seeds of each share."""
    out = []
    for share in sorted({r["share"] for r in rows}, reverse=True):
        group = [r for r in rows if r["share"] == share]
        m: dict = {"share": share}
        for k, _ in COLUMNS:
            vals = [r[k] for r in group if r.get(k) is not None]
            m[k] = None if not vals else (statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0)
        out.append(m)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the experiment (``scripts/mixing_experiment.py``); returns the exit status."""
    parser = rp.make_parser("mixing_experiment.py", __doc__, USAGE)
    parser.add_argument("--out", default="runs/mixing", help="output folder (default runs/mixing)")
    parser.add_argument("--shares", default="1,0.25,0", help="real shares of the batch (default 1,0.25,0)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the Frangi and LoG reference rows")
    rp.add_arguments(parser)
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        shares, seeds = parse_shares(args.shares), rp.seeds_of(args)
        folds = rp.prepare_folds(args, out)
        base = rp.segmentation_config(args, folds, seeds[0])
    except (rp.ProtocolError, ValueError) as err:
        print(f"mixing_experiment: error: {err}", file=sys.stderr)
        return 2
    print(rp.folds_text(folds), flush=True)
    rows = []
    for seed in seeds:
        for share in shares:
            arm = arm_name(share, seed)
            rc = base.replace(seed=seed, real=rp.real_mixing(folds, share, args))
            seconds = rp.run_training(out / arm, rc)
            row = rp.evaluate_run(out / arm, folds, out / "eval" / arm)
            row.update(
                arm=arm, share=share, seed=seed, real_per_step=rc.real_per_step,
                synthetic_per_step=rc.batch_size - rc.real_per_step, train_seconds=seconds,
            )  # fmt: skip
            rows.append(row)
            print(
                f"{arm}: vessel Dice {rp.fmt(row['dice'])}, clDice {rp.fmt(row['cldice'])}, "
                f"bouton F1 {rp.fmt(row['bouton_f1'])}, synthetic val Dice {rp.fmt(row['synthetic_val_dice'])} "
                f"({seconds:.0f} s)",
                flush=True,
            )
    baselines = [] if args.no_baselines else rp.baseline_rows(args, folds, out / "eval" / "baselines")
    result = {
        **rp.result_header("mixing_experiment.py", argv, folds),
        "training": {
            "preset": base.preset, "steps": base.steps, "batch_size": base.batch_size, "crop": base.crop,
            "heads": list(base.model.heads), "bouton_targets": "none" if args.no_boutons else args.bouton_targets,
        },  # fmt: skip
        "runs": rows,
        "means": means(rows) if len(seeds) > 1 else None,
        "baselines": baselines,
    }
    rp.write_results(out, "mixing_results", markdown(result), result)
    return 0
