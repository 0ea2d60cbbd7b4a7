"""The napari widget "Segment axons": a trained checkpoint on the current image layer.

A thin magicgui wrapper around `jaxaxon.napari.segment.segment_layers` (imports napari and
magicgui; loaded by napari only). With a stack (``[..., H, W]``) and ``current plane only``,
only the plane shown in the viewer is predicted. The layer's pixel size (its ``scale`` in a
length unit) is used unless a pixel size or a zoom is given (0: not given).
"""

# no `from __future__ import annotations`: magicgui reads the annotations at run time
from pathlib import Path

import napari
from magicgui import magic_factory

from jaxaxon.napari.segment import layer_pixel_size, load_checkpoint, segment_layers

__all__ = ["segment", "segment_widget"]

_SPATIAL = ("scale", "translate", "units", "axis_labels")


def segment(
    image: napari.layers.Image,
    checkpoint: Path,
    threshold: float = 0.5,
    pixel_size: float = 0.0,
    zoom: float = 0.0,
    current_plane_only: bool = True,
    viewer: napari.viewer.Viewer | None = None,
) -> list[napari.types.LayerDataTuple]:
    """Probability and mask layers of ``image`` from the checkpoint (see the module notes).

    Raises:
      ValueError: no image layer, an RGB layer, or an invalid option (`segment_layers`).
    """
    if image is None:
        raise ValueError("choose an image layer to segment")
    if image.rgb:
        raise ValueError(f"layer {image.name!r} is RGB; jaxaxon networks take grey-value images")
    data = image.data[0] if image.multiscale else image.data  # full resolution
    keep = slice(None)
    if current_plane_only and data.ndim > 2 and viewer is not None:
        lead = tuple(int(i) for i in viewer.dims.current_step[: data.ndim - 2])
        data, keep = data[lead], slice(-2, None)
    spatial = {}
    for key in _SPATIAL:
        value = getattr(image, key, None)
        if value is not None:
            spatial[key] = tuple(str(v) if key == "units" else v for v in tuple(value)[keep])
    units = getattr(image, "units", None)
    layer_px = layer_pixel_size(float(image.scale[-1]), units[-1] if units is not None else None)
    model, run_config = load_checkpoint(checkpoint)
    return segment_layers(
        model, run_config, data, name=image.name, threshold=threshold, pixel_size=pixel_size or None,
        zoom=zoom or None, layer_pixel_size=layer_px, spatial=spatial,
    )  # fmt: skip


segment_widget = magic_factory(
    segment,
    call_button="Segment",
    checkpoint={"label": "checkpoint (run directory)", "mode": "d"},
    threshold={"min": 0.0, "max": 1.0, "step": 0.05},
    pixel_size={"label": "pixel size (um, 0: the layer's)", "min": 0.0, "max": 1000.0, "step": 0.01},
    zoom={"label": "zoom (0: from the pixel size)", "min": 0.0, "max": 100.0, "step": 0.1},
    current_plane_only={"label": "current plane only"},
)
