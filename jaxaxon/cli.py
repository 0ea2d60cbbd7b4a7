"""The `jaxaxon` command line: argument parsing and printing only; every command calls the library."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _load_config(path: str | None):
    from jaxaxon.config import GeneratorConfig

    return GeneratorConfig() if path is None else GeneratorConfig.from_json(path)


def _cmd_preview(args: argparse.Namespace) -> int:
    import jax

    from jaxaxon.outpaths import check_output_file
    from jaxaxon.preview import save_batch_preview
    from jaxaxon.synth.image import generate

    check_output_file(args.out, (".png",))
    cfg = _load_config(args.params)
    batch = generate(jax.random.key(args.seed), cfg, args.n)
    out = save_batch_preview(args.out, batch, columns=args.n)
    print(f"wrote {out} ({args.n} images of {cfg.height}x{cfg.width})")
    return 0


def _add_distributed_args(p: argparse.ArgumentParser) -> None:
    """Multi-host options (`jaxaxon.parallel.initialize_distributed`)."""
    g = p.add_argument_group(
        "multi-host",
        "run as one of several processes (hosts); default: JAXAXON_COORDINATOR, JAXAXON_NUM_PROCESSES, "
        "JAXAXON_PROCESS_ID, else JAX's own detection on TPU pods and SLURM (--no-distributed: single process)",
    )
    g.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0's coordinator service")
    g.add_argument("--num-processes", dest="num_processes", type=_positive_int, help="number of processes")
    g.add_argument("--process-id", dest="process_id", type=_non_negative_int, help="this process's index")
    g.add_argument("--no-distributed", dest="distributed", action="store_false",
                   help="single process even inside a SLURM job or on a TPU pod")  # fmt: skip


def _start_distributed(args: argparse.Namespace) -> None:
    """Joins a multi-process run when asked (flags, environment) or detected; before any JAX work."""
    from jaxaxon.parallel import DistributedConfig, initialize_distributed

    config = DistributedConfig.from_env(
        coordinator=args.coordinator, num_processes=args.num_processes, process_id=args.process_id
    )
    if not args.distributed:
        config = DistributedConfig(auto=False)
    try:
        initialize_distributed(config)
    except ValueError as err:  # incomplete or inconsistent flags: one line, nothing started
        print(f"jaxaxon {args.command}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def _cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from jaxaxon.data import DatasetError, open_dataset, write_dataset
    from jaxaxon.preview import save_batch_preview

    _start_distributed(args)
    from jaxaxon.parallel import is_main_process

    main = is_main_process()
    cfg = _load_config(args.params)
    kind = noun = "series" if args.series else "images"
    if args.preview and Path(args.preview).expanduser().resolve().parent.is_file():
        raise DatasetError(f"cannot write the preview {args.preview}: its parent is a file")
    bar = None
    state = {"done": 0, "total": args.n}

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if not main:
            return
        if bar is None:
            if done == total:
                return
            if done:
                print(f"resuming {args.out}: {done} of {total} {noun} already complete", file=sys.stderr)
            unit = "series" if args.series else "img"
            bar = tqdm(total=total, initial=done, unit=unit, desc="generate", dynamic_ncols=True, smoothing=0.1)
        else:
            bar.update(done - state["done"])
        state.update(done=done, total=total)

    try:
        summary = write_dataset(
            args.out, cfg, args.n, seed=args.seed, batch_size=args.batch, kind=kind,
            overwrite=args.overwrite, on_progress=on_progress,
        )  # fmt: skip
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(
            f"jaxaxon generate: interrupted with {state['done']} of {state['total']} {noun} complete; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except Exception:  # the message (main) starts on a line of its own
        if bar is not None:
            bar.close()
        raise
    if bar is not None:
        bar.close()
    if not main:
        return 0
    if summary.repaired:
        print(
            f"rewrote the damaged chunks of {summary.path}: {len(summary.repaired)} of {summary.num_examples} {noun} "
            f"were damaged ({summary.repaired_text})"
        )
    if summary.written:
        print(
            f"wrote {summary.written} {noun} to {summary.path} ({summary.num_examples} in all, "
            f"{summary.examples_per_second:.1f} {noun}/s, {summary.seconds:.1f} s)"
        )
    elif not summary.repaired:
        print(f"{summary.path} is already complete and intact ({summary.num_examples} {noun}); nothing to do")
    if args.preview:
        ds = open_dataset(args.out)
        try:
            # single images: the first 8 with their masks; series: the frames of the first series
            out = save_batch_preview(args.preview, ds[0] if args.series else ds[0 : min(8, len(ds))])
        except OSError as err:
            raise DatasetError(f"the dataset is complete, but the preview cannot be written: {err}") from None
        print(f"wrote {out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from jaxaxon.data import verify_dataset

    report = verify_dataset(args.path)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 2


def _cmd_train(args: argparse.Namespace) -> int:
    from jaxaxon.config import ConfigError
    from jaxaxon.train import CheckpointError, RunConfigError, TrainingInterrupted, get_preset, train
    from jaxaxon.train.config import parse_overrides
    from jaxaxon.train.history import HistoryError
    from jaxaxon.train.presets import with_generator

    from jaxaxon.outpaths import check_output_folder

    changes = {}
    try:
        check_output_folder(args.workdir, "--workdir")
        _start_distributed(args)
        changes.update(parse_overrides(args.set or []))
        for flag, key in (("seed", "seed"), ("batch", "batch_size"), ("lr", "lr")):
            if getattr(args, flag) is not None:
                changes[key] = getattr(args, flag)
        if args.dtype is not None:
            changes["model.dtype"] = args.dtype
        if args.heads is not None:
            changes["model.heads"] = [h.strip() for h in args.heads.split(",") if h.strip()]
        real = _real_mixing(args)
        if args.resume:
            fixed = ("preset", "params", "init_from", "real", "real_share", "real_include", "real_bouton_targets")
            given = sorted(k for k in fixed if getattr(args, k) is not None) + sorted(changes)
            if given:
                raise RunConfigError(
                    f"--resume continues the stored configuration of {args.workdir}; it cannot change: "
                    f"{', '.join(given)} (only --steps, --epochs, --until and --data, the run's dataset moved, apply)"
                )
            rc = None
        else:
            rc = get_preset(args.preset or "quick")
            if args.params is not None:
                rc = with_generator(rc, _load_config(args.params), heads_given="model.heads" in changes)
            elif args.data is not None:  # validation images from the dataset's parameters
                from jaxaxon.train.data_loader import dataset_generator

                rc = with_generator(rc, dataset_generator(args.data), heads_given="model.heads" in changes)
            if args.steps is not None:
                changes["steps"] = args.steps
            if real is not None:
                changes["real"] = real
            rc = rc.replace(**changes)
        summary = train(
            args.workdir,
            rc,
            resume=args.resume,
            steps=args.steps,
            init_from=args.init_from,
            until=args.until,
            progress=not args.no_progress,
            data=args.data,
            epochs=args.epochs,
        )
    except TrainingInterrupted as stop:
        print(f"jaxaxon train: {stop}", file=sys.stderr)
        return {None: 0, 2: 130, 15: 143}.get(stop.signum, 1)
    except (RunConfigError, CheckpointError, HistoryError, ConfigError, ValueError) as err:
        print(f"jaxaxon train: error: {err}", file=sys.stderr)
        return 2
    from jaxaxon.parallel import is_main_process

    if not is_main_process():
        return 0
    last = summary["last"]
    shown = ", ".join(f"{k} {last[k]:.4f}" for k in ("loss", "val_loss", "val_dice") if k in last)
    best = [k for k in summary if k.startswith("best_val") and summary[k] is not None]
    best_text = f"; best {best[0][5:]} {summary[best[0]]:.4f} at step {summary['best_step']}" if best else ""
    print(f"step {summary['step']}: {shown}{best_text} ({summary['elapsed_s']:.0f} s)")
    wd = Path(args.workdir)
    print(f"wrote {wd / 'history.json'}, {wd / 'checkpoints'}/, {wd / 'plots' / 'training.png'}, {wd / 'config.json'}")
    return 0


def _add_train_parser(sub) -> None:
    from jaxaxon.train.presets import preset_names

    p = sub.add_parser(
        "train",
        help="train a segmentation network (or the pre-training autoencoder) on images generated on the fly "
        "or on a dataset on disk",
        description="Train on images generated inside the jitted training step, or (--data) on a dataset written by "
        "'jaxaxon generate', shuffled anew every epoch. Writes DIR/config.json, DIR/history.json, DIR/checkpoints/ "
        "(orbax) and DIR/plots/*.png. SIGTERM or Ctrl-C saves a checkpoint before exiting; --resume continues from "
        "it.",
    )
    p.add_argument("--workdir", required=True, help="run directory")
    p.add_argument("--preset", help=f"starting configuration: {', '.join(preset_names())} (default quick)")
    p.add_argument("--params", help="generator parameter file in the original's JSON format (default: the preset's)")
    p.add_argument("--steps", type=_positive_int, help="total training steps (with --resume: a new total)")
    p.add_argument("--data", metavar="PATH.zarr",
                   help="train on this dataset ('jaxaxon generate') instead of images generated on the fly; "
                   "validation stays on generated images of its parameters (with --resume: a moved copy of the "
                   "run's dataset)")  # fmt: skip
    p.add_argument("--epochs", type=_positive_float, metavar="E",
                   help="with --data: train for E passes over the dataset, ceil(E * N / images per step) steps "
                   "(instead of --steps; both must agree when given)")  # fmt: skip
    p.add_argument("--seed", type=_non_negative_int, help="seed of initialisation, training images and dropout")
    p.add_argument("--resume", action="store_true", help="continue the run in --workdir from its latest checkpoint")
    p.add_argument(
        "--init-from",
        dest="init_from",
        metavar="CHECKPOINT",
        help="initialise from a run or checkpoint: an autoencoder's encoder, or a segmentation network to fine-tune",
    )
    p.add_argument(
        "--until", type=_positive_int, metavar="STEP", help="pause after STEP with a checkpoint (continue with --resume)"
    )
    p.add_argument("--batch", type=_positive_int, help="training examples per step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), help="compute dtype (parameters stay float32)")
    p.add_argument("--heads", help="output heads, comma-separated: axon, bouton or axon,bouton")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any run option, e.g. --set model.norm=batch --set loss=dice+bce --set crop=128 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_distributed_args(p)
    _add_real_arguments(p)
    p.set_defaults(func=_cmd_train)


def _is_series_dataset(path: str) -> bool:
    from jaxaxon.data.layout import GROUP_FILE, read_attributes

    root = Path(path)
    return (root / GROUP_FILE).is_file() and read_attributes(root).get("kind") == "series"


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from jaxaxon.eval.evaluate import evaluate_checkpoint
    from jaxaxon.eval.scale import ScaleError

    if args.series or _is_series_dataset(args.data):
        from jaxaxon.track.cli import run_evaluate_series

        return run_evaluate_series(args)
    try:
        metrics = evaluate_checkpoint(
            args.checkpoint, args.data, args.out, baselines=args.baselines, frangi_sigmas=args.frangi_sigmas,
            limit=args.limit, pixel_size=args.pixel_size, scale=args.scale, log=print,
        )  # fmt: skip
    except ScaleError as err:
        print(f"jaxaxon evaluate: error: {err}", file=sys.stderr)
        return 2
    keys = ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision", "bouton_precision", "bouton_recall", "bouton_f1")
    rows = [("model", metrics)] + [(name, m) for name, m in metrics.get("baselines", {}).items()]
    print("| method | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, m in rows:
        cells = [f"{m[k]:.4f}" if isinstance(m.get(k), (int, float)) else "-" for k in keys]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(_zoom_line(metrics["input_scale"]))
    print(f"wrote {Path(args.out) / 'metrics.json'}, plots and predictions")
    return 0


def _zoom_line(record: dict) -> str:
    zoom = "per image" if record["zoom"] is None else f"{record['zoom']:g}"
    return f"input zoom {zoom} (from {record['source']})"


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from jaxaxon.eval.evaluate import predict_folder
    from jaxaxon.eval.scale import ScaleError

    try:
        written = predict_folder(
            args.checkpoint, args.input, args.out, threshold=args.threshold, fmt=args.format,
            pixel_size=args.pixel_size, scale=args.scale, log=print,
        )  # fmt: skip
    except ScaleError as err:
        print(f"jaxaxon predict: error: {err}", file=sys.stderr)
        return 2
    print(_zoom_line(json.loads((Path(args.out) / "predictions.json").read_text())["input_scale"]))
    kind = "OME-TIFF" if args.format == "tiff" else "OME-Zarr"
    print(f"wrote {len(written)} probability maps and masks ({kind}, with PNG previews) to {args.out}")
    return 0


def _add_scale_arguments(p: argparse.ArgumentParser) -> None:
    """``--pixel-size`` / ``--scale``: how input images are resampled to the run's pixel size."""
    g = p.add_argument_group(
        "physical scale",
        "images are resampled to the training pixel size and the maps back to the image's grid; default: the "
        "TIFF metadata's pixel size when the run's is known, else the run's generator image_scale (1: none)",
    ).add_mutually_exclusive_group()
    g.add_argument("--pixel-size", dest="pixel_size", type=_positive_float, metavar="UM",
                   help="micrometres per pixel of the input images (the run must record its pixel size)")
    g.add_argument("--scale", type=_positive_float, metavar="F",
                   help="resample every input image by F before the network (0.5: half the pixels per side)")


