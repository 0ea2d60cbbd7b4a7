"""The protocol of the real-data experiments (`jaxaxon.experiments.mixing`, `.pretrain`): folds
of the development images (see docs/real_images.md), resumable training runs, evaluation of a
run's final checkpoint on the held-out images, and results tables (Markdown + JSON). The
evaluated checkpoint is each run's final one, not the best on synthetic validation images,
which would favour synthetic-heavy runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jaxaxon.atomic import write_json_atomic, write_text_atomic
from jaxaxon.bench.table import num, table
from jaxaxon.train import RunConfig, get_preset, read_run_config, train
from jaxaxon.train.config import RealMixing, RunConfigError, parse_overrides

TRAIN_VOLUMES = ("burgess2014_bbbDisruption", "burgess2014_noisySparseVessels")
TEST_VOLUMES = ("santos2015_lowContrastVessels",)
BASS_TEST = ("01", "02", "08", "09")
BASS_PAIRS = (("08", "09"), ("10", "11"))  # overlapping images: never split between folds


class ProtocolError(ValueError):
    """Bad experiment options (the message says which)."""


REAL_HELP = (
    "the development images: a folder holding vesselnn/ (NAME.npz volumes with images and masks) and "
    "bass2017/ (images/*.png and bouton_boxes.json); see docs/real_images.md"
)


def csv_items(text: str) -> tuple[str, ...]:
    """The non-empty comma-separated items of ``text``."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def make_parser(prog: str, doc: str, epilog: str) -> argparse.ArgumentParser:
    """An experiment's parser: ``doc``'s first paragraph as description, ``epilog`` verbatim."""
    return argparse.ArgumentParser(
        prog=prog, description=doc.split("\n\n")[0], epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options common to the experiments: data, folds, training scale, evaluation."""
    parser.add_argument("--real", required=True, metavar="DIR", help=REAL_HELP)
    parser.add_argument("--preset", default="quick", help="training preset of the segmentation runs (default quick)")
    parser.add_argument("--steps", type=int, help="training steps of every segmentation run (default: the preset's)")
    parser.add_argument("--batch", type=int, help="examples per step (default: the preset's)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; each arm runs once per seed")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any run option for the segmentation runs (as jaxaxon train --set)")  # fmt: skip
    parser.add_argument("--train-volumes", default=",".join(TRAIN_VOLUMES), help="vesselnn volumes to train on")
    parser.add_argument("--test-volumes", default=",".join(TEST_VOLUMES), help="held-out vesselnn volumes")
    parser.add_argument("--bass-test", default=",".join(BASS_TEST), help="held-out bass2017 images (others train)")
    parser.add_argument("--no-boutons", action="store_true", help="axon head only; leave bass2017 out")
    parser.add_argument("--bouton-targets", default="disc", choices=("disc", "gaussian"),
                        help="bouton head targets from the boxes (default disc)")  # fmt: skip


@dataclass(frozen=True)
class Folds:
    """Training and held-out data.

    Attributes:
      train_paths: ``--real`` paths of the training runs (volume files, the bass2017 folder).
      train_include: name patterns selecting the training images among them.
      test_dir: a labelled folder (symlinks) holding the held-out volumes and bass2017 images.
      heads: the trained heads.
      description: the folds in words, for the tables.
    """

    train_paths: tuple[str, ...]
    train_include: tuple[str, ...]
    test_dir: Path
    heads: tuple[str, ...]
    description: dict[str, Any]


def prepare_folds(args: argparse.Namespace, out: Path) -> Folds:
    """Checks the fold options and builds ``OUT/data/test`` (symlinks and a filtered
    ``bouton_boxes.json``; nothing of ``--real`` is copied).

    The default folds (every choice is a command-line option):

    - ``vesselnn`` (vessels, not axons; dense masks): the axon head trains on the volumes
      ``burgess2014_bbbDisruption`` and ``burgess2014_noisySparseVessels`` (25 slices) and is
      evaluated on the held-out ``santos2015_lowContrastVessels`` (15 slices, another session and
      lab member, unrecorded voxel size): Dice, clDice, TPR/FPR/precision at the best of the
      original's 200 thresholds (picked on the held-out slices, as the original did, and the
      same way for every model and baseline).
    - ``bass2017`` (bouton boxes, no axon masks): the bouton head trains on 04, 05, 06, 07, 10,
      11, 12 (147 boxes) and is evaluated on 01, 02, 08, 09 (73 boxes); the overlapping pairs
      08/09 and 10/11 stay in one fold. Detection precision/recall/F1 of blob centres (bouton
      map > 0.5) matched to the boxes.
    """
    real = Path(args.real).resolve()
    vessel_dir, bass_dir = real / "vesselnn", real / "bass2017"
    train_vols, test_vols = csv_items(args.train_volumes), csv_items(args.test_volumes)
    if not train_vols or not test_vols:
        raise ProtocolError("--train-volumes and --test-volumes must each name at least one vesselnn volume")
    if set(train_vols) & set(test_vols):
        raise ProtocolError(f"volumes both trained on and held out: {sorted(set(train_vols) & set(test_vols))}")
    for v in train_vols + test_vols:
        if not (vessel_dir / f"{v}.npz").is_file():
            raise ProtocolError(f"{vessel_dir / (v + '.npz')}: no such volume (does --real hold vesselnn/?)")
    paths = [str(vessel_dir / f"{v}.npz") for v in train_vols]
    include = [f"{v}_z*" for v in train_vols]
    test = out / "data" / "test"
    if test.exists():
        shutil.rmtree(test)  # symlinks are removed, never followed
    test.mkdir(parents=True)
    for v in test_vols:
        os.symlink(vessel_dir / f"{v}.npz", test / f"{v}.npz")
    description: dict[str, Any] = {"vesselnn_train": list(train_vols), "vesselnn_test": list(test_vols)}
    heads: tuple[str, ...] = ("axon",)
    if not args.no_boutons:
        boxes = json.loads((bass_dir / "bouton_boxes.json").read_text())
        names = sorted(boxes)
        held = csv_items(args.bass_test)
        unknown = sorted(set(held) - set(names))
        if unknown or not held:
            raise ProtocolError(f"--bass-test: unknown bass2017 images {unknown} (images: {', '.join(names)})")
        for pair in BASS_PAIRS:
            if len(set(pair) & set(held)) == 1:
                raise ProtocolError(f"--bass-test: {pair[0]} and {pair[1]} overlap; keep them in the same fold")
        train_names = [n for n in names if n not in held]
        if not train_names:
            raise ProtocolError("--bass-test holds out every bass2017 image; none is left to train on")
        paths.append(str(bass_dir))
        include += train_names
        (test / "images").mkdir()
        for n in held:
            os.symlink(bass_dir / "images" / f"{n}.png", test / "images" / f"{n}.png")
        write_json_atomic(test / "bouton_boxes.json", {n: boxes[n] for n in held})
        heads = ("axon", "bouton")
        description.update(
            bass2017_train=train_names,
            bass2017_test=list(held),
            boxes_train=sum(len(boxes[n]) for n in train_names),
            boxes_test=sum(len(boxes[n]) for n in held),
        )
    return Folds(tuple(paths), tuple(include), test, heads, description)


def _parse_set(items: Sequence[str]) -> dict:
    try:
        return parse_overrides(items)
    except RunConfigError as err:
        raise ProtocolError(str(err)) from None


def segmentation_config(args: argparse.Namespace, folds: Folds, seed: int) -> RunConfig:
    """The segmentation preset with the experiment's heads, scale, seed and ``--set`` options."""
    changes: dict[str, Any] = {"model.heads": list(folds.heads), "seed": seed, **_parse_set(args.set)}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.batch is not None:
        changes["batch_size"] = args.batch
    return short_warmup(get_preset(args.preset), changes)


