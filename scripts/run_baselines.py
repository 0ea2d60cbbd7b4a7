#!/usr/bin/env python
"""Classical baselines on the development images (see docs/real_images.md); writes a Markdown + JSON table.

- Frangi vesselness on the ``vesselnn`` volumes (slice by slice), once with the scales matched to
  the generator's axons (`AXON_SIGMAS`, 1..3 px) and once with scales for the much thicker
  vessels (`VESSEL_SIGMAS`, 2..16 px): mean Dice, clDice, TPR, FPR, precision at the best
  threshold of the original's 200-threshold sweep (picked on these images, as in the original).
- LoG blob detection of boutons on ``bass2017``: parameters picked by a grid search maximising
  pooled F1, evaluated by leave-one-group-out cross-validation over images (groups keep the
  overlapping pairs 08/09 and 10/11 together), so the reported F1 is held out. The parameters fit
  on all images are reported too (they are `DEFAULT_LOG_PARAMS`' source).

Usage::

    python scripts/run_baselines.py --real DIR [--out runs/baselines] [--quick]

Outputs: ``OUT/baselines.md``, ``OUT/baselines.json``, per-method folders with ``metrics.json``,
plots and predictions, ``OUT/plots/vesselnn_*.png`` comparing the two Frangi settings.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from jaxaxon.atomic import write_json_atomic, write_text_atomic
from jaxaxon.bench.table import num, table
from jaxaxon.data.images import load_samples
from jaxaxon.eval import baselines as bl
from jaxaxon.eval.metrics import DetectionCounts, detection_scores
from jaxaxon.eval.plots import save_curve_plots
from jaxaxon.eval.report import evaluate_predictions
from jaxaxon.experiments.protocol import REAL_HELP

BASS_GROUPS = [["01"], ["02"], ["04"], ["05"], ["06"], ["07"], ["08", "09"], ["10", "11"], ["12"]]
PIXEL_KEYS = ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision", "pooled_dice")


def run_frangi(samples, out: Path, quick: bool) -> dict:
    results = {}
    curves = {}
    for key, label, sigmas in (
        ("axon_scales", "Frangi, axon scales", bl.AXON_SIGMAS),
        ("vessel_scales", "Frangi, vessel scales", bl.VESSEL_SIGMAS),
    ):
        t0 = time.perf_counter()
        maps = [bl.frangi_map(s.image, sigmas) for s in samples]
        m = evaluate_predictions(
            samples,
            maps,
            out / f"vesselnn_frangi_{key}",
            name=f"{label} {list(sigmas)}",
            save_predictions=not quick,
            extra={"baseline": "frangi", "sigmas": list(sigmas)},
        )
        results[key] = {
            "label": label,
            "sigmas": list(sigmas),
            **{k: m[k] for k in PIXEL_KEYS},
            "per_volume": m["per_volume"],
            "n_slices": m["n_images"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        curves[f"{label} {list(sigmas)}"] = m["curves"]
        print(
            f"vesselnn {label}: Dice {m['dice']:.3f} clDice {m['cldice']:.3f} at t={m['best_threshold']:.3f}",
            flush=True,
        )
    save_curve_plots(curves, out / "plots", prefix="vesselnn_")
    return results


def run_log(samples, out: Path, grid) -> dict:
    names = [s.name for s in samples]
    t0 = time.perf_counter()
    counts = bl.log_grid_counts([s.image for s in samples], [s.boxes for s in samples], grid)  # [N, P, 3]
    groups = [[names.index(n) for n in g if n in names] for g in BASS_GROUPS]
    groups = [g for g in groups if g]
    folds = []
    held_out = DetectionCounts(0, 0, 0)
    held_params: dict[int, bl.LogParams] = {}
    for g in groups:
        train = [i for i in range(len(samples)) if i not in g]
        best = bl.best_setting(counts[train])
        tp, fp, fn = (int(v) for v in counts[g, best].sum(axis=0))
        held_out = held_out + DetectionCounts(tp, fp, fn)
        folds.append({"held_out": [names[i] for i in g], "params": grid[best].to_dict(), "tp": tp, "fp": fp, "fn": fn})
        for i in g:
            held_params[i] = grid[best]
    full_best = bl.best_setting(counts)
    tp, fp, fn = (int(v) for v in counts[:, full_best].sum(axis=0))
    cv = detection_scores(held_out)
    insample = detection_scores(DetectionCounts(tp, fp, fn))
    # held-out detections through the common evaluation (overlays, metrics.json)
    dets = [bl.detect_boutons_log(s.image, held_params[i])[0] for i, s in enumerate(samples)]
    m = evaluate_predictions(
        samples,
        None,
        out / "bass2017_log_heldout",
        bouton_detections=dets,
        name="LoG (held-out params)",
        extra={
            "baseline": "log",
            "protocol": "leave-one-group-out; each image detected with its fold's params",
            "folds": folds,
        },
    )
    assert abs(m["bouton_f1"] - cv["f1"]) < 1e-12, (m["bouton_f1"], cv["f1"])  # same numbers, two code paths
    print(
        f"bass2017 LoG: held-out F1 {cv['f1']:.3f} (P {cv['precision']:.3f} R {cv['recall']:.3f}); "
        f"in-sample F1 {insample['f1']:.3f} with {grid[full_best]}",
        flush=True,
    )
    return {
        "protocol": "leave-one-group-out CV over images, groups " + " ".join("/".join(g) for g in BASS_GROUPS),
        "grid_size": len(grid),
        "grid": [p.to_dict() for p in grid],
        "heldout": {k: cv[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")},
        "folds": folds,
        "fit_on_all": {"params": grid[full_best].to_dict(), **{k: insample[k] for k in ("precision", "recall", "f1")}},
        "n_images": len(samples),
        "n_boxes": int(sum(len(s.boxes) for s in samples)),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _f(x, nd=3):
    return num(x, nd)


def markdown(res: dict) -> str:
    lines = ["# Baselines on the development images", ""]
    lines += [
        f"Command: `{res['command']}`  ",
        f"scikit-image {res['versions']['skimage']}, numpy {res['versions']['numpy']}",
        "",
    ]
    if res.get("vesselnn"):
        lines += [
            "## Frangi vesselness on vesselnn (vessels, not axons; 2-D slices, mean over slices)",
            "",
            *table(
                ["method", "sigmas (px)", "slices", "best threshold", "Dice", "clDice", "TPR", "FPR", "precision"],
                [
                    [r["label"], ", ".join(f"{s:g}" for s in r["sigmas"]), r["n_slices"],
                     *(_f(r[k]) for k in ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision"))]
                    for r in res["vesselnn"].values()
                ],
            ),
        ]  # fmt: skip
        lines += ["", "Per volume (Dice / clDice at the overall best threshold):", ""]
        vols = sorted(next(iter(res["vesselnn"].values()))["per_volume"])
        per_volume = [
            [r["label"], *(f"{_f(r['per_volume'][v]['dice'])} / {_f(r['per_volume'][v]['cldice'])}" for v in vols)]
            for r in res["vesselnn"].values()
        ]
        lines += [*table(["method", *vols], per_volume), ""]
    if res.get("bass2017"):
        b = res["bass2017"]
        h, f = b["heldout"], b["fit_on_all"]
        lines += [
            "## LoG bouton detection on bass2017",
            "",
            (
                f"{b['n_images']} images, {b['n_boxes']} boxes; {b['protocol']}; grid of {b['grid_size']} settings; "
                "a detected centre inside an unmatched box is a hit."
            ),
            "",
            *table(
                ["protocol", "precision", "recall", "F1", "TP", "FP", "FN"],
                [
                    ["held out (cross-validated)", _f(h["precision"]), _f(h["recall"]), _f(h["f1"]), h["tp"], h["fp"],
                     h["fn"]],
                    ["in-sample (fit on all, optimistic)", _f(f["precision"]), _f(f["recall"]), _f(f["f1"])],
                ],
            ),
            "",
            "Parameters fit on all images: " + ", ".join(f"{k}={v}" for k, v in f["params"].items()),
            "",
            "Per fold: "
            + "; ".join(
                f"{'/'.join(fo['held_out'])}: min_sigma={fo['params']['min_sigma']}, "
                f"max_sigma={fo['params']['max_sigma']}, "
                f"threshold={fo['params']['threshold']} (TP {fo['tp']}, FP {fo['fp']}, FN {fo['fn']})"
                for fo in b["folds"]
            ),
            "",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", required=True, metavar="DIR", help=REAL_HELP)
    parser.add_argument("--out", default="runs/baselines", help="output folder (default runs/baselines)")
    parser.add_argument("--quick", action="store_true", help="every 5th vesselnn slice, a small LoG grid (smoke test)")
    args = parser.parse_args(argv)
    real, out = Path(args.real), Path(args.out)
    if not real.is_dir():
        print(f"run_baselines: {real} is not a folder (pass --real)", file=sys.stderr)
        return 2
    import skimage

    res = {
        "command": "python scripts/run_baselines.py" + (" --quick" if args.quick else ""),
        "versions": {"skimage": skimage.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    vessels = load_samples(real / "vesselnn")
    if args.quick:
        vessels = vessels[::5]
    res["vesselnn"] = run_frangi(vessels, out, args.quick)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*mean_images.npz: skipped.*")
        bass = [s for s in load_samples(real / "bass2017") if s.boxes is not None]
    grid = bl.DEFAULT_LOG_GRID[::4] if args.quick else bl.DEFAULT_LOG_GRID
    res["bass2017"] = run_log(bass, out, grid)
    write_json_atomic(out / "baselines.json", res)
    md = markdown(res)
    write_text_atomic(out / "baselines.md", md)
    print(md)
    print(f"wrote {out / 'baselines.md'} and {out / 'baselines.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
