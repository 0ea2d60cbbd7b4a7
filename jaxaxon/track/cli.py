"""``jaxaxon track`` and the series options of ``jaxaxon evaluate`` (thin layer over `jaxaxon.track.run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from jaxaxon.track.config import TrackerConfig

__all__ = ["add_parser", "add_tracker_arguments", "tracker_config", "run_evaluate_series"]

_DEFAULTS = TrackerConfig()


def _gap(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of frames, got {text!r}") from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a number of frames in 0..1000, got {value}")
    return value


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def add_tracker_arguments(p: argparse.ArgumentParser) -> None:
    """The tracker's settings (`TrackerConfig`)."""
    from jaxaxon.cli import _positive_float as _positive

    g = p.add_argument_group("tracker")
    g.add_argument("--gate", type=_positive, default=_DEFAULTS.gate,
                   help=f"largest distance in px between linked points, and between matched points in the scores "
                   f"(default {_DEFAULTS.gate:g})")  # fmt: skip
    g.add_argument("--max-gap", type=_gap, default=_DEFAULTS.max_gap,
                   help=f"frames a bouton may go undetected and keep its track (default {_DEFAULTS.max_gap})")
    g.add_argument("--max-rotation", type=_positive, default=_DEFAULTS.max_rotation_deg,
                   help=f"largest rotation between frames, degrees (default {_DEFAULTS.max_rotation_deg:g})")
    g.add_argument("--bouton-threshold", type=_threshold, default=_DEFAULTS.threshold,
                   help=f"bouton-map threshold of the detections (default {_DEFAULTS.threshold:g})")


def tracker_config(args: argparse.Namespace) -> TrackerConfig:
    return TrackerConfig(
        gate=args.gate, max_gap=args.max_gap, max_rotation_deg=args.max_rotation, threshold=args.bouton_threshold
    )


def _scale_error(command: str, err: Exception) -> int:
    import sys

    print(f"jaxaxon {command}: error: {err}", file=sys.stderr)
    return 2


def _cmd_track(args: argparse.Namespace) -> int:
    from jaxaxon.eval.scale import ScaleError
    from jaxaxon.track.run import track_checkpoint

    try:
        track_checkpoint(
            args.checkpoint, args.input, args.out, tracker_config(args), pixel_size=args.pixel_size,
            scale=args.scale, limit=args.limit,
        )  # fmt: skip
    except ScaleError as err:
        return _scale_error("track", err)
    print(f"wrote tracks (NAME_tracks.csv: frame,id,row,col), overlays and tracks.json to {args.out}")
    return 0


def run_evaluate_series(args: argparse.Namespace) -> int:
    """``jaxaxon evaluate`` on series: prints the pooled tracking scores."""
    from jaxaxon.eval.scale import ScaleError
    from jaxaxon.track.run import evaluate_series

    try:
        metrics = evaluate_series(
            args.checkpoint, args.data, args.out, tracker_config(args), detections=args.detections,
            pixel_size=args.pixel_size, scale=args.scale, limit=args.limit,
        )  # fmt: skip
    except ScaleError as err:
        return _scale_error("evaluate", err)
    pooled = metrics["tracking"]["pooled"]
    seg = metrics.get("segmentation")
    if seg:
        print(f"frames: Dice {seg['dice']:.4f} (threshold {seg['best_threshold']:.3f}), clDice {seg['cldice']:.4f}")
    if "centreline_accuracy" in pooled:
        acc = pooled["centreline_accuracy"]
        print(f"centreline tracking accuracy {acc['mean']:.3f} px ({acc['n_matched']} of {acc['n_points']} points)")
    if "bouton_tracking" in pooled:
        t, e = pooled["bouton_tracking"], pooled["bouton_events"]["events"]
        print(
            f"bouton tracking: MOTA {t['mota']:.4f}, precision {t['precision']:.4f}, recall {t['recall']:.4f}, "
            f"identity switches {t['id_switches']}; gain/loss events F1 {e['f1']:.4f}"
        )
    print(f"wrote {Path(args.out) / 'metrics.json'}, tracks and overlays")
    return 0


def add_parser(sub) -> None:
    """Adds ``jaxaxon track`` to the sub-command parsers ``sub``."""
    from jaxaxon.cli import _add_scale_arguments, _positive_int

    p = sub.add_parser(
        "track",
        help="track boutons through time series with a checkpoint's bouton head",
        description="Run a checkpoint's bouton head on every frame of each series (a dataset from 'jaxaxon "
        "generate --series', NAME.npz with a 'frames' array [T, H, W], or a folder of frame images), register "
        "the frames (rotation and shift), link the detections, and write OUT/NAME_tracks.csv (frame,id,row,col "
        "in each frame's coordinates), OUT/NAME_overlay.png and OUT/tracks.json.",
    )
    p.add_argument("--checkpoint", required=True, help="training directory or checkpoint (with a bouton head)")
    p.add_argument("--input", required=True, help="series: dataset, .npz, frame folder, or a folder of those")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--limit", type=_positive_int, help="track only the first N series")
    add_tracker_arguments(p)
    _add_scale_arguments(p)
    p.set_defaults(func=_cmd_track)
