"""The reader: jaxaxon datasets (``PATH.zarr``) and TIFF files (``jaxaxon predict`` outputs, any TIFF).

    read = get_reader("train.zarr")      # None when the path is neither
    layers = read("train.zarr")          # list of layer tuples

A dataset gives one layer per image array, ``[N, H, W]`` (``[N, T, H, W]`` for time series),
read on demand one example at a time (`ExampleStack`), at the generator's pixel size when it
is known. A TIFF gives one layer at the pixel size of its OME-XML or ImageJ metadata
(`jaxaxon.data.images.read_pixel_size`): a labels layer when its name ends in ``_mask``
(``NAME_HEAD_mask.ome.tif``), an image with contrast 0..1 when it ends in ``_prob``, else an image.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jaxaxon.napari.layers import LAYERS, LayerData, example_layers, image_layer, labels_layer, spatial_kwargs

__all__ = ["ExampleStack", "get_reader", "read_dataset", "read_paths", "read_tiff"]

TIFF_SUFFIXES = (".tif", ".tiff")
_CACHED_EXAMPLES = 8


class ExampleStack:
    """One image array of a dataset as a read-on-demand array ``[N, ...]`` (what napari slices).

    Indexing reads only the examples asked for (`Dataset.read`), keeping the last few in a
    cache; ``np.asarray`` reads all of them.

    Args:
      dataset: an open `jaxaxon.data.dataset.Dataset`.
      name: the array's name (one of ``dataset.image_names``).
      dtype: the dtype to return (e.g. uint8 for boolean masks); None: as stored.
    """

    def __init__(self, dataset: Any, name: str, dtype: Any = None):
        if name not in dataset.image_names:
            raise ValueError(f"{name!r} is not an image array of the dataset (it has {list(dataset.image_names)})")
        if len(dataset) == 0:
            raise ValueError("the dataset has no readable examples")
        self._dataset = dataset
        self.name = name
        first = dataset.read(0, [name])[name]
        self.dtype = np.dtype(first.dtype if dtype is None else dtype)
        self.shape = (len(dataset),) + tuple(first.shape)
        self._cache: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self._store(0, first)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ExampleStack({self.name!r}, shape={self.shape}, dtype={self.dtype})"

    def _store(self, index: int, value: np.ndarray) -> np.ndarray:
        value = np.asarray(value).astype(self.dtype, copy=False)
        self._cache[index] = value
        self._cache.move_to_end(index)
        while len(self._cache) > _CACHED_EXAMPLES:
            self._cache.popitem(last=False)
        return value

    def _example(self, index: int) -> np.ndarray:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        return self._store(index, self._dataset.read(index, [self.name])[self.name])

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if not key or any(k is Ellipsis or k is None for k in key):
            return np.asarray(self)[key]
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            index = int(first) + (len(self) if first < 0 else 0)
            if not 0 <= index < len(self):
                raise IndexError(f"example {first} is out of range for {len(self)} examples")
            return self._example(index)[rest]
        indices = np.arange(len(self))[first]
        if not indices.size:
            return np.empty((0,) + self.shape[1:], self.dtype)[(slice(None),) + rest]
        stacked = np.stack([self._example(int(i)) for i in indices])
        return stacked[(slice(None),) + rest]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = self._dataset.read(slice(None), [self.name])[self.name].astype(self.dtype, copy=False)
        return out if dtype is None else out.astype(dtype, copy=False)


def _lookup(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, Mapping) or key not in mapping:
            return None
        mapping = mapping[key]
    return mapping


def _open_dataset(path: str | os.PathLike) -> Any | None:
    """The dataset at ``path`` (a ``.zarr`` directory), or None when it is not a readable jaxaxon dataset."""
    from jaxaxon.data.dataset import open_dataset

    path = Path(path)
    if path.suffix.lower() != ".zarr" or not path.is_dir():
        return None
    try:
        ds = open_dataset(path)
    except Exception:  # noqa: BLE001 -- a reader's probe answers "not mine" for whatever it cannot open
        return None
    return ds if len(ds) else None


def _axis_labels(kind: str | None, ndim: int) -> tuple[str, ...]:
    lead = {"images": ("example",), "series": ("series", "frame")}.get(kind or "", ())
    if len(lead) != ndim - 2:
        lead = tuple(f"axis {i}" for i in range(ndim - 2))
    return lead + ("y", "x")


def read_dataset(path: str | os.PathLike) -> list[LayerData]:
    """A jaxaxon dataset as layers: ``images`` (and hidden ``clean_images``), then the masks and
    bouton labels, each ``[N, H, W]`` (``[N, T, H, W]`` for series) read on demand.

    Layer names are ``"NAME: image"``, ``"NAME: axon mask"``, ... (``NAME`` the directory's stem);
    ``scale``/``units`` come from the generator's ``pixel_size`` when it is known; each layer's
    ``metadata["jaxaxon"]`` holds the path, kind, seed, pixel size and number of examples.

    Raises:
      ValueError: ``path`` is not a readable jaxaxon dataset with at least one example.
    """
    from jaxaxon.data.dataset import open_dataset

    ds = open_dataset(path)  # DatasetError (a ValueError) says what is wrong
    if not len(ds):
        raise ValueError(f"{path}: the dataset has no readable examples")
    attrs = ds.attrs
    config = _lookup(attrs, "generator", "config") or {}
    pixel_size = config.get("pixel_size") or None
    max_intensity = config.get("maxIntensity", 255)
    label_names = {s.array for s in LAYERS if s.kind == "labels"}
    arrays = {
        name: ExampleStack(ds, name, np.uint8 if name in label_names else None)
        for name in ds.image_names
        if name in {s.array for s in LAYERS}
    }
    ndim = next(iter(arrays.values())).ndim if arrays else 3
    meta = {
        "jaxaxon": {
            "path": str(path), "kind": attrs.get("kind"), "seed": _lookup(attrs, "generator", "seed"),
            "pixel_size": pixel_size, "examples": len(ds),
        }
    }  # fmt: skip
    return example_layers(
        arrays, key="array", pixel_size=pixel_size, max_intensity=max_intensity,
        axis_labels=_axis_labels(attrs.get("kind"), ndim), prefix=f"{Path(path).stem}: ", metadata=meta,
    )  # fmt: skip


def _tiff_stem(path: Path) -> str:
    stem = path.stem
    return stem[: -len(".ome")] if stem.lower().endswith(".ome") else stem


def read_tiff(path: str | os.PathLike) -> list[LayerData]:
    """A TIFF file as one layer at its metadata's pixel size (see the module notes).

    Returns:
      ``[(data, kwargs, "labels")]`` for ``*_mask.tif`` / ``*_mask.ome.tif`` (uint8; non-integer
      masks become ``data != 0``), else ``[(data, kwargs, "image")]`` (contrast 0..1 for
      ``*_prob``); RGB(A) files are images with ``rgb=True``.

    Raises:
      ValueError: not a TIFF file (tifffile's own errors for unreadable ones).
    """
    import tifffile

    from jaxaxon.data.images import read_pixel_size

    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES or not path.is_file():
        raise ValueError(f"{path}: not a TIFF file")
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        rgb = series.axes.endswith("S") and data.shape[-1] in (3, 4)
    spatial = spatial_kwargs(read_pixel_size(path), data.ndim - int(rgb))
    stem = _tiff_stem(path)
    meta = {"metadata": {"jaxaxon": {"path": str(path), "pixel_size": spatial.get("scale", (None,))[-1]}}}
    if stem.lower().endswith("_mask") and not rgb:
        if not (np.issubdtype(data.dtype, np.integer) or data.dtype == np.bool_):
            data = data != 0
        return [labels_layer(data, stem, spatial, **meta)]
    if rgb:
        return [image_layer(data, stem, spatial, rgb=True, **meta)]
    limits = (0.0, 1.0) if stem.lower().endswith("_prob") else None
    return [image_layer(data, stem, spatial, contrast_limits=limits, **meta)]


def _reader_for(path: str | os.PathLike) -> Callable[[str | os.PathLike], list[LayerData]] | None:
    p = Path(path)
    if p.suffix.lower() in TIFF_SUFFIXES and p.is_file():
        return read_tiff
    if _open_dataset(p) is not None:
        return read_dataset
    return None


def read_paths(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[LayerData]:
    """The layers of one path or of several (in order).

    Raises:
      ValueError: a path that is neither a jaxaxon dataset nor a TIFF file.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    out: list[LayerData] = []
    for p in paths:
        reader = _reader_for(p)
        if reader is None:
            raise ValueError(f"{p}: neither a jaxaxon dataset (PATH.zarr) nor a TIFF file")
        out.extend(reader(p))
    return out


def get_reader(path: str | os.PathLike | Sequence[str | os.PathLike]) -> Callable[..., list[LayerData]] | None:
    """napari's reader hook: `read_paths` when every path is a jaxaxon dataset or a TIFF file, else None."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or any(_reader_for(p) is None for p in paths):
        return None
    return read_paths
