"""Training curves (matplotlib, PNG): ``DIR/plots/{training,loss,val_dice}.png``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from jaxaxon.atomic import save_figure

__all__ = ["plot_history"]


def _series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pts = [(r["step"], r[key]) for r in records if r.get(key) is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def _loss_panel(ax, records) -> None:
    ax.plot(*_series(records, "loss"), label="training loss", lw=1.2)
    steps, val = _series(records, "val_loss")
    if steps:
        ax.plot(steps, val, "o-", ms=3, label="validation loss", lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()


def _dice_panel(ax, records, heads: Sequence[str]) -> None:
    steps, val = _series(records, "val_dice")
    ax.plot(steps, val, "o-", ms=3, lw=1.4, label="validation Dice (threshold 0.5)")
    if len(heads) > 1:
        for head in heads:
            ax.plot(*_series(records, f"val_dice_{head}"), "--", lw=1, label=f"validation Dice, {head}")
    ax.plot(*_series(records, "dice"), lw=1, alpha=0.6, label="training soft Dice")
    ax.set_xlabel("step")
    ax.set_ylabel("Dice")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")


def plot_history(
    records: Sequence[dict[str, Any]], out_dir: str | os.PathLike, heads: Sequence[str] = ("axon",), title: str = ""
) -> list[Path]:
    """Writes the curves of a history; returns the written paths.

    ``training.png`` has the loss and (for segmentation) the validation Dice side by side;
    ``loss.png`` and ``val_dice.png`` hold one panel each.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    has_dice = any(r.get("val_dice") is not None for r in records)
    written = []
    fig, axes = plt.subplots(1, 2 if has_dice else 1, figsize=(11 if has_dice else 5.5, 4), squeeze=False)
    _loss_panel(axes[0, 0], records)
    if has_dice:
        _dice_panel(axes[0, 1], records, heads)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / "training.png")
    written.append(out / "training.png")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    _loss_panel(ax, records)
    fig.tight_layout()
    save_figure(fig, out / "loss.png")
    written.append(out / "loss.png")
    if has_dice:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        _dice_panel(ax, records, heads)
        fig.tight_layout()
        save_figure(fig, out / "val_dice.png")
        written.append(out / "val_dice.png")
    return written