def short_warmup(rc: RunConfig, changes: dict[str, Any]) -> RunConfig:
    """``rc.replace(**changes)``, with the warm-up cut to a tenth of the steps when the
    preset's warm-up would not leave any (short runs)."""
    steps = changes.get("steps", rc.steps)
    if "warmup_steps" not in changes and rc.warmup_steps >= steps:
        changes = {**changes, "warmup_steps": steps // 10}
    return rc.replace(**changes)


def real_mixing(folds: Folds, share: float, args: argparse.Namespace) -> RealMixing:
    """The training fold mixed in at ``share``."""
    return RealMixing(
        paths=folds.train_paths,
        share=share,
        include=folds.train_include,
        bouton_targets="none" if args.no_boutons else args.bouton_targets,
    )


def _comparable(rc: RunConfig) -> dict:
    d = rc.to_dict()
    if d.get("real"):
        d["real"] = {k: v for k, v in d["real"].items() if k not in ("fingerprint", "n_images", "paths")}
        d["real"]["paths"] = [str(Path(p).resolve()) for p in rc.real.paths]
    d.pop("init_from", None)
    return d


def run_training(workdir: Path, rc: RunConfig, *, init_from: str | Path | None = None, log: Callable = print) -> float:
    """Trains ``rc`` in ``workdir``; a finished run is kept, an interrupted one resumed.

    Returns:
      Training wall time in seconds (compilation included; from the history).
    """
    config = workdir / "config.json"
    if config.exists():
        saved = read_run_config(config)
        if _comparable(saved) != _comparable(rc):
            raise ProtocolError(f"{workdir} holds a run with other settings; choose another --out or delete it")
        history = read_history(workdir)
        if not history or history[-1]["step"] < rc.steps:
            log(f"{workdir.name}: resuming")
            train(workdir, resume=True, progress=False, log=log)
        else:
            log(f"{workdir.name}: already trained ({rc.steps} steps)")
    else:
        log(f"{workdir.name}: training {rc.steps} steps x {rc.batch_size} examples ({rc.real_per_step} real)")
        train(workdir, rc, init_from=init_from, progress=False, log=log)
    return float(read_history(workdir)[-1]["time"])


def read_history(workdir: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``history.json``."""
    from jaxaxon.train.history import read_history as _read

    return _read(workdir / "history.json")


def final_checkpoint(workdir: Path) -> Path:
    latest = workdir / "checkpoints" / "latest"
    steps = sorted(int(p.name) for p in latest.iterdir() if p.name.isdigit())
    return latest / str(steps[-1])


SUMMARY = ("dice", "cldice", "best_threshold", "tpr", "fpr", "precision", "bouton_precision", "bouton_recall",
           "bouton_f1")  # fmt: skip


def evaluate_run(workdir: Path, folds: Folds, out: Path) -> dict[str, Any]:
    """Scores the final checkpoint on the held-out data (`jaxaxon.eval.evaluate.evaluate_checkpoint`)
    and reads the last synthetic validation Dice of the run's history."""
    from jaxaxon.eval.evaluate import evaluate_checkpoint

    checkpoint = final_checkpoint(workdir)
    metrics = evaluate_checkpoint(checkpoint, folds.test_dir, out)
    val = [r for r in read_history(workdir) if "val_dice" in r]
    row = {k: metrics.get(k) for k in SUMMARY}
    row["synthetic_val_dice"] = val[-1]["val_dice"] if val else None
    row["checkpoint"] = str(checkpoint)
    row["per_volume"] = metrics.get("per_volume")
    return row


def baseline_rows(args: argparse.Namespace, folds: Folds, out: Path) -> list[dict[str, Any]]:
    """Frangi (vessel scales) on the held-out volumes and LoG (parameters fit on the bass2017
    training fold) on the held-out bass2017 images, through the same evaluation."""
    from jaxaxon.data.images import load_samples
    from jaxaxon.eval import baselines as bl
    from jaxaxon.eval.report import evaluate_baselines

    test = load_samples(folds.test_dir)
    log_params = None
    fit_note = ""
    if "bouton" in folds.heads:
        bass = load_samples(Path(args.real).resolve() / "bass2017")
        train_names = set(folds.description["bass2017_train"])
        log_params, fit = bl.fit_log_detector([s for s in bass if s.name in train_names])
        fit_note = f"LoG parameters fit on the training fold (F1 {fit['f1']:.3f} there): {fit['params']}"
    res = evaluate_baselines(
        test, out, frangi_sigmas=bl.VESSEL_SIGMAS, log_params=log_params or bl.DEFAULT_LOG_PARAMS, save_predictions=False
    )
    rows = []
    if res["frangi"] is not None:
        rows.append({"name": f"Frangi, vessel scales {list(bl.VESSEL_SIGMAS)}", **{k: res["frangi"].get(k) for k in SUMMARY}})
    if res["log"] is not None:
        rows.append({"name": "LoG blobs", "note": fit_note, **{k: res["log"].get(k) for k in SUMMARY}})
    return rows


# columns of the results tables: (key of a run row, header)
COLUMNS = (
    ("synthetic_val_dice", "synthetic val Dice"),
    ("dice", "vessel Dice"),
    ("cldice", "vessel clDice"),
    ("best_threshold", "threshold"),
    ("bouton_precision", "bouton P"),
    ("bouton_recall", "bouton R"),
    ("bouton_f1", "bouton F1"),
)

METRICS_NOTE = (
    "Vessel Dice/clDice: mean over the held-out slices at the best of the original's 200 thresholds, picked on "
    "those slices (optimistic, equally for every row). Synthetic val Dice: the run's last validation on "
    "generated images (threshold 0.5). Bouton P/R/F1: blob centres of the bouton map > 0.5 matched to the "
    "held-out boxes."
)


def fmt(x: Any, nd: int = 3) -> str:
    """A table cell: floats to ``nd`` decimals, '–' for None."""
    return num(x, nd, missing="–") if isinstance(x, float) or x is None else str(x)


def environment() -> dict[str, Any]:
    import jax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d"),
    }


def result_header(script: str, argv: Sequence[str] | None, folds: Folds) -> dict[str, Any]:
    """The common head of a results JSON: the exact command, the machine, the folds."""
    import shlex

    return {
        "command": f"python scripts/{script} " + shlex.join(list(argv) if argv is not None else sys.argv[1:]),
        "environment": environment(),
        "folds": folds.description,
        "folds_text": folds_text(folds),
    }


def markdown_header(title: str, result: dict[str, Any]) -> list[str]:
    """The results table's title, command and machine lines (Markdown)."""
    env = result["environment"]
    return [
        f"# {title}",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {env['device']} ({env['platform']}), {env['cpu_count']} CPUs, JAX {env['jax']}",
        "",
    ]


def write_results(out: Path, stem: str, markdown: str, data: dict) -> None:
    """Writes ``OUT/STEM.md`` and ``OUT/STEM.json`` (atomically) and prints the table."""
    write_json_atomic(out / f"{stem}.json", data)
    write_text_atomic(out / f"{stem}.md", markdown)
    print(markdown)
    print(f"wrote {out / (stem + '.md')} and {out / (stem + '.json')}")


def metric_table(first: Sequence[str], rows: Sequence[tuple[Sequence[Any], dict, Sequence[Any]]],
                 last: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """A results table: the ``first`` columns, the `COLUMNS` metrics, the ``last`` columns.

    Args:
      first: titles of the leading columns.
      rows: ``(leading cells, metrics row with `COLUMNS` keys, trailing cells)`` per run.
      last: titles of the trailing columns.
    """
    header = [*first, *(label for _, label in COLUMNS), *last]
    return table(header, [[*lead, *(fmt(r.get(k)) for k, _ in COLUMNS), *tail] for lead, r, tail in rows])


def runs_section(result: dict[str, Any], first: Sequence[str], rows, last: Sequence[str] = ()) -> list[str]:
    """The folds in words, the runs' `metric_table` and the metrics note (Markdown lines)."""
    return ["", result["folds_text"], "", *metric_table(first, rows, last), "", METRICS_NOTE, ""]


def seeds_of(args: argparse.Namespace) -> list[int]:
    try:
        seeds = [int(s) for s in csv_items(args.seeds)]
    except ValueError:
        raise ProtocolError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if not seeds:
        raise ProtocolError("--seeds: give at least one seed")
    return seeds


def folds_text(folds: Folds) -> str:
    d = folds.description
    text = (
        f"Axon head: trained on the vesselnn volumes {', '.join(d['vesselnn_train'])}; evaluated on "
        f"{', '.join(d['vesselnn_test'])} (vessels, not axons)."
    )
    if "bass2017_test" in d:
        text += (
            f" Bouton head: trained on bass2017 {', '.join(d['bass2017_train'])} ({d['boxes_train']} boxes); "
            f"evaluated on {', '.join(d['bass2017_test'])} ({d['boxes_test']} boxes)."
        )
    return text
