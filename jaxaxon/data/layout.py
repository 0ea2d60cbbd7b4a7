"""The on-disk layout of a jaxaxon dataset: array specs, group attributes, completion record.

No tensorstore here (see `jaxaxon.data.dataset` for the I/O). A dataset (format 3,
`FORMAT_VERSION`) is an OME-Zarr (OME-NGFF 0.5) image on zarr v3::

    PATH.zarr/
      zarr.json           root group: attributes["ome"] = the NGFF image of `images`
                          (multiscales, one level, dataset path "images") and
                          attributes["jaxaxon"] = the record built below, in one file
      .jaxaxon.lock       empty file flock()ed by the writing process; present while unfinished
      images/             [N, H, W] grey values (zarr dimension_names n, y, x)
      labels/             zarr.json: ome.labels = [axon_masks, bouton_masks, bouton_labels, cell_masks]
        axon_masks/       zarr.json: ome.image-label (colour, name, source "../../") + multiscales
          0/              [N, H, W] uint8 0/1
        bouton_masks/0/ bouton_labels/0/ cell_masks/0/
      clean_images/       zarr.json: ome.multiscales (a second NGFF image, no labels)
        0/                [N, H, W] noise-free images
      metadata/           zarr v3 group (no attributes) holding the [N, ...] metadata arrays:
        centerlines/ centerline_valid/ gap/ ... bouton_centers/ ...

NGFF axes: the example index ``n`` is the one custom axis NGFF allows (type omitted), then
the space axes ``y, x`` (unit ``micrometer`` and scale = the generator's ``pixel_size`` when
known, else scale 1 and no unit). Time series store their image arrays as ``[T, N, H, W]``
(axes ``t`` (time, scale 1, no unit), ``n``, ``y``, ``x``): NGFF requires the time axis
first; every reader and writer here sees them as ``[N, T, H, W]`` (`ArraySpec.n_axis`, a
tensorstore transpose), and chunk ``k`` is the file ``c/0/k/0/0``. The metadata of the NGFF
groups is derived from the ``jaxaxon`` record (`ngff_groups`) and written with `jaxaxon.data.ngff`.

Every array is described by an `ArraySpec` (name, per-example shape, dtype, role, path,
position of the example axis) derived from the generator's output, so a generator with other
outputs is stored by the same code; image arrays whose dimensions make no NGFF axes stay
plain arrays at ``NAME``. The ``arrays`` record gives each array's ``path``.

Format 3 keeps the storage of format 2: every stored inner chunk, shard index and metadata
chunk ends with a crc32c checksum and every chunk is stored (also those equal to the fill
value), so damage and missing chunk files are detected (`jaxaxon.data.integrity`). Formats 1
and 2 (no NGFF metadata; every image array at ``NAME``, metadata at ``metadata/NAME``, the
example axis first) still read and are still written on request (``format_version``).

Completion record: ``attributes["jaxaxon"]["progress"]["completed_chunks"] = k`` means that
chunks ``0 .. k-1`` (examples ``0 .. k * chunk_size - 1``) of *every* array are written and
durable; it is raised only after all writes of those chunks have committed, by atomically
replacing ``zarr.json`` (temporary file, fsync, ``os.replace``; the ``ome`` attributes are
rewritten unchanged in the same file). Later chunks may hold partial data from an
interrupted run and are rewritten when the run is resumed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from jaxaxon.atomic import atomic_path
from jaxaxon.config import GeneratorConfig
from jaxaxon.data import ngff

__all__ = [
    "ATTRS_KEY",
    "ArraySpec",
    "DatasetError",
    "FORMAT",
    "FORMAT_VERSION",
    "READABLE_FORMAT_VERSIONS",
    "GROUP_FILE",
    "LABELS_GROUP",
    "LOCK_FILE",
    "METADATA_GROUP",
    "NGFF_FORMAT_VERSION",
    "build_attributes",
    "derive_specs",
    "differences",
    "insert_n",
    "intensity_dtype",
    "ngff_groups",
    "read_attributes",
    "set_progress",
    "specs_from_attributes",
    "write_group",
    "write_group_attributes",
    "write_subgroups",
]

FORMAT = "jaxaxon-dataset"
FORMAT_VERSION = 3  # 3: OME-NGFF 0.5 layout; 2: crc32c checksum on every stored chunk, every chunk stored; 1: neither
READABLE_FORMAT_VERSIONS = (1, 2, 3)
NGFF_FORMAT_VERSION = 3  # the first format written as OME-Zarr (NGFF 0.5)
ATTRS_KEY = "jaxaxon"
GROUP_FILE = "zarr.json"
LOCK_FILE = ".jaxaxon.lock"
METADATA_GROUP = "metadata"
LABELS_GROUP = "labels"
EXAMPLE_DIM = "n"  # the dimension name (and NGFF custom axis) of the example index

ROLES = ("intensity", "mask", "label", "metadata")

# Generator outputs stored as images: generator attribute -> (array name, role, description).
IMAGE_OUTPUTS: dict[str, tuple[str, str, str]] = {
    "image": ("images", "intensity", "final image: integer grey values 0..maxIntensity"),
    "axon_mask": ("axon_masks", "mask", "axon ground truth: 1 = axon, 0 = background"),
    "bouton_mask": ("bouton_masks", "mask", "bouton ground truth: 1 = bouton, 0 = background"),
    "clean": ("clean_images", "intensity", "noise-free axons and boutons: 0..maxIntensity"),
    "bouton_label": ("bouton_labels", "label", "1 + bouton slot at bouton pixels, 0 elsewhere"),
    "cell_mask": ("cell_masks", "mask", "pixels covered by a cell (distractor): 1 = cell, 0 = elsewhere"),
}

# Per-example dimension names and descriptions of the metadata outputs (others get d1, d2, ...).
METADATA_OUTPUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "centerlines": (("branch", "point", "rc"), "centreline points (row, col), 0-based pixels"),
    "centerline_valid": (("branch", "point"), "the point belongs to a drawn branch"),
    "point_axon_id": (("branch", "point"), "axon index of each point"),
    "point_branch_id": (("branch", "point"), "branch index within its axon (0 = mother)"),
    "gap": (("branch", "point"), "the point lies in a gap of the axon"),
    "variation": (("branch", "point"), "intensity profile along the branch (fraction)"),
    "thickness": (("branch",), "branch thickness (pixels)"),
    "parent_slot": (("branch",), "slot a daughter branch starts on (-1 for mothers)"),
    "parent_index": (("branch",), "start point index on the parent (-1 for mothers)"),
    "bouton_centers": (("bouton", "rc"), "bouton centres (row, col)"),
    "bouton_valid": (("bouton",), "the bouton slot holds a bouton"),
    "bouton_kind": (("bouton",), "0 = en passant, 1 = terminal"),
    "bouton_radius": (("bouton",), "bouton radius (pixels)"),
    "bouton_brightness": (("bouton",), "bouton brightness"),
    "terminal_branches": (("bouton", "point", "rc"), "terminal-branch centrelines (row, col)"),
    "scene_attempts": ((), "whole-scene draws used"),
    "failed_branches": ((), "branches left out (no acceptable candidate)"),
    "failed_boutons": ((), "boutons left out"),
    "failed_cells": ((), "cells left out"),
}


class DatasetError(ValueError):
    """A dataset cannot be written or read as asked; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class ArraySpec:
    """One stored array.

    Attributes:
      name: array name (``images``, ``axon_masks``, ``centerlines``, ...): the key of
        ``ds.read``, ``ds[i]`` and of the attributes' ``arrays`` record.
      source: generator output it comes from (``image``, ``centerlines``, ...).
      shape: per-example shape (the array is ``[N, *shape]`` as read).
      dtype: stored NumPy dtype name (``uint8``, ``bool``, ``float32``, ...).
      role: ``intensity`` (grey values), ``mask`` (0/1), ``label`` (integer ids) or
        ``metadata`` (stored with the generator's own dtype).
      dims: per-example dimension names.
      description: one line for humans.
      location: the array's path inside the dataset group; empty for formats 1 and 2,
        whose paths follow from the name (`path`).
      n_axis: position of the example axis ``n`` in the stored array (format 3 time
        series store ``[T, N, H, W]``: NGFF wants the time axis first); reads and writes
        see ``[N, *shape]`` whatever it is.
    """

    name: str
    source: str
    shape: tuple[int, ...]
    dtype: str
    role: str
    dims: tuple[str, ...]
    description: str = ""
    location: str = ""
    n_axis: int = 0

    @property
    def is_image(self) -> bool:
        """True for the image-like arrays (``ds[i:j]`` returns these)."""
        return self.role != "metadata"

    @property
    def path(self) -> str:
        """The array's path inside the dataset group (``location``; formats 1 and 2: the name,
        metadata in ``metadata/``)."""
        if self.location:
            return self.location
        return self.name if self.is_image else f"{METADATA_GROUP}/{self.name}"

    @property
    def stored_dims(self) -> tuple[str, ...]:
        """Dimension names of the stored array (``n`` inserted at ``n_axis``)."""
        return insert_n(self.dims, EXAMPLE_DIM, self.n_axis)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "role": self.role,
            "dims": list(self.dims),
            "description": self.description,
        }
        if self.location:  # format 3; formats 1 and 2 keep their records as they were
            out["path"] = self.location
            out["n_axis"] = self.n_axis
        return out

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> "ArraySpec":
        try:
            spec = cls(
                name=str(name),
                source=str(data["source"]),
                shape=tuple(int(d) for d in data["shape"]),
                dtype=str(np.dtype(data["dtype"])),
                role=str(data["role"]),
                dims=tuple(str(d) for d in data["dims"]),
                description=str(data.get("description", "")),
                location=str(data.get("path", "")),
                n_axis=int(data.get("n_axis", 0)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise DatasetError(f"array {name!r}: invalid description {data!r} ({err})") from None
        parts = spec.location.split("/")
        if (
            spec.role not in ROLES
            or len(spec.dims) != len(spec.shape)
            or min(spec.shape, default=0) < 0
            or not 0 <= spec.n_axis <= len(spec.shape)
            or (spec.location and any(p in ("", ".", "..") for p in parts))
        ):
            raise DatasetError(f"array {name!r}: invalid description {data!r}")
        return spec


def insert_n(values: Sequence[Any], value: Any, n_axis: int) -> tuple[Any, ...]:
    """``values`` with ``value`` inserted at position ``n_axis`` (the stored order of an array)."""
    values = tuple(values)
    return values[:n_axis] + (value,) + values[n_axis:]


def intensity_dtype(config: GeneratorConfig) -> np.dtype:
    """Stored dtype of grey-value images: uint8 up to maxIntensity 255, uint16 up to 65535.

    Raises:
      DatasetError: maxIntensity above 65535 (no exact unsigned 16-bit storage).
    """
    if config.maxIntensity <= 255:
        return np.dtype(np.uint8)
    if config.maxIntensity <= 65535:
        return np.dtype(np.uint16)
    raise DatasetError(f"maxIntensity={config.maxIntensity} does not fit the stored uint16 images (at most 65535)")


def _label_dtype(config: GeneratorConfig) -> np.dtype:
    return np.dtype(np.uint8) if config.MaxNbBouton < 255 else np.dtype(np.uint16)


def _image_dims(rank: int) -> tuple[str, ...]:
    return ("y", "x") if rank == 2 else ("t", "y", "x") if rank == 3 else tuple(f"d{i + 1}" for i in range(rank))


def _ngff_n_axis(dims: Sequence[str]) -> int | None:
    """Where the example axis goes so that the stored dimensions are valid NGFF axes
    (after a leading time axis, else first); None when no placement is valid."""
    n_axis = 1 if dims[:1] == ("t",) else 0
    try:
        ngff.image_axes(insert_n(dims, EXAMPLE_DIM, n_axis))
    except ValueError:
        return None
    return n_axis


def _place(specs: Sequence[ArraySpec]) -> tuple[ArraySpec, ...]:
    """Format-3 locations: the grey-value image at ``images`` (the root group is its NGFF
    image), clean images as their own NGFF image ``clean_images/0``, masks and labels as
    label images ``labels/NAME/0`` of the root image, metadata in ``metadata/``. Image arrays
    whose dimensions are no valid NGFF axes (or masks without an NGFF image of their shape)
    stay plain arrays at ``NAME``."""
    images = next((s for s in specs if s.source == "image"), None)
    root_axis = _ngff_n_axis(images.dims) if images is not None else None
    out = []
    for spec in specs:
        if not spec.is_image:
            out.append(dataclasses.replace(spec, location=f"{METADATA_GROUP}/{spec.name}"))
            continue
        n_axis = _ngff_n_axis(spec.dims)
        if n_axis is None:
            location, n_axis = spec.name, 0
        elif spec is images:
            location = spec.name
        elif spec.role == "intensity":
            location = f"{spec.name}/0"
        elif root_axis is not None and spec.dims == images.dims:
            location = f"{LABELS_GROUP}/{spec.name}/0"
        else:
            location = f"{spec.name}/0"
        out.append(dataclasses.replace(spec, location=location, n_axis=n_axis))
    return tuple(out)


def derive_specs(
    outputs: Mapping[str, tuple[Sequence[int], Any]], config: GeneratorConfig, format_version: int = FORMAT_VERSION
) -> tuple[ArraySpec, ...]:
    """Array specs for a generator's outputs.

    Args:
      outputs: generator attribute -> (per-example shape, dtype), e.g. from `jax.eval_shape`
        of the generator with the leading batch axis removed.
      config: the generator's config (decides the grey-value and label dtypes).
      format_version: the dataset format; 3 places the arrays as OME-Zarr (`_place`).

    Returns:
      Specs of the image arrays (in `IMAGE_OUTPUTS` order) followed by the metadata arrays
      (in the generator's order). Images become uint8/uint16, masks uint8 0/1, bouton labels
      uint8/uint16; metadata keep the generator's dtype.
    """
    specs = []
    for source, (name, role, description) in IMAGE_OUTPUTS.items():
        if source not in outputs:
            continue
        shape = tuple(int(d) for d in outputs[source][0])
        dtype = {"intensity": intensity_dtype(config), "mask": np.dtype(np.uint8), "label": _label_dtype(config)}[role]
        specs.append(ArraySpec(name, source, shape, str(dtype), role, _image_dims(len(shape)), description))
    for source, (shape, dtype) in outputs.items():
        if source in IMAGE_OUTPUTS:
            continue
        shape = tuple(int(d) for d in shape)
        dims, description = METADATA_OUTPUTS.get(source, ((), ""))
        if len(dims) != len(shape):
            dims = tuple(f"d{i + 1}" for i in range(len(shape)))
        specs.append(ArraySpec(source, source, shape, str(np.dtype(dtype)), "metadata", dims, description))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise DatasetError(f"generator outputs give duplicate array names: {names}")
    if format_version >= NGFF_FORMAT_VERSION:
        return _place(specs)
    return tuple(specs)


def _package_version() -> str:
    import jaxaxon

    return jaxaxon.__version__


def build_attributes(
    *,
    kind: str,
    generator: str,
    config: GeneratorConfig,
    seed: int,
    num_examples: int,
    chunk_size: int,
    specs: Sequence[ArraySpec],
    format_version: int = FORMAT_VERSION,
) -> dict[str, Any]:
    """The ``jaxaxon`` attributes of a new dataset (nothing completed yet).

    The record holds no timestamps or host names, so two runs with the same request write
    byte-identical datasets.
    """
    import jax

    num_chunks = math.ceil(num_examples / chunk_size)
    return {
        "format": FORMAT,
        "format_version": format_version,
        "kind": kind,
        "generator": {
            "function": generator,
            "seed": seed,
            "keys": "example i uses jax.random.fold_in(jax.random.key(seed), i)",
            "config": config.to_dict(),
        },
        "num_examples": num_examples,
        "chunk_size": chunk_size,
        "num_chunks": num_chunks,
        "arrays": {s.name: s.to_json() for s in specs},
        "written_with": {"jaxaxon": _package_version(), "jax": jax.__version__},
        "progress": _progress(0, num_examples, chunk_size),
    }


def _progress(completed_chunks: int, num_examples: int, chunk_size: int) -> dict[str, Any]:
    done = min(completed_chunks * chunk_size, num_examples)
    return {
        "completed_chunks": completed_chunks,
        "completed_examples": done,
        "complete": done == num_examples,
    }


def set_progress(attrs: Mapping[str, Any], completed_chunks: int) -> dict[str, Any]:
    """A copy of the attributes with chunks ``0 .. completed_chunks-1`` recorded complete."""
    out = dict(attrs)
    out["progress"] = _progress(completed_chunks, attrs["num_examples"], attrs["chunk_size"])
    return out


# --- group metadata file ---------------------------------------------------------------------


# Label images: label value 1 of each 0/1 mask, its colour (RGBA) and name for viewers.
MASK_LABELS: dict[str, tuple[tuple[int, int, int, int], str]] = {
    "axon_masks": ((0, 255, 0, 255), "axon"),
    "bouton_masks": ((255, 0, 255, 255), "bouton"),
    "cell_masks": ((255, 255, 0, 255), "cell"),
}


def ngff_groups(attrs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The OME-NGFF 0.5 group attributes of a format-3 dataset: group path inside the dataset
    (``""`` = the root) -> its ``{"ome": ...}`` attributes; empty for formats 1 and 2.

    The root group is the NGFF image of the ``images`` array (axes ``n, y, x`` or ``t, n, y,
    x``: the example index is a custom axis, a series' frame axis the time axis); masks and
    labels are its label images (``labels``, ``labels/NAME``); clean images a second NGFF image
    (``clean_images``). Space axes carry the generator's ``pixel_size`` in micrometres when it is
    known (non-zero), else scale 1 and no unit; other axes have scale 1.
    """
    if attrs.get("format_version", 0) < NGFF_FORMAT_VERSION:
        return {}
    pixel_size = float(attrs["generator"]["config"].get("pixel_size", 0) or 0)
    specs = [s for s in specs_from_attributes(attrs) if s.is_image]
    out: dict[str, dict[str, Any]] = {}
    labels = []
    for spec in specs:
        root_image = spec.source == "image" and spec.location == spec.name
        if not root_image and not spec.location.endswith("/0"):
            continue  # a plain array (dimensions that are no NGFF axes)
        try:
            axes = ngff.image_axes(spec.stored_dims, pixel_size)
        except ValueError:
            continue
        scale = ngff.axis_scale(axes, pixel_size)
        if root_image:
            out[""] = ngff.ome_attrs(ngff.multiscales_attrs(spec.name, axes, scale, path=spec.location))
        elif spec.location.startswith(f"{LABELS_GROUP}/"):
            colour, label = MASK_LABELS.get(spec.name, (None, None))
            extra: dict[str, Any] = {}
            if colour is not None:
                extra = {"colors": {1: colour}, "properties": {1: {"name": label}}}
            out[spec.location[:-2]] = ngff.ome_attrs(ngff.label_attrs(spec.name, axes, scale, **extra))
            labels.append(spec.name)
        else:
            out[spec.location[:-2]] = ngff.ome_attrs(ngff.multiscales_attrs(spec.name, axes, scale))
    if labels and "" in out:
        out[LABELS_GROUP] = ngff.ome_attrs(ngff.labels_group_attrs(labels))
    else:  # label images need their image
        out = {k: v for k, v in out.items() if not k.startswith(f"{LABELS_GROUP}/")}
    return dict(sorted(out.items()))


def write_group_attributes(path: Path, attributes: Mapping[str, Any]) -> None:
    """Atomically (re)writes the zarr v3 group metadata ``path/zarr.json`` with ``attributes``
    (`jaxaxon.atomic`: temporary file, fsync, ``os.replace``, fsync of the directory). ``path``
    must exist."""
    text = _group_text(attributes)
    with atomic_path(path / GROUP_FILE, mkdir=False) as tmp:
        tmp.write_text(text)


def _group_text(attributes: Mapping[str, Any]) -> str:
    doc = {"zarr_format": 3, "node_type": "group", "attributes": dict(attributes)}
    return json.dumps(doc, indent=1) + "\n"


def write_group(root: Path, attrs: Mapping[str, Any] | None) -> None:
    """Atomically (re)writes the group metadata ``root/zarr.json``: the ``jaxaxon`` attributes
    ``attrs`` (None: a group without attributes) and, in format 3, the root's NGFF image
    metadata (``ome``, derived from ``attrs``) in the same file, so the completion record and
    the rest change together. ``root`` must exist."""
    attributes: dict[str, Any] = {}
    if attrs is not None:
        attributes.update(ngff_groups(attrs).get("", {}))
        attributes[ATTRS_KEY] = attrs
    write_group_attributes(root, attributes)


def write_subgroups(root: Path, attrs: Mapping[str, Any]) -> None:
    """Creates (or restores) the groups of a dataset below its root: ``metadata`` (no
    attributes) and, in format 3, the NGFF groups (`ngff_groups`: ``labels``,
    ``labels/NAME``, ``clean_images``). A group file that already holds what it should is
    left untouched. The root's own ``zarr.json`` is written by `write_group`."""
    groups = {METADATA_GROUP: {}, **{k: v for k, v in ngff_groups(attrs).items() if k}}
    for path, attributes in groups.items():
        where = root / path
        try:
            if (where / GROUP_FILE).read_text() == _group_text(attributes):
                continue
        except (OSError, UnicodeDecodeError):
            pass
        where.mkdir(parents=True, exist_ok=True)
        write_group_attributes(where, attributes)


def read_attributes(root: Path) -> dict[str, Any]:
    """Reads and checks the ``jaxaxon`` attributes of ``root/zarr.json``.

    Raises:
      DatasetError: missing, unreadable or corrupt metadata (the message says which).
    """
    where = root / GROUP_FILE
    try:
        text = where.read_text()
    except FileNotFoundError:
        raise DatasetError(f"{root} is not a jaxaxon dataset: {GROUP_FILE} is missing") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"cannot read {where}: {err}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise DatasetError(f"corrupt dataset attributes: {where} is not valid JSON ({err})") from None
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") != "group":
        raise DatasetError(f"corrupt dataset attributes: {where} is not zarr v3 group metadata")
    attrs = (doc.get("attributes") or {}).get(ATTRS_KEY) if isinstance(doc.get("attributes"), dict) else None
    if not isinstance(attrs, dict):
        raise DatasetError(f"{root} is a zarr group but not a jaxaxon dataset (no {ATTRS_KEY!r} attributes)")
    _check_attributes(attrs, where)
    return attrs


def _check_attributes(attrs: dict[str, Any], where: Path) -> None:
    def bad(what: str) -> DatasetError:
        return DatasetError(f"corrupt dataset attributes in {where}: {what}")

    if attrs.get("format") != FORMAT:
        raise bad(f"format is {attrs.get('format')!r}, expected {FORMAT!r}")
    if attrs.get("format_version") not in READABLE_FORMAT_VERSIONS:
        raise DatasetError(
            f"{where}: dataset format version {attrs.get('format_version')!r} is not supported "
            f"by this jaxaxon (reads versions {', '.join(map(str, READABLE_FORMAT_VERSIONS))})"
        )
    for key in ("num_examples", "chunk_size", "num_chunks"):
        if not isinstance(attrs.get(key), int) or isinstance(attrs.get(key), bool) or attrs[key] <= 0:
            raise bad(f"{key} must be a positive integer, got {attrs.get(key)!r}")
    if attrs["num_chunks"] != math.ceil(attrs["num_examples"] / attrs["chunk_size"]):
        raise bad("num_chunks does not match num_examples and chunk_size")
    gen = attrs.get("generator")
    if not isinstance(gen, dict) or not isinstance(gen.get("config"), dict) or not isinstance(gen.get("seed"), int):
        raise bad("generator record (function, seed, config) is missing or malformed")
    if not isinstance(attrs.get("arrays"), dict) or not attrs["arrays"]:
        raise bad("the array list is missing")
    specs_from_attributes(attrs)
    prog = attrs.get("progress")
    if not isinstance(prog, dict) or not isinstance(prog.get("completed_chunks"), int):
        raise bad("the completion record (progress.completed_chunks) is missing")
    if not 0 <= prog["completed_chunks"] <= attrs["num_chunks"]:
        raise bad(f"progress.completed_chunks={prog['completed_chunks']} is outside 0..{attrs['num_chunks']}")
    if prog != _progress(prog["completed_chunks"], attrs["num_examples"], attrs["chunk_size"]):
        raise bad(f"inconsistent completion record {prog}")


def specs_from_attributes(attrs: Mapping[str, Any]) -> tuple[ArraySpec, ...]:
    """The array specs recorded in a dataset's attributes."""
    return tuple(ArraySpec.from_json(name, data) for name, data in attrs["arrays"].items())


def config_from_attributes(attrs: Mapping[str, Any]) -> GeneratorConfig:
    """The generator config recorded in a dataset's attributes."""
    from jaxaxon.config import ConfigError

    try:
        return GeneratorConfig.from_dict(attrs["generator"]["config"])
    except ConfigError as err:
        raise DatasetError(f"the dataset's recorded generator parameters are invalid here: {err}") from None


# --- comparing a request with an existing dataset ---------------------------------------------


def differences(existing: Mapping[str, Any], requested: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two datasets' identities (progress and the JAX
    version are not part of the identity)."""
    out = []
    for key, label in (("kind", "kind"), ("num_examples", "--n"), ("chunk_size", "--batch (chunk size)")):
        if existing.get(key) != requested.get(key):
            out.append(f"{label}: existing {existing.get(key)!r}, requested {requested.get(key)!r}")
    e_gen, r_gen = existing["generator"], requested["generator"]
    if e_gen.get("seed") != r_gen.get("seed"):
        out.append(f"--seed: existing {e_gen.get('seed')!r}, requested {r_gen.get('seed')!r}")
    if e_gen.get("function") != r_gen.get("function"):
        out.append(f"generator: existing {e_gen.get('function')!r}, requested {r_gen.get('function')!r}")
    e_cfg, r_cfg = e_gen["config"], r_gen["config"]
    for key in list(r_cfg) + [k for k in e_cfg if k not in r_cfg]:
        if e_cfg.get(key, "<absent>") != r_cfg.get(key, "<absent>"):
            out.append(
                f"parameter {key}: existing {e_cfg.get(key, '<absent>')!r}, requested {r_cfg.get(key, '<absent>')!r}"
            )
    e_fmt, r_fmt = existing.get("format_version"), requested.get("format_version")
    if e_fmt != r_fmt:
        out.append(
            f"dataset format: existing {e_fmt!r}, requested {r_fmt!r} (format {e_fmt!r} still reads, but is "
            "not resumed or repaired by this jaxaxon)"
        )
    e_ver = (existing.get("written_with") or {}).get("jaxaxon")
    r_ver = requested["written_with"]["jaxaxon"]
    if e_ver != r_ver:
        out.append(f"jaxaxon version: existing {e_ver!r}, running {r_ver!r} (the generator may differ)")
    if not out and existing.get("arrays") != requested.get("arrays"):
        out.append("array layout differs (stored arrays, shapes or dtypes)")
    return out
