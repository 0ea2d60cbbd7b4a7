"""Autoencoder pre-training on generated images, then fine-tuning a segmentation network from
its encoder, evaluated on held-out real images next to the same network trained from scratch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from jaxaxon.experiments import protocol as rp
from jaxaxon.train import RunConfig, get_preset

__all__ = ["AE_TWIN", "autoencoder_config", "main", "markdown"]

AE_TWIN = {"quick": "ae-quick", "original": "ae-original"}
USAGE = """\
1. OUT/pretrain: a denoising autoencoder (--ae-preset, default the segmentation preset's
   ae- twin: ae-quick for quick) on generated images.
2. OUT/finetune_seed<S>: the segmentation preset initialised from the autoencoder's final
   checkpoint (jaxaxon train --init-from), optionally mixing real crops (--real-share).
3. OUT/scratch_seed<S>: the identical run from a random initialisation (the control;
   --no-scratch skips it).

Both segmentation runs are evaluated on the held-out real images (jaxaxon.experiments.protocol).
Writes OUT/pretrain_results.md and .json. Re-running the same command keeps finished runs and
resumes interrupted ones."""


def autoencoder_config(args: argparse.Namespace, seed: int) -> RunConfig:
    """The pre-training run: ``--ae-preset`` (or the segmentation preset's twin) at ``--ae-steps``."""
    name = args.ae_preset or AE_TWIN.get(args.preset)
    if name is None:
        raise rp.ProtocolError(
            f"--preset {args.preset}: no matching autoencoder preset known; name one with --ae-preset "
            f"(its encoder must match the segmentation network's)"
        )
    rc = get_preset(name)
    if rc.segmentation:
        raise rp.ProtocolError(f"--ae-preset {name}: not an autoencoder preset")
    changes: dict = {"seed": seed}
    if args.ae_steps is not None:
        if args.ae_steps < 1:
            raise rp.ProtocolError(f"--ae-steps: expected a positive number of steps, got {args.ae_steps}")
        changes["steps"] = args.ae_steps
    return rp.short_warmup(rc, changes)


def markdown(result: dict) -> str:
    """The results table: one row per segmentation run."""
    cfg = result["training"]
    runs = [((r["init"], r["seed"]), r, (f"{r['train_seconds']:.0f}",)) for r in result["runs"]]
    lines = [
        *rp.markdown_header("Autoencoder pre-training, then fine-tuning", result),
        f"Pre-training: preset `{cfg['ae_preset']}`, {cfg['ae_steps']} steps, final loss "
        f"{rp.fmt(cfg['ae_final_loss'], 4)}, {cfg['ae_seconds']:.0f} s. Segmentation: preset `{cfg['preset']}`, {cfg['steps']} steps x "
        f"{cfg['batch_size']} examples, real share {cfg['real_share']:g}, heads {', '.join(cfg['heads'])}; the final "
        "checkpoint of each run is evaluated.",
        *rp.runs_section(result, ["initialisation", "seed"], runs, ["train time (s)"]),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the experiment (``scripts/pretrain_finetune.py``); returns the exit status."""
    parser = rp.make_parser("pretrain_finetune.py", __doc__, USAGE)
    parser.add_argument("--out", default="runs/pretrain", help="output folder (default runs/pretrain)")
    parser.add_argument("--ae-preset",
                        help="autoencoder preset (default: ae-quick for quick, ae-original for original)")  # fmt: skip
    parser.add_argument("--ae-steps", type=int, help="pre-training steps (default: the autoencoder preset's)")
    parser.add_argument("--real-share", type=float, default=0.0,
                        help="real share of the fine-tuning batches (default 0: generated images only)")  # fmt: skip
    parser.add_argument("--no-scratch", action="store_true", help="skip the from-scratch control run")
    rp.add_arguments(parser)
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        seeds = rp.seeds_of(args)
        folds = rp.prepare_folds(args, out)
        ae = autoencoder_config(args, seeds[0])
        base = rp.segmentation_config(args, folds, seeds[0])
        if not 0.0 <= args.real_share <= 1.0:
            raise rp.ProtocolError(f"--real-share: expected a fraction in 0..1, got {args.real_share}")
        if args.real_share > 0:
            base = base.replace(real=rp.real_mixing(folds, args.real_share, args))
    except (rp.ProtocolError, ValueError) as err:
        print(f"pretrain_finetune: error: {err}", file=sys.stderr)
        return 2
    print(rp.folds_text(folds), flush=True)
    ae_seconds = rp.run_training(out / "pretrain", ae)
    ae_history = rp.read_history(out / "pretrain")
    ae_checkpoint = rp.final_checkpoint(out / "pretrain")
    rows = []
    for seed in seeds:
        rc = base.replace(seed=seed)
        arms = [("autoencoder", f"finetune_seed{seed}", ae_checkpoint)]
        if not args.no_scratch:
            arms.append(("random (scratch)", f"scratch_seed{seed}", None))
        for init, arm, source in arms:
            seconds = rp.run_training(out / arm, rc, init_from=source)
            row = rp.evaluate_run(out / arm, folds, out / "eval" / arm)
            row.update(arm=arm, init=init, seed=seed, train_seconds=seconds)
            rows.append(row)
            print(
                f"{arm}: vessel Dice {rp.fmt(row['dice'])}, clDice {rp.fmt(row['cldice'])}, "
                f"bouton F1 {rp.fmt(row['bouton_f1'])} ({seconds:.0f} s)",
                flush=True,
            )
    result = {
        **rp.result_header("pretrain_finetune.py", argv, folds),
        "training": {
            "ae_preset": ae.preset, "ae_steps": ae.steps, "ae_seconds": ae_seconds,
            "ae_final_loss": ae_history[-1].get("loss") if ae_history else None,
            "ae_checkpoint": str(ae_checkpoint), "preset": base.preset, "steps": base.steps,
            "batch_size": base.batch_size, "real_share": args.real_share, "heads": list(base.model.heads),
        },  # fmt: skip
        "runs": rows,
    }
    rp.write_results(out, "pretrain_results", markdown(result), result)
    return 0
