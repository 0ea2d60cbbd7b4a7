"""The on-disk layout of a jaxaxon dataset: array specs, group attributes, completion record.

No tensorstore here (see `jaxaxon.data.dataset` for the I/O). A dataset is a zarr v3 group::

    PATH.zarr/
      zarr.json           group metadata; attributes["jaxaxon"] = the record built below
      .jaxaxon.lock       empty file flock()ed by the writing process; present while unfinished
      images/ axon_masks/ bouton_masks/ clean_images/ bouton_labels/ cell_masks/
                          [N, H, W] image arrays ([N, T, H, W] for time series)
      metadata/           zarr v3 group (no attributes) holding the [N, ...] metadata arrays:
        centerlines/ centerline_valid/ gap/ ... bouton_centers/ ...

Every array is described by an `ArraySpec` (name, per-example shape, dtype, role) derived
from the generator's output, so a generator with other outputs (e.g. ``[B, T, H, W]``
time series) is stored by the same code.

Format 2 (`FORMAT_VERSION`) ends every stored inner chunk, shard index and metadata chunk
with a crc32c checksum and stores every chunk (also those equal to the fill value), so damage
and missing chunk files are detected (`jaxaxon.data.integrity`); format 1 datasets still read.

Completion record: ``attributes["jaxaxon"]["progress"]["completed_chunks"] = k`` means that
chunks ``0 .. k-1`` (examples ``0 .. k * chunk_size - 1``) of *every* array are written and
durable; it is raised only after all writes of those chunks have committed, by atomically
replacing ``zarr.json`` (temporary file, fsync, ``os.replace``). Later chunks may hold partial
data from an interrupted run and are rewritten when the run is resumed.
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

__all__ = [
    "ATTRS_KEY",
    "ArraySpec",
    "DatasetError",
    "FORMAT",
    "FORMAT_VERSION",
    "READABLE_FORMAT_VERSIONS",
    "GROUP_FILE",
    "LOCK_FILE",
    "METADATA_GROUP",
    "build_attributes",
    "derive_specs",
    "differences",
    "intensity_dtype",
    "read_attributes",
    "set_progress",
    "specs_from_attributes",
    "write_group",
]

FORMAT = "jaxaxon-dataset"
FORMAT_VERSION = 2  # 2: crc32c checksum on every stored chunk, every chunk stored; 1: neither
READABLE_FORMAT_VERSIONS = (1, 2)
ATTRS_KEY = "jaxaxon"
GROUP_FILE = "zarr.json"
LOCK_FILE = ".jaxaxon.lock"
METADATA_GROUP = "metadata"

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
      name: array name inside the group (``images``, ``centerlines``, ...).
      source: generator output it comes from (``image``, ``centerlines``, ...).
      shape: per-example shape (the array is ``[N, *shape]``).
      dtype: stored NumPy dtype name (``uint8``, ``bool``, ``float32``, ...).
      role: ``intensity`` (grey values), ``mask`` (0/1), ``label`` (integer ids) or
        ``metadata`` (stored with the generator's own dtype).
      dims: per-example dimension names.
      description: one line for humans.
    """

    name: str
    source: str
    shape: tuple[int, ...]
    dtype: str
    role: str
    dims: tuple[str, ...]
    description: str = ""

    @property
    def is_image(self) -> bool:
        """True for the image-like arrays (``ds[i:j]`` returns these)."""
        return self.role != "metadata"

    @property
    def path(self) -> str:
        """The array's path inside the dataset group (metadata live in ``metadata/``)."""
        return self.name if self.is_image else f"{METADATA_GROUP}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "role": self.role,
            "dims": list(self.dims),
            "description": self.description,
        }

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
            )
        except (KeyError, TypeError, ValueError) as err:
            raise DatasetError(f"array {name!r}: invalid description {data!r} ({err})") from None
        if spec.role not in ROLES or len(spec.dims) != len(spec.shape) or min(spec.shape, default=0) < 0:
            raise DatasetError(f"array {name!r}: invalid description {data!r}")
        return spec


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


def derive_specs(outputs: Mapping[str, tuple[Sequence[int], Any]], config: GeneratorConfig) -> tuple[ArraySpec, ...]:
    """Array specs for a generator's outputs.

    Args:
      outputs: generator attribute -> (per-example shape, dtype), e.g. from `jax.eval_shape`
        of the generator with the leading batch axis removed.
      config: the generator's config (decides the grey-value and label dtypes).

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


def write_group(root: Path, attrs: Mapping[str, Any] | None) -> None:
    """Atomically (re)writes the group metadata ``root/zarr.json`` (`jaxaxon.atomic`: temporary
    file, fsync, ``os.replace``, fsync of the directory); ``attrs`` None writes a group without
    attributes. ``root`` must exist."""
    attributes = {} if attrs is None else {ATTRS_KEY: attrs}
    doc = {"zarr_format": 3, "node_type": "group", "attributes": attributes}
    with atomic_path(root / GROUP_FILE, mkdir=False) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n")


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
