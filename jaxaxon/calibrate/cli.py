"""`jaxaxon calibrate IMAGES... --out PARAMS.json [--pixel-size UM]`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["add_parser", "cmd_calibrate", "read_calibration_images"]


def read_calibration_images(paths: list[str]) -> list:
    """Every 2-D image of the given folders, image files and ``.npz`` volumes (their slices).

    Raises:
      ImageDataError: a path that does not exist or cannot be read.
      CalibrationError: nothing found.
    """
    from jaxaxon.calibrate.measure import CalibrationError
    from jaxaxon.data.images import iter_samples

    images = []
    for path in paths:
        images += [s.image for s in iter_samples(path)]
    if not images:
        raise CalibrationError(f"no images found in {', '.join(paths)}")
    return images


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Runs the calibration and writes PARAMS.json, PARAMS.estimates.json and PARAMS.realism.(md|json)."""
    import numpy as np

    from jaxaxon.atomic import write_json_atomic, write_text_atomic
    from jaxaxon.calibrate import calibrate
    from jaxaxon.calibrate.measure import CalibrationError, check_images
    from jaxaxon.calibrate.report import generated_images, real_crops, realism, realism_markdown
    from jaxaxon.config import GeneratorConfig
    from jaxaxon.eval.realism import set_measures

    start = time.perf_counter()
    if args.pixel_size is not None and not args.pixel_size > 0:
        raise CalibrationError(f"--pixel-size must be positive, got {args.pixel_size}")
    if args.n < 1 or args.corrections < 0:
        raise CalibrationError(f"--n must be positive and --corrections non-negative, got {args.n}, {args.corrections}")
    out = Path(args.out)
    if out.suffix != ".json":
        raise CalibrationError(f"--out must name a .json file, got {str(out)!r}")
    if out.parent and not out.parent.is_dir():
        raise CalibrationError(f"--out: folder {str(out.parent)!r} does not exist")
    images = check_images(read_calibration_images(args.images))
    result = calibrate(images, pixel_size=args.pixel_size, seed=args.seed, corrections=args.corrections,
                       profile=args.profile, depth_mode=args.depth, background=args.background, psf=args.psf)
    cfg = result.config
    files = [out]
    table = None
    if args.realism:
        real = result.reference or set_measures(real_crops(images))
        sets = {
            "realistic": generated_images(GeneratorConfig.from_preset("realistic"), args.n, args.seed + 1),
            "calibrated": generated_images(cfg, args.n, args.seed + 1),
        }
        table = realism(real, sets)
    stem = out.with_suffix("")
    as_float = lambda v: v.tolist() if isinstance(v, np.ndarray) else v  # noqa: E731
    estimates = {
        "images": [str(p) for p in args.images], "n_images": len(images), "pixel_size": args.pixel_size,
        "estimates": {k: as_float(v) for k, v in result.estimates.items()},
        "generated_estimates": {k: as_float(v) for k, v in result.generated_estimates.items()},
    }  # fmt: skip
    write_json_atomic(str(stem) + ".estimates.json", estimates)
    files.append(Path(str(stem) + ".estimates.json"))
    if table is not None:
        md = realism_markdown(table)
        write_text_atomic(str(stem) + ".realism.md", md + "\n")
        write_json_atomic(str(stem) + ".realism.json", {**table, "n_generated": args.n})
        files += [Path(str(stem) + ".realism.md"), Path(str(stem) + ".realism.json")]
    write_json_atomic(out, result.params)
    GeneratorConfig.from_json(out)
    est = result.estimates
    print(
        f"calibrated from {len(images)} images: ridge width p50 {est['width_p50']:.2f} px, PSF sigma "
        f"{est['psf_sigma']:.2f} px, {est['photons_peak']:.1f} photons at the peak, gain {est['gain']:.3g}, "
        f"background {est['background_level']:.1f} (corr. length {est['background_scale']:.1f} px), "
        f"{est['length_per_256']:.0f} centreline px and {est['blobs_per_256']:.1f} blobs (LoG sigma "
        f"{est['blob_scale_p50']:.2f} px) per 256x256"
    )
    if table is not None:
        print(md)
    print(f"wrote {', '.join(map(str, files))} in {time.perf_counter() - start:.0f} s")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Registers the ``calibrate`` subcommand."""
    p = subparsers.add_parser(
        "calibrate",
        help="estimate generator parameters from unlabelled real images (with a realism table)",
        description="Measure intensity, noise (photon transfer), background, PSF, tube widths and densities and "
        "bouton blobs of real images (folders of PNG/TIFF, image files, .npz volumes: every slice) and write a "
        "generator parameter file, PARAMS.estimates.json and the realism table PARAMS.realism.(md|json).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGES", help="folders, image files or .npz volumes")
    p.add_argument("--out", required=True, metavar="PARAMS.json", help="the parameter file to write")
    p.add_argument("--pixel-size", type=float, metavar="UM", help="micrometres per pixel of the images")
    p.add_argument("--n", type=int, default=32, help="images generated per parameter set for the realism table")
    p.add_argument("--corrections", type=int, default=2,
                   help="correction steps against generated images (default 2; 0: none)")  # fmt: skip
    p.add_argument("--profile", choices=("gaussian", "bar", "auto"), default="gaussian",
                   help="tube cross-section family (default gaussian; auto: the closer of both, "
                   "two more compilations)")  # fmt: skip
    p.add_argument("--depth", choices=("off", "mean", "auto"), default="off",
                   help="scene model (default off: a 2-D scene; mean: a mean projection of a z-stack with dim "
                   "defocused axons; auto: the closer of both, one more compilation)")  # fmt: skip
    p.add_argument("--background", choices=("gaussian", "matern", "auto"), default="gaussian",
                   help="neuropil texture (default gaussian: one correlation length; matern: a power-law "
                   "texture fitted to the background; auto: the closer of both, one more compilation)")  # fmt: skip
    p.add_argument("--psf", choices=("estimate", "spectrum"), default="estimate",
                   help="PSF width (default estimate: from the narrowest strong ridges; spectrum: then corrected "
                   "from the spectrum by each correction step)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the generated images (default 0)")
    p.add_argument("--no-realism", dest="realism", action="store_false", help="skip the realism table")
    p.set_defaults(func=cmd_calibrate)
    return p
