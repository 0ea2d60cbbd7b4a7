"""Preview pictures: grids of generated images with their masks (matplotlib, PNG)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from jaxaxon.atomic import save_figure

__all__ = ["save_grid", "save_batch_preview"]


def save_grid(
    path: str | os.PathLike,
    rows: Mapping[str, np.ndarray],
    *,
    columns: int | None = None,
    titles: Sequence[str] | None = None,
    cell_inches: float = 2.0,
    dpi: int = 100,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Path:
    """Saves a grid: one row per named stack of 2-D arrays, one column per example.

    Args:
      path: output PNG path (written atomically).
      rows: row label -> ``[N, H, W]`` array (images shown in grey, masks in grey too).
      columns: number of examples to show (default: all).
      titles: optional column titles.
      cell_inches: size of one panel.
      dpi: resolution.
      vmin: fixed lower display limit for non-mask rows (default: each panel's own range).
      vmax: fixed upper display limit for non-mask rows.

    Returns:
      The written path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    labels = list(rows)
    n = min(len(v) for v in rows.values()) if columns is None else columns
    fig, axes = plt.subplots(len(labels), n, figsize=(cell_inches * n, cell_inches * len(labels)), squeeze=False)
    for r, label in enumerate(labels):
        stack = np.asarray(rows[label])
        for c in range(n):
            ax = axes[r, c]
            img = stack[c].astype(np.float32)
            is_mask = stack.dtype == bool
            ax.imshow(img, cmap="gray", vmin=0 if is_mask else vmin, vmax=1.0 if is_mask else vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label)
            if r == 0 and titles is not None:
                ax.set_title(titles[c], fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi)


def save_batch_preview(path: str | os.PathLike, batch, columns: int = 8) -> Path:
    """Saves the first images of a generated batch with their axon and bouton masks and
    clean images (a `jaxaxon.Batch` or a mapping with the dataset's array names)."""

    def get(name_attr: str, name_key: str) -> np.ndarray:
        if isinstance(batch, Mapping):
            return np.asarray(batch[name_key])
        return np.asarray(getattr(batch, name_attr))

    images = get("image", "images")
    n = min(columns, len(images))
    return save_grid(
        path,
        {
            "image": images[:n],
            "axon mask": get("axon_mask", "axon_masks")[:n].astype(bool),
            "bouton mask": get("bouton_mask", "bouton_masks")[:n].astype(bool),
            "clean": get("clean", "clean_images")[:n],
        },
    )
