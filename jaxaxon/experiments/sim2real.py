"""The sim-to-real experiment: calibrate the generator on unlabelled development images, train
with ``--preset real`` on generated images only, evaluate on held-out development images at
their own resolution, next to the classical baselines.

For each image set (bass2017 axons with boutons; vesselnn vessels): `jaxaxon.calibrate`
sees only the training fold's images (no labels), the network sees only generated images,
and the held-out fold is scored through `jaxaxon evaluate` (which resamples inputs by the
run's recorded scale). Folds: `jaxaxon.experiments.protocol`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxaxon.experiments import protocol as rp

__all__ = ["main", "markdown", "calibrate_set", "SETS", "PROFILES"]

USAGE = """\
Outputs: OUT/sim2real_results.md and .json; OUT/calib/<set>.json (the calibrated parameter files,
with their estimates and realism tables); per run OUT/<set>_seed<S>/ (the training run) and
OUT/eval/<set>_seed<S>/; OUT/eval/baselines/. Re-running the same command keeps finished runs
and resumes interrupted ones."""

SETS = ("bass2017", "vesselnn")
# cross-section family of each set's tubes (`jaxaxon calibrate --profile`): thin axons, flat vessels
PROFILES = {"bass2017": "gaussian", "vesselnn": "bar"}


def _training_images(args, folds: rp.Folds, name: str) -> list[np.ndarray]:
    """The training fold's images of one set, without their labels."""
    from jaxaxon.data.images import read_image, read_volume

    real = Path(args.real).resolve()
    if name == "bass2017":
        return [read_image(real / "bass2017" / "images" / f"{n}.png") for n in folds.description["bass2017_train"]]
    return [s.image for v in folds.description["vesselnn_train"] for s in read_volume(real / "vesselnn" / f"{v}.npz")]


def calibrate_set(
    images: Sequence[np.ndarray], path: Path, *, profile: str = "gaussian", psf: str = "estimate", corrections: int = 2,
    depth: str = "off", log=print,
) -> Path:  # fmt: skip
    """Calibrates the generator on ``images`` (`jaxaxon.calibrate.calibrate` with ``profile``,
    ``psf``, ``corrections`` and ``depth``) and writes the parameter file ``path`` (kept when it
    exists: re-runs reuse it)."""
    from jaxaxon.atomic import write_json_atomic
    from jaxaxon.calibrate import calibrate

    if path.exists():
        log(f"{path}: calibrated already")
        return path
    t0 = time.perf_counter()
    calibration = calibrate(images, profile=profile, psf=psf, corrections=corrections, depth_mode=depth)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, dict(calibration.params))
    log(f"{path}: calibrated on {len(images)} images ({profile} tubes) in {time.perf_counter() - t0:.0f} s")
    return path


def _test_dirs(folds: rp.Folds, out: Path) -> dict[str, Path]:
    """One held-out folder per set (symlinks into the folds' test folder)."""
    dirs = {}
    for name in SETS:
        d = out / "data" / f"test_{name}"
        if d.exists():
            for p in d.iterdir():
                p.unlink()
        d.mkdir(parents=True, exist_ok=True)
        dirs[name] = d
    for p in folds.test_dir.iterdir():
        if p.suffix == ".npz":
            os.symlink(p.resolve(), dirs["vesselnn"] / p.name)
        elif p.name == "images":
            os.symlink(p.resolve(), dirs["bass2017"] / "images")
        elif p.name == "bouton_boxes.json":
            os.symlink(p.resolve(), dirs["bass2017"] / p.name)
    return dirs


def _run_config(args, params: Path, name: str, seed: int):
    from jaxaxon.config import GeneratorConfig
    from jaxaxon.train import get_preset
    from jaxaxon.train.presets import with_generator

    rc = with_generator(get_preset(args.preset), GeneratorConfig.from_json(params))
    if name == "vesselnn":
        rc = rc.replace(**{"model.heads": ["axon"]})
    changes: dict[str, Any] = {"seed": seed, **rp._parse_set(args.set)}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.batch is not None:
        changes["batch_size"] = args.batch
    return rp.short_warmup(rc, changes)


def markdown(result: dict) -> str:
    """The results table: the synthetic-only runs and the baselines, per set."""
    rows = [((r["set"], r["seed"], r["zoom"]), r, (f"{r['train_seconds']:.0f}",)) for r in result["runs"]]
    rows += [((b["name"], "–", "1"), b, ("–",)) for b in result["baselines"]]
    cfg = result["training"]
    return "\n".join([
        *rp.markdown_header("Synthetic-only training on calibrated parameters", result),
        f"Training: preset `{cfg['preset']}`, {cfg['steps']} steps x {cfg['batch_size']} examples "
        f"({cfg['crop']}x{cfg['crop']} crops) on generated images only; the final checkpoint is evaluated on the "
        "held-out images at their own resolution (inputs resampled by the run's recorded scale, outputs back).",
        *rp.runs_section(result, ["run", "seed", "input zoom"], rows, ["train time (s)"]),
    ])  # fmt: skip


