"""napari layer data tuples ``(data, kwargs, layer_type)`` for generated images and their labels.

No napari import: the tuples are plain Python, turned into layers by napari (or by
``napari.layers.Layer.create(*tuple)``). Spatial keywords follow napari >= 0.5: ``scale`` in
micrometres per pixel with ``units`` ``"um"`` when the pixel size is known, nothing (napari's
1 pixel) otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import numpy as np

__all__ = ["LAYERS", "LayerData", "LayerSpec", "example_layers", "image_layer", "labels_layer", "spatial_kwargs"]

LayerData = tuple[Any, dict[str, Any], str]
"""A napari layer data tuple: ``(data, layer keyword arguments, "image" | "labels")``."""

UNIT = "um"


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """How one image array of a generated example becomes a layer.

    Attributes:
      array: its name in a jaxaxon dataset (``images``, ``axon_masks``, ...).
      field: its name in a generated `jaxaxon.Batch` (``image``, ``axon_mask``, ...).
      name: the layer name.
      kind: ``"image"`` or ``"labels"``.
      visible: shown when added.
      colour: the colour of every non-zero label (masks), or None for napari's label colours.
    """

    array: str
    field: str
    name: str
    kind: str
    visible: bool = True
    colour: str | None = None


# Bottom to top: napari draws later layers over earlier ones.
LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec("images", "image", "image", "image"),
    LayerSpec("clean_images", "clean", "clean image", "image", visible=False),
    LayerSpec("cell_masks", "cell_mask", "cells", "labels", colour="magenta"),
    LayerSpec("axon_masks", "axon_mask", "axon mask", "labels", colour="lime"),
    LayerSpec("bouton_masks", "bouton_mask", "bouton mask", "labels", visible=False, colour="cyan"),
    LayerSpec("bouton_labels", "bouton_label", "boutons", "labels"),
)


def spatial_kwargs(pixel_size: float | None, ndim: int, axis_labels: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Layer keywords placing ``[..., H, W]`` data of ``ndim`` axes at a pixel size.

    Args:
      pixel_size: micrometres per pixel (both axes); None or 0: unknown, no scale given.
      ndim: the data's number of axes (the last two are y, x; leading axes get scale 1).
      axis_labels: one label per axis, or None.

    Returns:
      ``{"scale": (1, ..., px, px), "units": ("pixel", ..., "um", "um")}`` when the pixel size
      is known (plus ``axis_labels``), else only ``axis_labels`` (or nothing).

    Raises:
      ValueError: a negative or non-finite pixel size, ``ndim`` below 2, or axis labels of the
        wrong length.
    """
    if ndim < 2:
        raise ValueError(f"layer data must have at least 2 axes (y, x), got {ndim}")
    out: dict[str, Any] = {}
    if axis_labels is not None:
        if len(axis_labels) != ndim:
            raise ValueError(f"{len(axis_labels)} axis labels for data of {ndim} axes")
        out["axis_labels"] = tuple(axis_labels)
    if pixel_size is None or pixel_size == 0:
        return out
    if not math.isfinite(pixel_size) or pixel_size < 0:
        raise ValueError(f"pixel size must be a positive finite number of micrometres, got {pixel_size!r}")
    lead = ndim - 2
    out["scale"] = (1.0,) * lead + (float(pixel_size),) * 2
    out["units"] = ("pixel",) * lead + (UNIT,) * 2
    return out


def image_layer(
    data: Any, name: str, spatial: Mapping[str, Any], *, contrast_limits: tuple[float, float] | None = None, **kwargs: Any
) -> LayerData:
    """An image layer tuple (``data`` ``[..., H, W]``, unchanged)."""
    meta = {"name": name, **spatial, **kwargs}
    if contrast_limits is not None:
        meta["contrast_limits"] = tuple(float(c) for c in contrast_limits)
    return data, meta, "image"


def labels_layer(
    data: Any, name: str, spatial: Mapping[str, Any], *, colour: str | None = None, **kwargs: Any
) -> LayerData:
    """A labels layer tuple; boolean ``data`` becomes uint8 (napari labels are integers).

    ``colour`` paints every non-zero label in one colour (``colormap={None: colour}``: napari's
    direct label colours, background transparent); None keeps napari's colour per label.
    """
    if isinstance(data, np.ndarray) and data.dtype == np.bool_:
        data = data.astype(np.uint8)
    meta = {"name": name, "opacity": 0.6, **spatial, **kwargs}
    if colour is not None:
        meta["colormap"] = {None: colour}
    return data, meta, "labels"


def example_layers(
    arrays: Mapping[str, Any],
    *,
    key: str,
    pixel_size: float | None,
    max_intensity: float,
    axis_labels: tuple[str, ...] | None = None,
    prefix: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> list[LayerData]:
    """The layers of generated examples: the image (and clean image), then the labels.

    Args:
      arrays: ``[..., H, W]`` arrays keyed by `LayerSpec` ``array`` or ``field`` names (chosen by
        ``key``); the `LAYERS` found in it become layers, in `LAYERS` order.
      key: ``"array"`` (dataset names) or ``"field"`` (`jaxaxon.Batch` fields).
      pixel_size: micrometres per pixel, None or 0 when unknown.
      max_intensity: the generator's ``maxIntensity`` (the images' contrast limits are 0..it).
      axis_labels: one per axis of the arrays, or None.
      prefix: put before every layer name (e.g. the dataset's file name).
      metadata: attached to every layer as ``metadata``.

    Raises:
      ValueError: ``key`` unknown, or no known array in ``arrays``.
    """
    if key not in ("array", "field"):
        raise ValueError(f"key must be 'array' or 'field', got {key!r}")
    specs = [s for s in LAYERS if getattr(s, key) in arrays]
    if not specs:
        raise ValueError(f"no image arrays among {sorted(arrays)} (expected some of {[getattr(s, key) for s in LAYERS]})")
    extra = {"metadata": dict(metadata)} if metadata else {}
    out = []
    for spec in specs:
        data = arrays[getattr(spec, key)]
        spatial = spatial_kwargs(pixel_size, len(data.shape), axis_labels)
        name = f"{prefix}{spec.name}"
        if spec.kind == "image":
            out.append(image_layer(data, name, spatial, contrast_limits=(0, max_intensity), visible=spec.visible, **extra))
        else:
            out.append(labels_layer(data, name, spatial, colour=spec.colour, visible=spec.visible, **extra))
    return out
