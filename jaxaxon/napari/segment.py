"""The widget's computation: a trained checkpoint on an image, as probability and mask layers.

    model, run_config = load_checkpoint("runs/quick")
    layers = segment_layers(model, run_config, image, name="image", layer_pixel_size=0.3)

Inference is `jaxaxon predict`'s: the tiled predictor (`jaxaxon.eval.evaluate.probability_maps`)
after resampling each image to the run's pixel size, chosen as in `jaxaxon.eval.scale.resolve_zoom`
(an explicit zoom, else an explicit pixel size, else the layer's pixel size, else the run's
``image_scale``). No napari import: `jaxaxon.napari.widget` is the thin napari wrapper.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from jaxaxon.napari.layers import LayerData, image_layer, labels_layer

__all__ = ["HEAD_COLOURS", "layer_pixel_size", "load_checkpoint", "segment_layers"]

HEAD_COLOURS = {"axon": "green", "bouton": "magenta"}
"""Colour map of each head's probability layer."""

# micrometres per unit, for the names napari (pint) and OME give length units
_UM_PER_UNIT = {
    "micrometer": 1.0, "micrometre": 1.0, "micron": 1.0, "um": 1.0, "\u00b5m": 1.0, "\u03bcm": 1.0,
    "nanometer": 1e-3, "nanometre": 1e-3, "nm": 1e-3,
    "millimeter": 1e3, "millimetre": 1e3, "mm": 1e3, "meter": 1e6, "metre": 1e6, "m": 1e6,
}  # fmt: skip


def layer_pixel_size(scale: float, unit: Any) -> float | None:
    """Micrometres per pixel of a layer axis from its ``scale`` and unit, None when not physical.

    Args:
      scale: the layer's scale along x.
      unit: its unit (a pint unit or a name: ``"micrometer"``, ``"nm"``, ...); ``"pixel"``, None
        and unknown names mean the pixel size is unknown.

    Examples: ``(0.5, "micrometer") -> 0.5``, ``(500, "nanometer") -> 0.5``, ``(1, "pixel") -> None``.
    """
    factor = _UM_PER_UNIT.get(str(unit).strip().lower()) if unit is not None else None
    if factor is None or not isinstance(scale, (int, float, np.number)) or not math.isfinite(scale) or scale <= 0:
        return None
    return float(scale) * factor


@functools.lru_cache(maxsize=2)
def _load(path: str) -> tuple[Any, Any]:
    from jaxaxon.train.inference import load_model

    return load_model(path)


def load_checkpoint(path: str | os.PathLike) -> tuple[Any, Any]:
    """``(model, run_config)`` of a training directory or checkpoint (`jaxaxon.train.inference.load_model`),
    cached so that running a widget again does not reload it.

    Raises:
      CheckpointError: no readable checkpoint there.
      ValueError: the run is not a segmentation network (an autoencoder).
    """
    model, rc = _load(str(Path(path).expanduser().absolute()))
    if rc.model.kind != "unet":
        raise ValueError(f"{path}: the checkpoint is a {rc.model.kind}, not a segmentation network (unet)")
    return model, rc


def segment_layers(
    model: Any,
    run_config: Any,
    image: np.ndarray,
    *,
    name: str = "image",
    threshold: float = 0.5,
    pixel_size: float | None = None,
    zoom: float | None = None,
    layer_pixel_size: float | None = None,
    spatial: Mapping[str, Any] | None = None,
) -> list[LayerData]:
    """Probability maps and masks of an image (or a stack of images) as layer tuples.

    Args:
      model: the network (`load_checkpoint`).
      run_config: its `RunConfig`.
      image: ``[H, W]`` or ``[..., H, W]`` (every plane is predicted), any real dtype.
      name: the image layer's name; output layers are ``"NAME HEAD probability"`` and
        ``"NAME HEAD mask"``, one pair per head of the run.
      threshold: mask = probability above it, in 0..1.
      pixel_size: the image's pixel size in um given by the user (``--pixel-size``).
      zoom: an explicit resampling factor (``--scale``).
      layer_pixel_size: the pixel size the layer carries (`layer_pixel_size`), used like a
        file's metadata.
      spatial: the image layer's ``scale``/``translate``/``units``/``axis_labels``, copied to
        the outputs so that they overlay it.

    Returns:
      Per head, an image layer (float32 ``[..., H, W]`` in 0..1, additive, contrast 0..1) and a
      labels layer (uint8 0/1); each layer's ``metadata["jaxaxon"]`` holds the zoom used and why.

    Raises:
      ValueError: ``threshold`` outside 0..1, an image with fewer than 2 axes, RGB or not real.
      ScaleError: both ``pixel_size`` and ``zoom`` given, non-positive values, or ``pixel_size``
        with a run of unknown pixel size.
      ImageDataError, CheckpointError: non-finite input or output.
    """
    from jaxaxon.eval.evaluate import probability_maps
    from jaxaxon.eval.scale import resolve_zoom

    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"threshold must be a number in 0..1, got {threshold!r}")
    image = np.asarray(image)
    if image.ndim < 2:
        raise ValueError(f"expected an image [H, W] or a stack [..., H, W], got shape {image.shape}")
    if image.dtype == np.bool_ or not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ValueError(f"expected a grey-value image of real numbers, got dtype {image.dtype}")
    chosen = resolve_zoom(run_config, pixel_size=pixel_size, scale=zoom, file_pixel_size=layer_pixel_size)
    planes = image.reshape((-1,) + image.shape[-2:])
    names = [name if len(planes) == 1 else f"{name} plane {i}" for i in range(len(planes))]
    probs = probability_maps(model, run_config, list(planes), zooms=[chosen.zoom] * len(planes), names=names)
    stack = np.stack(probs).reshape(image.shape + (probs[0].shape[-1],))  # [..., H, W, C]
    where = dict(spatial or {})
    record = {"jaxaxon": {"zoom": chosen.zoom, "zoom_source": chosen.source, "pixel_size": chosen.pixel_size,
                          "threshold": threshold}}  # fmt: skip
    out = []
    for c, head in enumerate(run_config.model.heads):
        prob = np.ascontiguousarray(stack[..., c], dtype=np.float32)
        colour = HEAD_COLOURS.get(head, "cyan")
        out.append(image_layer(prob, f"{name} {head} probability", where, contrast_limits=(0, 1), colormap=colour,
                               blending="additive", metadata=record))  # fmt: skip
        mask = (prob > threshold).astype(np.uint8)
        out.append(labels_layer(mask, f"{name} {head} mask", where, colour=colour, metadata=record))
    return out
