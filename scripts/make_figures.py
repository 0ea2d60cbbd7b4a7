"""Makes the README's pictures under docs/ (reproducible: fixed seeds).

- docs/axon_grid.png: axon images (spec 1.1-1.8) with their axon masks.
- docs/side_by_side.png: images of the original generator (``--reference``, when given) next
  to jaxaxon images with the same parameters, both modes.
- docs/series_strip.png: one time series: frames, axon masks, bouton masks.

Usage: python scripts/make_figures.py [--out docs] [--reference original_samples.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import numpy as np

import jaxaxon
from jaxaxon.preview import save_grid
from jaxaxon.synth.image import generate_axons

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs")
    parser.add_argument("--reference", metavar="FILE",
                        help="images of the original generator: an .npz file with an 'images' array [N, H, W] "
                        "(the original's reference samples, original_samples.npz)")  # fmt: skip
    args = parser.parse_args()
    out = Path(args.out)
    cfg = jaxaxon.GeneratorConfig()

    axons = generate_axons(jax.random.key(7), cfg, 6)
    save_grid(
        out / "axon_grid.png",
        {"axon image": np.asarray(axons["image"]), "axon mask": np.asarray(axons["axon_mask"])},
        dpi=80,
        vmin=0.0,
    )

    ours = np.asarray(jaxaxon.generate(jax.random.key(11), cfg, 4).image)
    compat = np.asarray(jaxaxon.generate(jax.random.key(11), cfg.replace(compat="original"), 4).image)
    rows = {}
    if args.reference:
        rows["original (Octave)"] = np.load(args.reference)["images"][:4].astype(np.float32)
    rows["jaxaxon (fixed)"] = ours
    rows["jaxaxon (compat)"] = compat
    # raw grey values on a common 0..255 scale, as the reference README asks
    save_grid(out / "side_by_side.png", {k: np.clip(v, 0, 255) for k, v in rows.items()}, dpi=80, vmin=0, vmax=255)

    series = jaxaxon.generate_series(jax.random.key(3), cfg, 1)
    save_grid(
        out / "series_strip.png",
        {
            "frame": np.asarray(series.image[0]),
            "axon mask": np.asarray(series.axon_mask[0]),
            "bouton mask": np.asarray(series.bouton_mask[0]),
        },
        titles=[f"t={t}, {int(a):+d} deg" for t, a in enumerate(np.asarray(series.rotation_deg[0]))],
        dpi=80,
    )
    print(f"wrote figures to {out}/")


if __name__ == "__main__":
    main()
