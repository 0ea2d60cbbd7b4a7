"""OME-NGFF 0.5 metadata (OME-Zarr on zarr v3) as plain dicts: axes, multiscales, labels.

Pure construction and checking of the ``attributes["ome"]`` of zarr v3 groups; no I/O and
no tensorstore (the writers put these dicts into ``zarr.json``). One resolution level per
image (dataset path ``"0"`` unless given), a ``scale`` transformation per level.

    axes = image_axes(("n", "y", "x"), pixel_size=0.4)
    attrs = ome_attrs(multiscales_attrs("images", axes, axis_scale(axes, 0.4)))
    # {"ome": {"version": "0.5", "multiscales": [{"name": "images", "axes": [{"name": "n"},
    #   {"name": "y", "type": "space", "unit": "micrometer"}, ...],
    #   "datasets": [{"path": "0", "coordinateTransformations":
    #                 [{"type": "scale", "scale": [1.0, 0.4, 0.4]}]}]}]}}

Axis rules checked (`check_axes`, NGFF 0.5 "multiscales"): 2 to 5 axes with unique names;
2 or 3 ``space`` axes, last; at most one ``time`` axis, first; at most one ``channel`` axis,
before the space axes; at most one axis of another type or none (a custom axis such as the
example index ``n`` of a dataset).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

__all__ = [
    "NGFF_VERSION",
    "SPACE_UNIT",
    "Axis",
    "axis_scale",
    "check_axes",
    "image_axes",
    "label_attrs",
    "labels_group_attrs",
    "multiscales_attrs",
    "ome_attrs",
]

NGFF_VERSION = "0.5"
SPACE_UNIT = "micrometer"  # the unit of a known pixel size (micrometres per pixel)
KNOWN_TYPES = ("space", "time", "channel")

# dimension name -> axis type of the names `image_axes` knows; others become custom axes
DIM_TYPES = {"x": "space", "y": "space", "z": "space", "t": "time", "c": "channel"}


@dataclasses.dataclass(frozen=True)
class Axis:
    """One NGFF axis.

    Attributes:
      name: the axis name; equals the array's zarr ``dimension_names`` entry.
      type: ``"space"``, ``"time"``, ``"channel"``, another string (a custom axis) or None
        (type omitted: also a custom axis).
      unit: a unit name (``"micrometer"``, ``"second"``, ...) or None (omitted).
    """

    name: str
    type: str | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an axis name must be a non-empty string, got {self.name!r}")
        for field in ("type", "unit"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"axis {self.name!r}: {field} must be a non-empty string or None, got {value!r}")

    @property
    def is_custom(self) -> bool:
        """True for an axis that is not space, time or channel."""
        return self.type not in KNOWN_TYPES

    def to_json(self) -> dict[str, str]:
        """``{"name": ..., "type": ..., "unit": ...}`` without the omitted entries."""
        out = {"name": self.name}
        if self.type is not None:
            out["type"] = self.type
        if self.unit is not None:
            out["unit"] = self.unit
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Axis":
        """The axis of an NGFF axis dict."""
        if not isinstance(data, Mapping) or "name" not in data:
            raise ValueError(f"an NGFF axis must be an object with a name, got {data!r}")
        return cls(str(data["name"]), data.get("type"), data.get("unit"))


def check_axes(axes: Sequence[Axis]) -> tuple[Axis, ...]:
    """Checks the NGFF 0.5 axis rules (module docstring); returns the axes as a tuple.

    Raises:
      ValueError: the first broken rule, in one line.
    """
    axes = tuple(axes)
    if not all(isinstance(a, Axis) for a in axes):
        raise ValueError(f"axes must be Axis objects, got {axes!r}")
    names = [a.name for a in axes]
    types = [a.type for a in axes]
    if not 2 <= len(axes) <= 5:
        raise ValueError(f"NGFF images have 2 to 5 axes, got {len(axes)}: {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"axis names must be unique, got {names}")
    n_space = types.count("space")
    if n_space not in (2, 3) or any(t != "space" for t in types[-n_space:]):
        raise ValueError(f"NGFF needs 2 or 3 space axes, last; got types {types} for axes {names}")
    if types.count("time") > 1 or ("time" in types and types[0] != "time"):
        raise ValueError(f"NGFF allows one time axis, first; got types {types} for axes {names}")
    if types.count("channel") > 1:
        raise ValueError(f"NGFF allows one channel axis; got types {types} for axes {names}")
    custom = [a.name for a in axes if a.is_custom]
    if len(custom) > 1:
        raise ValueError(f"NGFF allows one axis that is not space, time or channel; got {custom}")
    return axes


def image_axes(dims: Sequence[str], pixel_size: float | None = None, time_unit: str | None = None) -> tuple[Axis, ...]:
    """Axes for arrays whose zarr dimension names are ``dims``.

    ``x``, ``y``, ``z`` become space axes (unit ``micrometer`` when ``pixel_size`` is known,
    i.e. positive), ``t`` a time axis (unit ``time_unit``), ``c`` a channel axis, any other
    name a custom axis with its type omitted (e.g. ``n``, the example index of a dataset).

    Raises:
      ValueError: the axes break an NGFF rule (`check_axes`).
    """
    unit = SPACE_UNIT if pixel_size else None
    units = {"space": unit, "time": time_unit, "channel": None}
    out = []
    for name in dims:
        kind = DIM_TYPES.get(name)
        out.append(Axis(name, kind, units.get(kind) if kind else None))
    return check_axes(out)


def axis_scale(axes: Sequence[Axis], pixel_size: float | None = None, time_step: float | None = None) -> tuple[float, ...]:
    """The ``scale`` vector: ``pixel_size`` on space axes when known (positive), ``time_step``
    on the time axis when given, 1 elsewhere."""
    out = []
    for a in axes:
        value = pixel_size if a.type == "space" else time_step if a.type == "time" else None
        out.append(float(value) if value else 1.0)
    return tuple(out)


def _check_scale(axes: Sequence[Axis], scale: Sequence[float]) -> list[float]:
    scale = [float(s) for s in scale]
    if len(scale) != len(axes):
        raise ValueError(f"scale has {len(scale)} entries for {len(axes)} axes")
    if not all(math.isfinite(s) and s > 0 for s in scale):
        raise ValueError(f"scale entries must be positive and finite, got {scale}")
    return scale


def multiscales_attrs(
    name: str,
    axes: Sequence[Axis],
    scale: Sequence[float],
    path: str = "0",
    translation: Sequence[float] | None = None,
) -> dict[str, Any]:
    """``{"multiscales": [...]}``: one multiscale image of one resolution level.

    Args:
      name: the image's name.
      axes: its axes (checked with `check_axes`); their names must equal the array's
        zarr ``dimension_names``.
      scale: physical size of one array step along each axis (``[1, 0.4, 0.4]``).
      path: the level's array, relative to the image group.
      translation: optional physical offset of the first element along each axis.

    Raises:
      ValueError: broken axis rules, a scale or translation of the wrong length, a scale
        entry that is not positive and finite.
    """
    axes = check_axes(axes)
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": _check_scale(axes, scale)}]
    if translation is not None:
        offset = [float(t) for t in translation]
        if len(offset) != len(axes) or not all(math.isfinite(t) for t in offset):
            raise ValueError(f"translation must have {len(axes)} finite entries, got {list(translation)}")
        transforms.append({"type": "translation", "translation": offset})
    if not isinstance(path, str) or not path:
        raise ValueError(f"the dataset path must be a non-empty string, got {path!r}")
    return {
        "multiscales": [
            {
                "name": str(name),
                "axes": [a.to_json() for a in axes],
                "datasets": [{"path": path, "coordinateTransformations": transforms}],
            }
        ]
    }


def labels_group_attrs(names: Sequence[str]) -> dict[str, Any]:
    """``{"labels": [...]}``: the attributes of an image's ``labels`` group listing its label images.

    Raises:
      ValueError: no names, duplicate or empty names, or names containing ``/``.
    """
    names = [str(n) for n in names]
    if not names or len(set(names)) != len(names) or any(not n or "/" in n for n in names):
        raise ValueError(f"label names must be unique, non-empty and without '/', got {names}")
    return {"labels": names}


def label_attrs(
    name: str,
    axes: Sequence[Axis],
    scale: Sequence[float],
    *,
    path: str = "0",
    source: str = "../../",
    colors: Mapping[int, Sequence[int]] | None = None,
    properties: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``{"image-label": {...}, "multiscales": [...]}``: the attributes of one label image.

    Args:
      name: the label image's name (its group's name under ``labels/``).
      axes, scale, path: as for `multiscales_attrs` (the image's axes and scale).
      source: path from the label group to its image group (``labels/NAME`` -> ``../../``).
      colors: label value -> RGBA (4 integers 0..255), for viewers.
      properties: label value -> extra properties (``{"name": "axon"}``); when both are
        given, they must name the same label values.

    Raises:
      ValueError: as `multiscales_attrs`; colours that are not 4 integers 0..255, colours and
        properties for different label values.
    """
    label: dict[str, Any] = {}
    if colors is not None:
        entries = []
        for value, rgba in colors.items():
            rgba = [int(c) for c in rgba]
            if len(rgba) != 4 or not all(0 <= c <= 255 for c in rgba):
                raise ValueError(f"label {value}: a colour is 4 integers 0..255 (RGBA), got {list(rgba)}")
            entries.append({"label-value": int(value), "rgba": rgba})
        label["colors"] = entries
    if properties is not None:
        if colors is not None and set(map(int, colors)) != set(map(int, properties)):
            raise ValueError(
                f"colors and properties must describe the same label values, got {sorted(colors)} and {sorted(properties)}"
            )
        label["properties"] = [{"label-value": int(v), **dict(p)} for v, p in properties.items()]
    label["source"] = {"image": source}
    return {"image-label": label, **multiscales_attrs(name, axes, scale, path)}


def ome_attrs(*parts: Mapping[str, Any]) -> dict[str, Any]:
    """``{"ome": {"version": "0.5", **part1, **part2, ...}}``: the ``ome`` attributes of a group.

    Raises:
      ValueError: two parts with the same key.
    """
    out: dict[str, Any] = {"version": NGFF_VERSION}
    for part in parts:
        clash = sorted(set(part) & set(out))
        if clash:
            raise ValueError(f"the ome attributes {clash} are given twice")
        out.update(part)
    return {"ome": out}