def picture(out: Path, folds: rp.Folds, runs: dict[str, Path], params: dict[str, Path], args, path: Path) -> None:
    """Real images, calibrated synthetic images and predictions on a held-out real image, per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jax

    import jaxaxon
    from jaxaxon.atomic import save_figure
    from jaxaxon.data.images import load_samples
    from jaxaxon.eval.evaluate import probability_maps
    from jaxaxon.train.inference import load_model

    names = [n for n in SETS if n in runs]
    fig, axes = plt.subplots(len(names), 4, figsize=(16, 4 * len(names)), squeeze=False)
    for row, name in zip(axes, names):
        real = _training_images(args, folds, name)[0]
        batch = jaxaxon.generate(jax.random.key(0), jaxaxon.GeneratorConfig.from_json(params[name]), 1)
        held = load_samples(out / "data" / f"test_{name}")[0]
        model, rc = load_model(rp.final_checkpoint(runs[name]))
        prob = probability_maps(model, rc, [held.image])[0]
        heads = list(rc.model.heads)
        shown = [(real, f"{name}: real (calibration fold)"), (np.asarray(batch.image[0]), "calibrated, generated"),
                 (held.image, f"held out: {held.name}"),
                 (prob[..., heads.index("bouton" if "bouton" in heads else "axon")],
                  f"network's {'bouton' if 'bouton' in heads else 'axon'} map")]  # fmt: skip
        for ax, (img, title) in zip(row, shown):
            ax.imshow(img, cmap="magma" if "map" in title else "gray")
            ax.set_title(title)
            ax.axis("off")
        if held.boxes is not None and "bouton" in heads:
            for r0, c0, r1, c1 in held.boxes:
                row[3].add_patch(plt.Rectangle((c0, r0), c1 - c0, r1 - r0, fill=False, color="cyan", lw=0.8))
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = rp.make_parser("sim2real_experiment.py", __doc__, USAGE)
    rp.add_arguments(parser)
    parser.set_defaults(preset="real")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--sets", default=",".join(SETS), help="image sets to run (default bass2017,vesselnn)")
    parser.add_argument("--picture", metavar="PNG", help="also save the overview picture here")
    parser.add_argument("--no-baselines", action="store_true", help="leave out the Frangi and LoG rows (CPU-bound)")
    parser.add_argument("--psf", choices=("estimate", "spectrum"), default="estimate",
                        help="calibration's PSF width (jaxaxon calibrate --psf; default estimate)")
    parser.add_argument("--corrections", type=int, default=2,
                        help="calibration's correction steps (jaxaxon calibrate --corrections; default 2)")
    parser.add_argument("--depth", choices=("off", "mean", "auto"), default="off",
                        help="calibration's scene model (jaxaxon calibrate --depth; default off)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        sets = rp.csv_items(args.sets)
        if not sets or set(sets) - set(SETS):
            raise rp.ProtocolError(f"--sets: expected names among {', '.join(SETS)}, got {args.sets!r}")
        if "bass2017" not in sets:
            args.no_boutons = True
        seeds = rp.seeds_of(args)
        out.mkdir(parents=True, exist_ok=True)
        folds = rp.prepare_folds(args, out)
        tests = _test_dirs(folds, out)
        params = {
            n: calibrate_set(_training_images(args, folds, n), out / "calib" / f"{n}.json", profile=PROFILES[n],
                             psf=args.psf, corrections=args.corrections, depth=args.depth)
            for n in sets
        }  # fmt: skip
        rows, runs = [], {}
        for name in sets:
            for seed in seeds:
                rc = _run_config(args, params[name], name, seed)
                workdir = out / f"{name}_seed{seed}"
                seconds = rp.run_training(workdir, rc)
                held_out = dataclasses.replace(folds, test_dir=tests[name])
                row = rp.evaluate_run(workdir, held_out, out / "eval" / workdir.name)
                rows.append({"set": name, "seed": seed, "zoom": f"{rc.generator.image_scale:.3g}",
                             "train_seconds": seconds, **row})  # fmt: skip
                runs.setdefault(name, workdir)
        baselines = [] if args.no_baselines else rp.baseline_rows(args, folds, out / "eval" / "baselines")
        rc0 = _run_config(args, params[sets[0]], sets[0], seeds[0])
        result = {
            **rp.result_header("sim2real_experiment.py", argv, folds),
            "training": {"preset": args.preset, "steps": rc0.steps, "batch_size": rc0.batch_size, "crop": rc0.crop},
            "params": {n: str(p) for n, p in params.items()},
            "runs": rows,
            "baselines": baselines,
        }
        rp.write_results(out, "sim2real_results", markdown(result), result)
        if args.picture:
            picture(out, folds, runs, params, args, Path(args.picture))
            print(f"wrote {args.picture}")
    except rp.ProtocolError as err:
        print(f"sim2real_experiment.py: error: {err}", file=sys.stderr)
        return 2
    return 0