def _cmd_bench(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from jaxaxon.bench import SECTIONS
    from jaxaxon.bench.report import markdown, resolve_out, write_results
    from jaxaxon.bench.suite import FULL, QUICK, run_suite, with_settings

    cfg = _load_config(args.params)
    settings = with_settings(QUICK if args.quick else FULL, args.set)
    if args.repeats is not None:
        settings = dataclasses.replace(settings, repeats=args.repeats)
    if args.batches:
        settings = dataclasses.replace(settings, batches=tuple(args.batches))
    out = resolve_out(args.out) if args.out else None  # checked before a run of minutes, not after
    sections = tuple(s for s in SECTIONS if s in (args.sections or SECTIONS))
    t0 = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f} s] {message}", file=sys.stderr, flush=True)

    result = run_suite(settings, cfg, sections=sections, on_progress=progress, workdir=args.dir)
    print(markdown(result))
    if out is not None:
        for path in write_results(result, out):
            print(f"wrote {path}")
    if result["meta"]["errors"]:
        print(f"jaxaxon bench: {len(result['meta']['errors'])} workload(s) failed (see above)", file=sys.stderr)
        return 1
    return 0


def _add_real_arguments(p) -> None:
    g = p.add_argument_group(
        "real data",
        "mix random crops (flips, 90-degree rotations) of labelled real images into every batch, on the device",
    )
    g.add_argument("--real", action="append", metavar="PATH",
                   help="labelled folder (images/ + masks/, NAME.npz volumes, bouton_boxes.json), volume or image "
                   "file (repeatable)")  # fmt: skip
    g.add_argument("--real-share", dest="real_share", type=float, metavar="F",
                   help="fraction of each batch that is real crops, 0..1 (round(F * batch) crops per step)")
    g.add_argument("--real-include", dest="real_include", metavar="PATTERNS",
                   help="use only real images whose names match these comma-separated shell patterns, e.g. '0[1-7],12'")
    g.add_argument("--real-bouton-targets", dest="real_bouton_targets", choices=("none", "disc", "gaussian"),
                   help="train the bouton head from bouton boxes: a disc or a Gaussian at each box centre "
                   "(default none: images with boxes but no axon mask are left out; with disc or gaussian they train the bouton "
                   "head only, the axon loss leaves them out)")  # fmt: skip


