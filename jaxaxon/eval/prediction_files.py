"""Prediction files that Fiji and napari open: OME-TIFF (default) or OME-Zarr, with PNG previews.

`jaxaxon predict` writes, per image ``NAME`` and network head ``HEAD`` (one file per head, so
each opens as one 2-D image in Fiji and as one layer in napari, and a two-head checkpoint's
files sit side by side under the names of the old ``.npy`` outputs)::

    tiff (default)
      NAME_HEAD_prob.ome.tif   float32 [Y, X] probability in 0..1 (OME-TIFF, axes YX)
      NAME_HEAD_mask.ome.tif   uint8 [Y, X]: 1 where prob > threshold, else 0 (a label image)
    zarr (OME-Zarr, NGFF 0.5 on zarr v3)
      NAME_HEAD.ome.zarr/             the probability map as an NGFF image, one scale level "0"
      NAME_HEAD.ome.zarr/labels/mask/ the mask as an NGFF label image of it (uint8, 0 / 1)
    both
      NAME_HEAD_prob.png       8-bit preview of the probability (round(255 p))
      NAME_HEAD_mask.png       preview of the mask (0 / 255)

The physical pixel size, when known (``--pixel-size``, or the input TIFF's OME / ImageJ
metadata: `jaxaxon.data.images.read_pixel_size`), is written as ``PhysicalSizeX`` /
``PhysicalSizeY`` in um (and as TIFF resolution tags in pixels per cm, which ImageJ's plain
TIFF reader uses), or as the NGFF ``scale`` of the y and x axes in micrometres. Pixels are taken
to be square (the pixel size along x is used for both axes). When it is unknown nothing
physical is written: the OME-TIFF has no ``PhysicalSize`` attributes and the NGFF axes have no
unit and a scale of 1 (one pixel).

Masks are 0 / 1 rather than ImageJ's 0 / 255: that is a label image in napari and NGFF (label 1
is the structure); Fiji's Bio-Formats importer scales the display range to it. Every file is
written atomically (`jaxaxon.atomic`): an OME-TIFF through a temporary file and a rename, an
OME-Zarr as a temporary folder renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jaxaxon.atomic import atomic_path
from jaxaxon.eval.plots import save_mask_png, save_probability_png

__all__ = ["FORMATS", "prediction_files", "write_ome_tiff", "write_prediction"]

FORMATS = ("tiff", "zarr")
"""Output formats of `write_prediction` (``--format``)."""


def prediction_files(name: str, head: str, fmt: str = "tiff") -> dict[str, str]:
    """The file names written for one image and head, by role.

    Returns:
      ``{"prob": ..., "mask": ..., "prob_png": ..., "mask_png": ...}``; in the zarr format
      ``mask`` is the label image's path inside the ``prob`` group (``NAME_HEAD.ome.zarr/labels/mask``).

    Raises:
      ValueError: an unknown ``fmt``.
    """
    stem = f"{name}_{head}"
    previews = {"prob_png": f"{stem}_prob.png", "mask_png": f"{stem}_mask.png"}
    if fmt == "tiff":
        return {"prob": f"{stem}_prob.ome.tif", "mask": f"{stem}_mask.ome.tif", **previews}
    if fmt == "zarr":
        return {"prob": f"{stem}.ome.zarr", "mask": f"{stem}.ome.zarr/labels/mask", **previews}
    raise ValueError(f"unknown prediction format {fmt!r} (choose from {', '.join(FORMATS)})")


def _check_pixel_size(pixel_size: float | None) -> float | None:
    if pixel_size is None:
        return None
    value = float(pixel_size)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"pixel size must be a positive finite number of um, got {pixel_size!r}")
    return value


def write_ome_tiff(path: str | os.PathLike, array: np.ndarray, *, pixel_size: float | None = None,
                   name: str | None = None) -> Path:  # fmt: skip
    """Writes a 2-D array as a single-image OME-TIFF (axes ``YX``, zlib-compressed), atomically.

    Args:
      path: the file (conventionally ``*.ome.tif``).
      array: ``[Y, X]`` array of any dtype tifffile writes (float32 maps, uint8 masks).
      pixel_size: um per pixel, written as ``PhysicalSizeX`` / ``PhysicalSizeY`` (unit um) and
        as resolution tags (pixels per cm); None: no physical size.
      name: the OME ``Image/@Name`` (default: the file name without ``.ome.tif``).

    Returns:
      ``path``.

    Raises:
      ValueError: ``array`` is not 2-D or ``pixel_size`` is not a positive finite number.
    """
    import tifffile

    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"an OME-TIFF prediction holds one [Y, X] image, got shape {array.shape}")
    pixel_size = _check_pixel_size(pixel_size)
    path = Path(path)
    metadata: dict = {"axes": "YX", "Name": name or path.name.removesuffix(".tif").removesuffix(".ome")}
    extra: dict = {}
    if pixel_size is not None:
        metadata.update(PhysicalSizeX=pixel_size, PhysicalSizeXUnit="\u00b5m",
                        PhysicalSizeY=pixel_size, PhysicalSizeYUnit="\u00b5m")  # fmt: skip
        extra = {"resolution": (1e4 / pixel_size, 1e4 / pixel_size), "resolutionunit": "CENTIMETER"}
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, ome=True, photometric="minisblack", compression="zlib", metadata=metadata,
                         **extra)  # fmt: skip
    return path


def write_prediction(
    out_dir: str | os.PathLike,
    name: str,
    head: str,
    prob: np.ndarray,
    *,
    threshold: float = 0.5,
    fmt: str = "tiff",
    pixel_size: float | None = None,
) -> dict[str, Path]:
    """Writes one head's probability map of one image, its mask (``prob > threshold``) and
    their PNG previews (see the module notes for the layout).

    Args:
      out_dir: the output folder (created if needed).
      name: the image's name.
      head: the network head.
      prob: ``[Y, X]`` probabilities in 0..1 (written as float32).
      threshold: the mask threshold.
      fmt: ``"tiff"`` or ``"zarr"``.
      pixel_size: the image's pixel size in um, or None when unknown.

    Returns:
      The written paths by role, as `prediction_files`.
    """
    names = prediction_files(name, head, fmt)
    out = Path(out_dir)
    prob = np.asarray(prob, np.float32)
    mask = (prob > threshold).astype(np.uint8)
    if fmt == "tiff":
        write_ome_tiff(out / names["prob"], prob, pixel_size=pixel_size, name=f"{name}_{head}_prob")
        write_ome_tiff(out / names["mask"], mask, pixel_size=pixel_size, name=f"{name}_{head}_mask")
    else:
        from jaxaxon.eval.prediction_zarr import write_ome_zarr

        write_ome_zarr(out / names["prob"], prob, {"mask": mask}, pixel_size=pixel_size, name=f"{name}_{head}_prob",
                       classes={"mask": head})  # fmt: skip
    save_probability_png(out / names["prob_png"], prob)
    save_mask_png(out / names["mask_png"], mask.astype(bool))
    return {role: out / file for role, file in names.items()}

