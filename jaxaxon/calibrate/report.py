"""The realism table of a calibration: distances of generated images to the calibration images."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jaxaxon.config import GeneratorConfig
from jaxaxon.eval.realism import DISTANCES, crops_256, distances, set_measures

__all__ = ["generated_images", "real_crops", "realism", "realism_markdown"]

_LABELS = {
    "histogram_w1": "histogram W1",
    "psd_rms": "PSD RMS (log10)",
    "ridge_width_w1": "ridge width W1 (px)",
    "blob_scale_w1": "blob scale W1 (px)",
    "tube_density_gap": "tube density log-ratio gap",
    "blob_density_gap": "blob density log-ratio gap",
}


def generated_images(cfg: GeneratorConfig, n: int, seed: int = 7) -> list[np.ndarray]:
    """``n`` images generated with ``cfg`` (as float64 ``[H, W]``)."""
    import jax

    from jaxaxon.synth.image import generate

    batch = generate(jax.random.key(seed), cfg, n)
    return [np.asarray(x, np.float64) for x in np.asarray(batch.image)]


def real_crops(images: Sequence[np.ndarray], limit: int = 64) -> list[np.ndarray]:
    """256x256 crops of the real images (`crops_256`; smaller images whole), at most ``limit``, evenly spread."""
    out = []
    for x in images:
        c = crops_256(np.asarray(x, np.float64))
        out += c if c else [np.asarray(x, np.float64)]
    if len(out) > limit:
        out = [out[i] for i in np.linspace(0, len(out) - 1, limit).round().astype(int)]
    return out


def realism(real: Sequence[np.ndarray] | dict, sets: Mapping[str, Sequence[np.ndarray]]) -> dict:
    """Realism distances (`jaxaxon.eval.realism.distances`) of each named image set to ``real``
    (images, or their `set_measures`).

    Returns:
      ``{"real": {...summary}, "sets": {name: {distance: value, ...}}}``.
    """
    ref = real if isinstance(real, dict) else set_measures(real)
    rows = {}
    for name, images in sets.items():
        m = set_measures(images)
        d = distances(m, ref)
        rows[name] = {k: d[k] for k in DISTANCES}
        rows[name]["tube_density"] = m["tube_density"]
        rows[name]["blob_density"] = m["blob_density"]
    summary = {"n_crops": ref["n_images"], "tube_density": ref["tube_density"], "blob_density": ref["blob_density"]}
    return {"real": summary, "sets": rows}


def realism_markdown(result: dict) -> str:
    """A Markdown table of `realism`'s distances (one row per set; smaller is closer)."""
    header = ["parameters"] + [_LABELS[k] for k in DISTANCES]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, row in result["sets"].items():
        lines.append("| " + " | ".join([name] + [f"{row[k]:.3f}" for k in DISTANCES]) + " |")
    real = result["real"]
    lines.append("")
    lines.append(
        f"Real: {real['n_crops']} crops of 256x256, median {real['tube_density']:.0f} centreline px and "
        f"{real['blob_density']:.1f} blobs per crop. Smaller is closer."
    )
    return "\n".join(lines)