def _real_mixing(args: argparse.Namespace):
    """The `RealMixing` of the --real options (None without them)."""
    from jaxaxon.train.config import RealMixing, RunConfigError

    others = [f"--{k.replace('_', '-')}" for k in ("real_share", "real_include", "real_bouton_targets")
              if getattr(args, k) is not None]  # fmt: skip
    if not args.real:
        if others:
            raise RunConfigError(f"{', '.join(others)} need real data: give --real DIR")
        return None
    if args.resume:
        return None  # refused with the other fixed options
    if args.real_share is None:
        raise RunConfigError("--real needs --real-share F, the fraction of each batch drawn from the real images (0..1)")
    include = tuple(p.strip() for p in (args.real_include or "").split(",") if p.strip())
    return RealMixing(
        paths=tuple(args.real),
        share=args.real_share,
        include=include,
        bouton_targets=args.real_bouton_targets or "none",
    )


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit status 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `jaxaxon` command (sub-commands share its one-line errors)."""
    parser = _Parser(
        prog="jaxaxon",
        description="Synthetic two-photon images of cortical axons, generated with JAX, and networks trained on them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("preview", help="generate a few images and save a PNG grid with their masks")
    p.add_argument("--n", type=_positive_int, default=8, help="number of images (default 8)")
    p.add_argument("--out", default="preview.png", help="output PNG (default preview.png)")
    p.add_argument("--params", help="parameter file in the original's JSON format (default: the shipped 256x256 set)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed, 0..2**32-1 (default 0)")
    p.set_defaults(func=_cmd_preview)

    p = sub.add_parser(
        "generate",
        help="generate N images with their masks into a zarr dataset (resumable)",
        description="Generate N images (and masks, clean images, centrelines, bouton records) on the "
        "available device and write them to a zarr v3 dataset. Image i depends only on (seed, i): "
        "an interrupted run continues where it stopped when the same command is run again.",
    )
    p.add_argument("--n", type=_positive_int, required=True, help="number of images")
    p.add_argument("--out", required=True, help="output dataset directory (PATH.zarr)")
    p.add_argument("--params", help="parameter file in the original's JSON format (default: the shipped 256x256 set)")
    p.add_argument("--seed", type=_seed, default=0, help="dataset seed, 0..2**32-1 (default 0)")
    p.add_argument(
        "--batch", type=_positive_int, default=None,
        help="images per generated batch and per stored chunk (default: 32, or the existing dataset's when resuming)",
    )  # fmt: skip
    p.add_argument("--series", action="store_true", help="generate time series ([N, T, H, W] arrays, T = NbImages)")
    p.add_argument("--preview", metavar="FILE.png", help="also save a PNG grid of the first images with their masks")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset made with other settings")
    _add_distributed_args(p)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser(
        "verify",
        help="check a dataset's chunks (checksums, missing files) and name the damaged examples",
        description="Read every chunk of a dataset written by 'jaxaxon generate' that is recorded complete, "
        "checking its crc32c checksums and that its file exists. Exit status 0: intact; 2: damaged (re-run the "
        "generate command that wrote it to rewrite the damaged chunks) or unreadable.",
    )
    p.add_argument("path", help="dataset directory (PATH.zarr)")
    p.set_defaults(func=_cmd_verify)

    _add_train_parser(sub)
    from jaxaxon.calibrate.cli import add_parser as add_calibrate_parser

    add_calibrate_parser(sub)
    from jaxaxon.track.cli import add_parser as add_track_parser

    add_track_parser(sub)

    p = sub.add_parser(
        "evaluate",
        help="evaluate a trained network on labelled images (threshold sweep, Dice, clDice, bouton F1)",
        description="Run a checkpoint on a labelled dataset (a dataset from 'jaxaxon generate', a labelled "
        "folder images/ + masks/ + bouton_boxes.json, or a NAME.npz volume) at the images' own size and write "
        "OUT/metrics.json, plots (ROC, TPR vs precision, Dice vs threshold) and predictions (PNG and .npy).",
    )
    p.add_argument("--checkpoint", required=True, help="training directory or checkpoint")
    p.add_argument("--data", required=True, help="labelled data: dataset .zarr, folder or volume .npz")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--baselines", action="store_true", help="also evaluate the Frangi and LoG baselines side by side")
    p.add_argument("--frangi-sigmas", type=_positive_floats, metavar="S1,S2,...",
                   help="comma-separated Frangi scales in pixels (default: matched to the axon widths)")
    p.add_argument("--limit", type=_positive_int, help="evaluate only the first N images (series with --series)")
    g = p.add_argument_group(
        "time series",
        "a dataset from 'jaxaxon generate --series' is evaluated as series; --series reads NAME.npz files with "
        "'frames' [T, H, W] (optional 'masks', 'tracks' [M, 4] rows frame,id,row,col) or folders of frame "
        "images with tracks.csv. Adds tracking scores: the original's centreline tracking accuracy, bouton "
        "tracking (MOTA, identity switches) and gain/loss events",
    )
    g.add_argument("--series", action="store_true", help="the data are time series")
    g.add_argument("--detections", choices=("network", "truth"), default="network",
                   help="bouton points to track: the network's (default) or the ground truth's (scores the "
                   "registration and linking alone)")  # fmt: skip
    from jaxaxon.track.cli import add_tracker_arguments

    add_tracker_arguments(p)
    _add_scale_arguments(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "predict",
        help="probability maps and masks for a folder of new images",
        description="Run a checkpoint on every image of a folder (PNG/TIFF/NumPy/JPEG files and .npz volumes, any "
        "size; other files are skipped and listed) and write, per image and output head, the probability map "
        "(float32) and the mask (uint8, 1 where prob > threshold) as OME-TIFF, NAME_HEAD_prob.ome.tif and "
        "NAME_HEAD_mask.ome.tif, or with --format zarr as one OME-Zarr (NGFF 0.5) image NAME_HEAD.ome.zarr with the "
        "mask as its label image 'mask'; plus PNG previews NAME_HEAD_prob.png, NAME_HEAD_mask.png and "
        "predictions.json listing every file. The image's pixel size (--pixel-size, else the input TIFF's OME or "
        "ImageJ metadata) is written into the files when known.",
    )
    p.add_argument("--checkpoint", required=True, help="training directory or checkpoint")
    p.add_argument("--input", required=True, help="folder of images (or one image, or a volume .npz)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--threshold", type=_probability, default=0.5, help="mask threshold on the probability, 0..1 "
                   "(default 0.5)")
    p.add_argument("--format", choices=("tiff", "zarr"), default="tiff",
                   help="file format of maps and masks: OME-TIFF (default; Fiji, napari) or OME-Zarr")
    _add_scale_arguments(p)
    p.set_defaults(func=_cmd_predict)

    from jaxaxon.bench import SECTIONS  # light import: no JAX

    p = sub.add_parser(
        "bench",
        help="run the benchmark suite (generator, presets, sizes, stages, series, dataset, training, mixing, "
        "scaling, memory, roofline)",
        description="Time every workload (median of repeated runs after warm-up, compile time apart, peak "
        "memory) and print a Markdown report; --out also writes the JSON result, the report and plots.",
    )
    p.add_argument("--quick", action="store_true", help="the small setting: under 10 minutes on a 2-core CPU")
    p.add_argument(
        "--out", metavar="FILE.json",
        help="write the JSON result here, with FILE.md and FILE_{batch,size,memory}.png beside it "
        "(a directory: named after the device kind, e.g. cpu.json)",
    )  # fmt: skip
    p.add_argument("--params", help="base parameter file (default: the shipped 256x256 set)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, metavar="SECTION",
                   help=f"run only these sections ({', '.join(SECTIONS)})")  # fmt: skip
    p.add_argument("--repeats", type=_positive_int, help="timed runs per figure (default 3 with --quick, else 5)")
    p.add_argument("--batches", nargs="+", type=_positive_int, metavar="B",
                   help="batch sizes of the complete generator and the presets (default 1 8 32 with --quick; "
                   "an accelerator needs thousands)")  # fmt: skip
    p.add_argument("--dir", help="where the dataset section writes its datasets (default: a temporary directory)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any suite setting (jaxaxon.bench.suite.SuiteSettings; tuples comma-separated), e.g. "
                   "training_presets=original training_batch=256 training_dtypes=float32,bfloat16")  # fmt: skip
    p.set_defaults(func=_cmd_bench)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _positive_floats(text: str) -> tuple[float, ...]:
    return tuple(_positive_float(part.strip()) for part in text.split(","))


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a seed in 0..{2**32 - 1}, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that come from the user's input (reported in one line, exit status 2)."""
    from jaxaxon.bench.report import OutputError
    from jaxaxon.data.images import ImageDataError
    from jaxaxon.outpaths import OutputPathError
    from jaxaxon.train.checkpoint import CheckpointError

    return (ImageDataError, CheckpointError, FileNotFoundError, OutputError, OutputPathError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `jaxaxon` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from jaxaxon.config import ConfigError
    from jaxaxon.data.layout import DatasetError

    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"jaxaxon {args.command}: invalid parameters: {err}", file=sys.stderr)
        return 2
    except DatasetError as err:
        print(f"jaxaxon {args.command}: error: {err}", file=sys.stderr)
        return 2
    except _user_errors() as err:
        print(f"jaxaxon {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jaxaxon {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
