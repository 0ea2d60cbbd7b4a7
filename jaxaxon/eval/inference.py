"""Fully convolutional inference on images of any size: whole-image or sliding windows.

`predict_image` runs a batched ``predict_fn([B, h, w] float32) -> [B, h, w]`` (or
``[B, h, w, C]``) on one ``[H, W]`` image and returns the full-size map. The model never sees a
raw image border: the image is padded by ``context`` pixels on every side (mirror padding by
default) and, at the bottom/right, up to a multiple of ``divisor`` (2**number of poolings).

- Whole image, when the padded image has at most ``max_whole_pixels`` pixels: one call, then
  crop.
- Otherwise sliding windows of ``tile x tile`` pixels. Only the window's *core* (the window
  minus ``context`` pixels on every side) is used, so the network's own zero padding at window
  edges never reaches the output; neighbouring cores overlap by ``overlap`` pixels and are blended
  with a smooth weight (cosine ramps over the overlap, or a Gaussian over the core). Window
  offsets are multiples of ``divisor``, so pooling grids line up with the whole-image grid.

Consequence (tested): for a network whose receptive-field radius is at most ``context`` and that
is equivariant to shifts by ``divisor``, sliding-window and whole-image results are equal (to
float rounding) everywhere, borders included. For a larger receptive field they differ only by
the context missing beyond ``context`` pixels. All windows of a call have the same shape and
batches are padded to ``batch_size``, so a jitted ``predict_fn`` compiles once per tile shape.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["PredictFn", "TilingConfig", "blend_weight", "predict_image", "predict_images", "window_grid"]

PredictFn = Callable[[np.ndarray], "np.ndarray"]
"""``[B, h, w] float32 -> [B, h, w]`` or ``[B, h, w, C]`` (NumPy or JAX arrays)."""

_BLENDS = ("cosine", "gaussian", "constant")
_PAD_MODES = ("reflect", "symmetric", "edge", "constant")


@dataclasses.dataclass(frozen=True)
class TilingConfig:
    """How `predict_image` covers an image.

    Attributes:
      divisor: spatial sizes given to ``predict_fn`` are multiples of this (4 for two 2x2 poolings).
      context: pixels of context around every output pixel (padding at image borders, discarded
        margin of every window); set it to at least the network's receptive-field radius. A
        multiple of ``divisor``.
      max_whole_pixels: padded images with at most this many pixels run whole; larger ones tile.
      tile: window side in pixels (a multiple of ``divisor``, larger than ``2 * context + overlap``).
      overlap: pixels by which neighbouring window cores overlap (a multiple of ``divisor``).
      blend: weight of a window's core pixels: ``"cosine"`` (1 in the middle, raised-cosine ramps
        over ``overlap`` pixels at the edges), ``"gaussian"`` (sigma = core/8, as nnU-Net) or
        ``"constant"``; all are strictly positive on the core.
      batch_size: windows per ``predict_fn`` call (the last batch is padded with zeros).
      pad_mode: `numpy.pad` mode for the border context: ``"reflect"`` (default: mirrored tissue
        looks like tissue), ``"symmetric"``, ``"edge"`` or ``"constant"`` (zeros).
    """

    divisor: int = 4
    context: int = 32
    max_whole_pixels: int = 2048 * 2048
    tile: int = 512
    overlap: int = 32
    blend: str = "cosine"
    batch_size: int = 4
    pad_mode: str = "reflect"

    def __post_init__(self) -> None:
        for name in ("divisor", "tile", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TilingConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("context", "overlap", "max_whole_pixels"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"TilingConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("tile", "context", "overlap"):
            if getattr(self, name) % self.divisor:
                raise ValueError(
                    f"TilingConfig.{name}={getattr(self, name)} must be a multiple of divisor={self.divisor}"
                )
        if self.stride <= 0:
            raise ValueError(
                f"TilingConfig: tile={self.tile} must exceed 2*context + overlap = {2 * self.context + self.overlap}"
            )
        if self.blend not in _BLENDS:
            raise ValueError(f"TilingConfig.blend must be one of {_BLENDS}, got {self.blend!r}")
        if self.pad_mode not in _PAD_MODES:
            raise ValueError(f"TilingConfig.pad_mode must be one of {_PAD_MODES}, got {self.pad_mode!r}")

    @property
    def core(self) -> int:
        """Side of the part of a window that reaches the output."""
        return self.tile - 2 * self.context

    @property
    def stride(self) -> int:
        """Offset between neighbouring windows."""
        return self.core - self.overlap


def _ramp(n: int, overlap: int, blend: str) -> np.ndarray:
    x = np.arange(n, dtype=np.float64)
    if blend == "constant":
        return np.ones(n)
    if blend == "gaussian":
        sigma = n / 8.0
        return np.exp(-0.5 * ((x - (n - 1) / 2) / sigma) ** 2)
    w = np.ones(n)
    if overlap > 0:
        rise = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        m = min(overlap, n)
        w[:m] = np.minimum(w[:m], rise[:m])
        w[n - m :] = np.minimum(w[n - m :], rise[:m][::-1])
    return w


def blend_weight(tiling: TilingConfig) -> np.ndarray:
    """The ``[core, core]`` float64 weight of a window's core (separable, strictly positive)."""
    w = _ramp(tiling.core, tiling.overlap, tiling.blend)
    return np.outer(w, w)


