"""Synthetic-only training per imaging preset, evaluated on the real development data.

For each generator preset (`original`, `realistic`, `randomised`) a network with an axon and
a bouton head is trained on generated images only, with the same budget (steps, batch,
tiles, model, optimiser), then evaluated through `jaxaxon evaluate`'s code on the
development images (see docs/real_images.md):

- ``vesselnn`` volumes (dense vessel masks; vessels, not axons): Dice and clDice at the
  best of the original's 200 thresholds;
- ``bass2017`` images (bouton boxes only): bouton precision / recall / F1 from the bouton
  head's blobs;

next to the Frangi (vessels/axons) and LoG (boutons) baselines run through the same
evaluation. Writes ``OUT/results.md`` and ``OUT/results.json``.

Usage (CPU scale by default; raise --steps on an accelerator)::

    python scripts/preset_experiment.py --real DIR --out runs/presets [--steps 300] [--presets original realistic randomised]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import numpy as np

from jaxaxon.atomic import write_json_atomic, write_text_atomic
from jaxaxon.bench.table import table
from jaxaxon.experiments.protocol import REAL_HELP


def run_config(preset: str, steps: int, seed: int):
    """The shared training budget with the preset's generator (both heads)."""
    from jaxaxon.config import GeneratorConfig
    from jaxaxon.train.presets import get_preset

    rc = get_preset("quick")
    return rc.replace(
        generator=GeneratorConfig.from_preset(preset),
        steps=steps,
        seed=seed,
        warmup_steps=min(10, steps - 1),
        eval_every=max(steps // 5, 1),
        checkpoint_every=max(steps // 5, 1),
        **{"model.heads": ("axon", "bouton")},
    )


def main() -> None:
    from jaxaxon.data.images import load_samples
    from jaxaxon.eval import baselines as bl
    from jaxaxon.eval.evaluate import probability_maps
    from jaxaxon.eval.report import evaluate_baselines, evaluate_predictions
    from jaxaxon.train import train
    from jaxaxon.train.inference import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", required=True, metavar="DIR", help=REAL_HELP)
    parser.add_argument("--out", default="runs/presets")
    parser.add_argument("--presets", nargs="+", default=["original", "realistic", "randomised"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out, real = Path(args.out), Path(args.real)
    vessels = [s for f in sorted((real / "vesselnn").glob("*.npz")) for s in load_samples(f)]
    boutons = [s for s in load_samples(real / "bass2017") if s.boxes is not None]
    results: dict = {
        "device": {"backend": jax.default_backend(), "kind": jax.devices()[0].device_kind, "host": platform.node()},
        "steps": args.steps,
        "data": {"vesselnn_slices": len(vessels), "bass2017_images": len(boutons)},
        "methods": {},
    }

    # baselines, through the same evaluation code
    v_base = evaluate_baselines(vessels, out / "baselines" / "vesselnn", frangi_sigmas=bl.AXON_SIGMAS, log_params=None, save_predictions=False)
    b_base = evaluate_baselines(boutons, out / "baselines" / "bass2017", log_params=bl.DEFAULT_LOG_PARAMS, save_predictions=False)
    results["methods"]["Frangi (axon scales)"] = {"vesselnn_dice": v_base["frangi"]["dice"], "vesselnn_cldice": v_base["frangi"]["cldice"]}
    v_vessel = evaluate_baselines(vessels, out / "baselines" / "vesselnn_vessel_scales", frangi_sigmas=bl.VESSEL_SIGMAS, log_params=None, save_predictions=False)
    results["methods"]["Frangi (vessel scales, chosen with the labels)"] = {
        "vesselnn_dice": v_vessel["frangi"]["dice"], "vesselnn_cldice": v_vessel["frangi"]["cldice"],
    }  # fmt: skip
    # reference: the normalised image itself as a "probability" (a global intensity threshold)
    intensity = [np.clip((s.image - np.percentile(s.image, 1)) / max(np.ptp(s.image), 1e-6), 0, 1) for s in vessels]
    v_int = evaluate_predictions(vessels, intensity, out / "baselines" / "vesselnn_intensity", save_predictions=False)
    results["methods"]["intensity threshold (reference)"] = {"vesselnn_dice": v_int["dice"], "vesselnn_cldice": v_int["cldice"]}
    results["methods"]["LoG (parameters fitted on bass2017, in-sample)"] = {
        k: b_base["log"][k] for k in ("bouton_precision", "bouton_recall", "bouton_f1")
    }

    for preset in args.presets:
        workdir = out / f"train_{preset}"
        rc = run_config(preset, args.steps, args.seed)
        t0 = time.perf_counter()
        if (workdir / "config.json").exists():
            summary = train(workdir, resume=True, progress=False)
        else:
            summary = train(workdir, rc, progress=False)
        seconds = time.perf_counter() - t0
        model, loaded = load_model(workdir)
        heads = list(loaded.model.heads)
        v_probs = probability_maps(model, loaded, [s.image for s in vessels])
        v = evaluate_predictions(vessels, [p[..., heads.index("axon")] for p in v_probs], out / f"eval_{preset}" / "vesselnn", save_predictions=False)
        b_probs = probability_maps(model, loaded, [s.image for s in boutons])
        b = evaluate_predictions(
            boutons, None, out / f"eval_{preset}" / "bass2017",
            bouton_maps=[p[..., heads.index("bouton")] for p in b_probs], save_predictions=False,
        )  # fmt: skip
        results["methods"][f"synthetic only, preset '{preset}'"] = {
            "vesselnn_dice": v["dice"],
            "vesselnn_cldice": v["cldice"],
            "bouton_precision": b.get("bouton_precision"),
            "bouton_recall": b.get("bouton_recall"),
            "bouton_f1": b.get("bouton_f1"),
            "synthetic_val_dice": summary.get("best_val_dice"),
            "train_seconds": seconds,
        }
        print(preset, json.dumps(results["methods"][f"synthetic only, preset '{preset}'"]))

    write_json_atomic(out / "results.json", results)
    cols = ("vesselnn_dice", "vesselnn_cldice", "bouton_precision", "bouton_recall", "bouton_f1")
    header = ["method", "vesselnn Dice", "vesselnn clDice", "bass2017 bouton precision", "recall", "F1"]
    rows = [[name, *(f"{row[c]:.3f}" if isinstance(row.get(c), (int, float)) else "-" for c in cols)]
            for name, row in results["methods"].items()]  # fmt: skip
    text = "\n".join(table(header, rows))
    write_text_atomic(out / "results.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()
