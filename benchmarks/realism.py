"""Realism report: generated images under each preset next to the real development images.

Measures (`jaxaxon.eval.realism`): normalised-intensity histogram distance, radial power
spectrum distance and bouton contrast, for the bass2017 images of ../shared/real (with
their bouton boxes' centres) and for N generated images per preset (with their bouton
centres). Prints a Markdown table and JSON, and saves a picture of real and generated
images side by side.

Usage::

    python benchmarks/realism.py [--n 64] [--presets original realistic randomised] [--picture docs/realism.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real" / "bass2017"


def real_set():
    from jaxaxon.data.images import load_samples

    samples = load_samples(REAL)
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
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--presets", nargs="+", default=["original", "realistic", "randomised"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--picture", help="save real and generated images side by side here")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if not REAL.is_dir():
        print(f"real development images not found at {REAL}", file=sys.stderr)
        return 2
    real_images, real_centres = real_set()
    real = set_measures(real_images, real_centres)
    rows, pictures = {}, {}
    for preset in args.presets:
        images, centres = generated_set(preset, args.n, args.seed)
        measures = set_measures(images, centres)
        rows[preset] = {**distances(measures, real), "bouton_contrast_median": measures.get("bouton_contrast_median")}
        pictures[preset] = np.stack(images[:6])
    result = {
        "real": {"source": str(REAL), "n_images": real["n_images"], "bouton_contrast_median": real.get("bouton_contrast_median")},
        "n_generated": args.n,
        "presets": rows,
    }
    print("| preset | histogram W1 | PSD RMS (log10) | bouton contrast (real %.2f) | contrast gap |" % real["bouton_contrast_median"])
    print("|---|---|---|---|---|")
    for preset, r in rows.items():
        print(f"| {preset} | {r['histogram_w1']:.3f} | {r['psd_rms']:.3f} | {r['bouton_contrast_median']:.2f} | {r['bouton_contrast_gap']:.2f} |")
    print()
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    if args.picture:
        from jaxaxon.preview import save_grid

        crops = np.stack([img[128:384, 128:384] for img in real_images[:6]])
        save_grid(args.picture, {**{p: v for p, v in pictures.items()}, "real (bass2017, 256 crops)": crops}, vmin=0, vmax=255, dpi=70)
    return 0


if __name__ == "__main__":
    sys.exit(main())