def window_grid(length: int, tiling: TilingConfig) -> tuple[list[int], int]:
    """Window starts along one axis (in padded coordinates) and the padded length they need."""
    n = 1 + max(0, math.ceil((length - tiling.core) / tiling.stride))
    starts = [i * tiling.stride for i in range(n)]
    return starts, starts[-1] + tiling.tile


def _call(predict_fn: PredictFn, batch: np.ndarray) -> np.ndarray:
    out = np.asarray(predict_fn(batch), dtype=np.float32)
    if out.shape[:3] != batch.shape or out.ndim not in (3, 4):
        raise ValueError(
            f"predict_fn returned shape {out.shape} for a batch of shape {batch.shape}; it must return "
            "[B, h, w] or [B, h, w, C] with the input's spatial size"
        )
    return out


def _round_up(n: int, k: int) -> int:
    return -(-n // k) * k


def predict_image(predict_fn: PredictFn, image: np.ndarray, tiling: TilingConfig = TilingConfig()) -> np.ndarray:
    """Runs ``predict_fn`` on one image of any size (see the module notes).

    Args:
      predict_fn: ``[B, h, w] float32 -> [B, h, w]`` or ``[B, h, w, C]``.
      image: ``[H, W]`` image (any real dtype; given to ``predict_fn`` as float32 unchanged).
      tiling: how to cover the image.

    Returns:
      ``[H, W]`` or ``[H, W, C]`` float32.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"predict_image expects a non-empty 2-D image [H, W], got shape {image.shape}")
    image = image.astype(np.float32, copy=False)
    h, w = image.shape
    c = tiling.context
    hp, wp = _round_up(h + 2 * c, tiling.divisor), _round_up(w + 2 * c, tiling.divisor)
    if hp * wp <= tiling.max_whole_pixels:
        padded = np.pad(image, ((c, hp - h - c), (c, wp - w - c)), mode=tiling.pad_mode)
        return _call(predict_fn, padded[None])[0, c : c + h, c : c + w]

    rows, hp = window_grid(h, tiling)
    cols, wp = window_grid(w, tiling)
    padded = np.pad(image, ((c, hp - h - c), (c, wp - w - c)), mode=tiling.pad_mode)
    weight = blend_weight(tiling).astype(np.float32)
    core, t = tiling.core, tiling.tile
    acc: np.ndarray | None = None
    wsum = np.zeros((h, w), np.float32)
    starts = [(r, q) for r in rows for q in cols]
    for b0 in range(0, len(starts), tiling.batch_size):
        chunk = starts[b0 : b0 + tiling.batch_size]
        batch = np.zeros((tiling.batch_size, t, t), np.float32)
        for k, (r, q) in enumerate(chunk):
            batch[k] = padded[r : r + t, q : q + t]
        out = _call(predict_fn, batch)
        if acc is None:
            acc = np.zeros((h, w) + out.shape[3:], np.float32)  # float32: huge mosaics fit in memory
        for k, (r, q) in enumerate(chunk):
            nr, nq = min(core, h - r), min(core, w - q)  # the core's part inside the image
            wk = weight[:nr, :nq]
            piece = out[k, c : c + nr, c : c + nq]
            acc[r : r + nr, q : q + nq] += piece * (wk if piece.ndim == 2 else wk[..., None])
            wsum[r : r + nr, q : q + nq] += wk
    assert acc is not None
    norm = wsum if acc.ndim == 2 else wsum[..., None]
    return acc / norm


def predict_images(
    predict_fn: PredictFn, images: Iterable[np.ndarray], tiling: TilingConfig = TilingConfig()
) -> list[np.ndarray]:
    """`predict_image` for every image of an iterable (sizes may differ)."""
    return [predict_image(predict_fn, im, tiling) for im in images]
