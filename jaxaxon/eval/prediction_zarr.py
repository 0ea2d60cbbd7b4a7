"""One prediction as an OME-Zarr (NGFF 0.5 on zarr v3): an image with its label images.

Layout of ``NAME_HEAD.ome.zarr`` (`write_ome_zarr`)::

    zarr.json                 group; attributes.ome: NGFF image (multiscales, axes y, x)
    0/                        float32 [Y, X] probability, one resolution level
    labels/zarr.json          group; attributes.ome.labels = ["mask"]
    labels/mask/zarr.json     group; attributes.ome: image-label (source ../../) + multiscales
    labels/mask/0/            uint8 [Y, X]: 0 background, 1 the head's structure

Metadata dicts come from `jaxaxon.data.ngff`; arrays are written by tensorstore (the
project's zarr library, already a dependency: zarr-python is needed only by the tests'
validators), zstd-compressed in chunks of up to 1024 x 1024, with ``dimension_names``
equal to the NGFF axis names. The whole folder is written beside its target under a hidden
temporary name and renamed into place (`replace_folder`), so a reader sees the old
prediction or the complete new one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from jaxaxon.data import ngff

__all__ = ["CHUNK", "LABEL_COLOR", "replace_folder", "write_ome_zarr"]

CHUNK = 1024
"""Largest chunk side of the written arrays."""

LABEL_COLOR = (255, 0, 255, 255)
"""RGBA of label value 1 in the label images (magenta, visible on a grey probability map)."""


def _write_group(path: Path, attrs: Mapping[str, Any]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    meta = {"zarr_format": 3, "node_type": "group", "attributes": dict(attrs)}
    (path / "zarr.json").write_text(json.dumps(meta, indent=1) + "\n")


def _write_array(path: Path, array: np.ndarray, dims: tuple[str, ...]) -> None:
    import tensorstore as ts

    bytes_codec: dict[str, Any] = {"name": "bytes"}
    if array.dtype.itemsize > 1:
        bytes_codec["configuration"] = {"endian": "little"}
    chunks = [max(1, min(CHUNK, d)) for d in array.shape]
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path) + "/"},
        "metadata": {
            "shape": list(array.shape),
            "data_type": array.dtype.name,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
            "chunk_key_encoding": {"name": "default"},
            "codecs": [bytes_codec, {"name": "zstd", "configuration": {"level": 3, "checksum": False}}],
            "fill_value": 0,
            "dimension_names": list(dims),
        },
    }
    context = ts.Context({"cache_pool": {"total_bytes_limit": 0}})
    store = ts.open(spec, create=True, delete_existing=True, context=context).result()
    store.write(array).result()


def _fsync_tree(root: Path) -> None:
    """Flushes every file under ``root`` to the disk (before the rename that publishes it)."""
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        with open(file, "rb+") as f:
            os.fsync(f.fileno())


def replace_folder(tmp: Path, path: Path) -> None:
    """Moves the finished folder ``tmp`` onto ``path``, its files flushed to the disk first. A
    folder already at ``path`` is renamed aside first and removed after: ``path`` holds the old
    folder or the new one at every moment except the instant between the two renames."""
    _fsync_tree(tmp)
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.old")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_ome_zarr(
    path: str | os.PathLike,
    image: np.ndarray,
    labels: Mapping[str, np.ndarray],
    *,
    pixel_size: float | None = None,
    name: str | None = None,
    classes: Mapping[str, str] | None = None,
) -> Path:
    """Writes a 2-D image and its label images as one OME-Zarr (NGFF 0.5), atomically.

    Args:
      path: the image group (conventionally ``*.ome.zarr``); replaced if it exists.
      image: ``[Y, X]`` array (float32 probabilities).
      labels: label name -> ``[Y, X]`` integer array of the image's shape (uint8 masks).
      pixel_size: um per pixel: the y and x scale, unit ``micrometer``; None: no unit, scale 1.
      name: the multiscale image's name (default: the folder name without ``.ome.zarr``).
      classes: label name -> the name of its label value 1 (its ``properties``; default the
        label's name).

    Returns:
      ``path``.

    Raises:
      ValueError: ``image`` not 2-D, a label of another shape or a non-integer dtype, a bad
        label name or pixel size.
    """
    path = Path(path)
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"an OME-Zarr prediction holds one [Y, X] image, got shape {image.shape}")
    if pixel_size is not None and not (np.isfinite(pixel_size) and pixel_size > 0):
        raise ValueError(f"pixel size must be a positive finite number of um, got {pixel_size!r}")
    arrays = {key: np.asarray(value) for key, value in labels.items()}
    for key, value in arrays.items():
        if value.shape != image.shape or value.dtype.kind not in "iu":
            raise ValueError(f"label {key!r}: expected an integer [Y, X] array of shape {image.shape}, "
                             f"got {value.dtype} {value.shape}")  # fmt: skip
    classes = dict(classes or {})
    dims = ("y", "x")
    axes = ngff.image_axes(dims, pixel_size=pixel_size)
    scale = ngff.axis_scale(axes, pixel_size)
    name = name or path.name.removesuffix(".zarr").removesuffix(".ome")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        _write_group(tmp, ngff.ome_attrs(ngff.multiscales_attrs(name, axes, scale)))
        _write_array(tmp / "0", image, dims)
        if arrays:
            _write_group(tmp / "labels", ngff.ome_attrs(ngff.labels_group_attrs(list(arrays))))
            for key, value in arrays.items():
                attrs = ngff.label_attrs(key, axes, scale, colors={1: LABEL_COLOR}, properties={1: {"name": classes.get(key, key)}})
                _write_group(tmp / "labels" / key, ngff.ome_attrs(attrs))
                _write_array(tmp / "labels" / key / "0", value, dims)
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_folder(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
