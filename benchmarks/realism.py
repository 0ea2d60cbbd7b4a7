"""Realism report: generated images under each preset next to the real development images.

Measures (`jaxaxon.eval.realism`): normalised-intensity histogram distance, radial power
spectrum distance and bouton contrast, for the bass2017 images of the development images
(see docs/real_images.md; with their bouton boxes' centres) and for N generated images per preset (with their bouton
centres). Prints a Markdown table and JSON, and saves a picture of real and generated
images side by side.

Usage::

    python benchmarks/realism.py --real DIR [--n 64] [--presets original realistic randomised] [--picture docs/realism.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from jaxaxon.atomic import write_json_atomic
from jaxaxon.bench.table import table


def real_set(folder: Path):
    from jaxaxon.data.images import load_samples

    samples = load_samples(folder)
    images = [s.image for s in samples]
    centres = []
    for s in samples:
        boxes = np.asarray(s.boxes if s.boxes is not None else np.zeros((0, 4)), np.float64)
        centres.append(np.stack([(boxes[:, 0] + boxes[:, 2] - 1) / 2, (boxes[:, 1] + boxes[:, 3] - 1) / 2], -1))
    return images, centres


def generated_set(preset: str, n: int, seed: int):
    import jax

    import jaxaxon

    cfg = jaxaxon.GeneratorConfig.from_preset(preset)
    batch = jaxaxon.generate(jax.random.key(seed), cfg, n)
    images = list(np.asarray(batch.image))
    centres = [np.asarray(batch.bouton_centers[i])[np.asarray(batch.bouton_valid[i])] for i in range(n)]
    return images, centres


def main(argv: list[str] | None = None) -> int:
    from jaxaxon.eval.realism import distances, set_measures

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", required=True, metavar="DIR",
                        help="the development images: a folder holding bass2017/ (images/*.png and "
                        "bouton_boxes.json)")  # fmt: skip
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--presets", nargs="+", default=["original", "realistic", "randomised"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--picture", help="save real and generated images side by side here")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    folder = Path(args.real) / "bass2017"
    if not folder.is_dir():
        print(f"realism: {folder} is not a folder (--real must hold bass2017/)", file=sys.stderr)
        return 2
    real_images, real_centres = real_set(folder)
    real = set_measures(real_images, real_centres)
    rows, pictures = {}, {}
    for preset in args.presets:
        images, centres = generated_set(preset, args.n, args.seed)
        measures = set_measures(images, centres)
        rows[preset] = {**distances(measures, real), "bouton_contrast_median": measures.get("bouton_contrast_median")}
        pictures[preset] = np.stack(images[:6])
    result = {
        "real": {"source": str(folder), "n_images": real["n_images"], "bouton_contrast_median": real.get("bouton_contrast_median")},
        "n_generated": args.n,
        "presets": rows,
    }
    header = ["preset", "histogram W1", "PSD RMS (log10)", f"bouton contrast (real {real['bouton_contrast_median']:.2f})",
              "contrast gap"]  # fmt: skip
    cells = [
        (preset, f"{r['histogram_w1']:.3f}", f"{r['psd_rms']:.3f}", f"{r['bouton_contrast_median']:.2f}",
         f"{r['bouton_contrast_gap']:.2f}")
        for preset, r in rows.items()
    ]  # fmt: skip
    print("\n".join(table(header, cells)))
    print()
    print(json.dumps(result, indent=1))
    if args.out:
        write_json_atomic(args.out, result)
    if args.picture:
        from jaxaxon.preview import save_grid

        crops = np.stack([img[128:384, 128:384] for img in real_images[:6]])
        save_grid(args.picture, {**{p: v for p, v in pictures.items()}, "real (bass2017, 256 crops)": crops}, vmin=0, vmax=255, dpi=70)
    return 0


if __name__ == "__main__":
    sys.exit(main())
