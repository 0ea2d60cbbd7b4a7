"""Input resampling at inference: images are brought to the pixel size a network was trained at.

A network learns structures of a given size in pixels. `input_zoom` chooses by how much an
image is resampled before the network sees it (``zoom = 2``: twice as many pixels per side),
`resample` does it and `resample_back` returns the probability maps to the image's own grid,
so labels, masks and bouton boxes are scored at the image's own resolution.

Precedence of `resolve_zoom` (first that applies):

1. ``scale``: an explicit zoom (``--scale``), source ``"flag"``.
2. ``pixel_size`` (``--pixel-size``, um/px) divided by the run's generator ``pixel_size``,
   source ``"flag"``; a run of unknown pixel size (0) is an error.
3. ``file_pixel_size`` (the image file's metadata, `jaxaxon.data.images.read_pixel_size`)
   divided by the run's ``pixel_size``, source ``"metadata"``; ignored when the run's pixel
   size is unknown.
4. The run's generator ``image_scale`` (default 1: no resampling), source ``"run"``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["MAX_SIDE", "ScaleError", "Zoom", "check_scale_value", "input_zoom", "resample", "resample_back",
           "resolve_zoom", "zoomed_shape"]  # fmt: skip

MAX_SIDE = 65536
"""Largest side in pixels of a resampled image."""


class ScaleError(ValueError):
    """An invalid zoom, pixel size or resampling request; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Zoom:
    """A chosen input zoom and why.

    Attributes:
      zoom: resampling factor of the image sides (1: unchanged).
      source: ``"flag"`` (``--scale`` or ``--pixel-size``), ``"metadata"`` (the file's pixel
        size) or ``"run"`` (the run's generator ``image_scale``).
      pixel_size: the image's pixel size in um used (None when not used).
    """

    zoom: float
    source: str
    pixel_size: float | None = None


def check_scale_value(value: object, name: str) -> float:
    """``value`` as a positive finite float, else `ScaleError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ScaleError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def resolve_zoom(
    run_config, *, pixel_size: float | None = None, scale: float | None = None, file_pixel_size: float | None = None
) -> Zoom:
    """The zoom of an input image and its source (see the module notes for the precedence).

    Args:
      run_config: the run's `RunConfig` (its ``generator.pixel_size`` and ``image_scale``).
      pixel_size: the user's pixel size of the image, um/px.
      scale: the user's explicit zoom.
      file_pixel_size: the pixel size in the image file's metadata, um/px (None: absent).

    Raises:
      ScaleError: both ``pixel_size`` and ``scale`` given, a non-positive or non-finite value,
        or ``pixel_size`` with a run of unknown pixel size.
    """
    if pixel_size is not None and scale is not None:
        raise ScaleError("give either a pixel size or a scale, not both")
    run_px = float(run_config.generator.pixel_size)
    if scale is not None:
        return Zoom(check_scale_value(scale, "scale"), "flag")
    if pixel_size is not None:
        pixel_size = check_scale_value(pixel_size, "pixel size")
        if not run_px:
            raise ScaleError(
                "the run's pixel size is unknown (its generator pixel_size is 0): give --scale instead of --pixel-size"
            )
        return Zoom(pixel_size / run_px, "flag", pixel_size)
    if file_pixel_size is not None and run_px:
        file_pixel_size = check_scale_value(file_pixel_size, "the file's pixel size")
        return Zoom(file_pixel_size / run_px, "metadata", file_pixel_size)
    return Zoom(float(run_config.generator.image_scale), "run")


def input_zoom(
    run_config, *, pixel_size: float | None = None, scale: float | None = None, file_pixel_size: float | None = None
) -> float:
    """The zoom of `resolve_zoom` alone."""
    return resolve_zoom(run_config, pixel_size=pixel_size, scale=scale, file_pixel_size=file_pixel_size).zoom


def zoomed_shape(shape: tuple[int, int], zoom: float) -> tuple[int, int]:
    """``(round(H * zoom), round(W * zoom))``, each at least 1.

    Raises:
      ScaleError: a side beyond `MAX_SIDE`.
    """
    zoom = check_scale_value(zoom, "zoom")
    out = tuple(max(1, math.floor(n * zoom + 0.5)) for n in shape)
    if max(out) > MAX_SIDE:
        raise ScaleError(f"zoom {zoom:g} makes a {shape[0]}x{shape[1]} image {out[0]}x{out[1]} (limit {MAX_SIDE} px)")
    return out  # type: ignore[return-value]


def _resize(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Linear resampling with half-pixel centres; antialiased (triangle kernel widened) when shrinking."""
    import jax
    import jax.numpy as jnp

    out = jax.image.resize(jnp.asarray(array, jnp.float32), shape, method="linear", antialias=True)
    return np.asarray(out, np.float32)


def resample(image: np.ndarray, zoom: float) -> np.ndarray:
    """Resamples an image by ``zoom`` (antialiased when shrinking).

    Args:
      image: ``[H, W]`` any real dtype.
      zoom: factor of the sides; the grid is unchanged when ``zoomed_shape`` equals the shape.

    Returns:
      ``[round(H * zoom), round(W * zoom)]`` float32 (the image itself, as float32, when the
      shape does not change).
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ScaleError(f"resample expects a 2-D image [H, W], got shape {image.shape}")
    shape = zoomed_shape(image.shape, zoom)
    if shape == image.shape:
        return image.astype(np.float32, copy=False)
    return _resize(image, shape)


def resample_back(probs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Returns maps computed on a resampled image to the image's own grid.

    Args:
      probs: ``[H', W', C]`` (or ``[H', W']``) maps on the resampled grid.
      shape: ``(H, W)`` of the original image.

    Returns:
      ``[H, W, C]`` (or ``[H, W]``) float32, clipped to the input's range (linear resampling
      keeps probabilities in 0..1).
    """
    probs = np.asarray(probs)
    if probs.ndim not in (2, 3):
        raise ScaleError(f"resample_back expects maps [H, W] or [H, W, C], got shape {probs.shape}")
    target = tuple(shape) + probs.shape[2:]
    if probs.shape == target:
        return probs.astype(np.float32, copy=False)
    out = _resize(probs, target)
    return np.clip(out, probs.min(), probs.max())
