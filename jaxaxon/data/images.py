"""Reading real (or any other) images: single 2-D images, labelled folders and volume files.

The labelled folder format (``docs/datasets.md``)::

    DIR/images/NAME.(png|tif|tiff|npy|jpg|jpeg)   2-D grayscale images, any size and dtype
    DIR/masks/NAME.(png|tif|tiff|npy)             optional: same names and sizes, nonzero = axon
    DIR/NAME.npz                                  optional volumes: ``image`` (and ``mask``) [Z, Y, X],
                                                  evaluated slice by slice
    DIR/bouton_boxes.json                         optional: {"NAME": [[row0, col0, row1, col1], ...]},
                                                  0-based, half-open

Every reader returns `Sample` objects: a name, the image as float32 ``[H, W]`` holding the
file's values unchanged (no rescaling: normalisation belongs to the model or the baseline that
consumes the image), and, where labelled, a bool mask ``[H, W]`` and int64 boxes ``[K, 4]``.

Decisions (a demanding user should not be surprised by any of them):

- Images of any integer or floating dtype are accepted; ``bool``, complex, object and string
  arrays are refused (a bool "image" is almost always a mask put in the wrong folder).
  Non-finite values (NaN, inf) are refused.
- Colour files are accepted only when they carry one grayscale image: all colour channels equal
  (grey saved as RGB) or exactly one channel non-zero (a single-colour lookup table, e.g. green
  two-photon exports). Anything else is refused: a luminance conversion would silently mix
  channels with unrelated weights. A constant alpha channel is dropped, a varying one refused.
- Singleton axes are squeezed (``[1, H, W]``, ``[H, W, 1]``); 3-D stacks in ``images/`` are
  refused with a pointer to the ``NAME.npz`` volume format.
- JPEG images are accepted (with their compression artefacts), JPEG masks are not: compression
  turns background pixels of a mask into small nonzero values.
- If ``masks/`` exists, every image in ``images/`` needs a mask and every mask an image; a
  partly labelled folder would make the mean Dice silently cover a subset.
- ``bouton_boxes.json``: an image listed with ``[]`` is labelled and has no boutons; an image
  not listed has ``boxes = None`` (not labelled for boutons); a name that matches no image is an
  error (typos would otherwise drop labels). Box coordinates must be integers (integral floats
  are accepted), with ``0 <= row0 < row1 <= H`` and ``0 <= col0 < col1 <= W``.
- Volume slices are named ``STEM_zNNN`` (``NNN`` zero-padded to at least 3 digits). Names must
  be unique across the folder, checked before any pixel is read: ``images/vol_z000.png`` next to
  a ``vol.npz`` of 3 slices is an error, not a silent overwrite of one prediction by another.
  Volumes without a ``mask`` array are accepted (unlabelled).
- Every entry of a folder is accounted for (`FolderScan.skipped`): in its root, image files and
  ``.npz`` volumes are read together (a folder with ``a.png``, ``b.png`` and ``vol.npz`` gives 2 +
  the volume's slices); files of other types (``notes.txt``, ``b.bmp``), ``.npz`` files without an
  ``image`` array and sub-folders other than ``images/`` and ``masks/`` are skipped and listed with
  the reason. Inside ``images/`` and ``masks/`` an unsupported file is an error. Image files in the
  root next to an ``images/`` folder are an error (which of them are the data?).
- Pixel values are converted to float32 unchanged, except that an image whose largest magnitude
  lies outside ``2**-40 .. 2**40`` is multiplied by a power of two first (`to_float32`; exact, and
  every normalisation is invariant to it): a float64 file holding values near 1e300 would
  otherwise become infinite, and the 1-D statistics of normalisation overflow far below float32's
  limit. `Sample.exponent` records the power.
- NumPy files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGE_SUFFIXES",
    "MASK_SUFFIXES",
    "ImageDataError",
    "Sample",
    "iter_samples",
    "load_samples",
    "read_array",
    "read_boxes",
    "read_image",
    "read_mask",
    "read_pixel_size",
    "read_volume",
    "FolderScan",
    "scan_folder",
    "slice_names",
    "to_float32",
    "validate_boxes",
]

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".npy", ".jpg", ".jpeg")
MASK_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
VOLUME_SUFFIX = ".npz"
BOXES_FILE = "bouton_boxes.json"


class ImageDataError(ValueError):
    """Raised for unreadable, unsupported or inconsistent image data; the message names the file."""


@dataclasses.dataclass(frozen=True, eq=False)
class Sample:
    """One 2-D image with its optional labels.

    Attributes:
      name: unique name (file stem, or ``STEM_zNNN`` for a volume slice).
      image: ``[H, W]`` float32, the file's values unchanged.
      mask: ``[H, W]`` bool axon mask, or None when not labelled.
      boxes: ``[K, 4]`` int64 bouton boxes (row0, col0, row1, col1; 0-based, half-open), or None
        when not labelled for boutons (``K = 0`` means labelled, no boutons).
      source: the file it came from.
      dtype: the dtype stored in the file (e.g. ``"uint8"``), to tell the value range.
      volume: the volume's stem for a volume slice, else None.
      z: the slice index for a volume slice, else None.
      exponent: ``image`` holds the file's values times ``2**exponent`` (0 unless their magnitude
        lies outside the range `to_float32` keeps unchanged).
    """

    name: str
    image: np.ndarray
    mask: np.ndarray | None = None
    boxes: np.ndarray | None = None
    source: str = ""
    dtype: str = "float32"
    volume: str | None = None
    z: int | None = None
    exponent: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return tuple(self.image.shape)  # type: ignore[return-value]


# --------------------------------------------------------------------------- single arrays


def _check_dtype(arr: np.ndarray, where: str, *, allow_bool: bool) -> None:
    kind = arr.dtype.kind
    if kind == "b" and not allow_bool:
        raise ImageDataError(f"{where}: dtype bool is not an image (is it a mask in the wrong folder?)")
    if kind not in ("b", "u", "i", "f"):
        raise ImageDataError(
            f"{where}: unsupported dtype {arr.dtype} (images must be integer or floating point"
            + (", masks may also be bool)" if allow_bool else ")")
        )
    if kind == "f" and not np.all(np.isfinite(arr)):
        raise ImageDataError(f"{where}: contains NaN or infinite values")


def _to_2d(arr: np.ndarray, where: str) -> np.ndarray:
    """Squeezes singleton axes and reduces single-image colour arrays to 2-D (see the module notes)."""
    if arr.ndim > 2:
        squeezed = np.squeeze(arr)
        if squeezed.ndim >= 2:
            arr = squeezed
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[-1] in (2, 3, 4):
        channels = arr.shape[-1]
        if channels in (2, 4):  # gray+alpha or RGBA
            alpha = arr[..., -1]
            if alpha.min() != alpha.max():
                raise ImageDataError(f"{where}: has a varying alpha channel; save a 2-D grayscale image instead")
            arr = arr[..., :-1]
        if arr.shape[-1] == 1:
            return arr[..., 0]
        first = arr[..., 0]
        if all(np.array_equal(first, arr[..., c]) for c in range(1, arr.shape[-1])):
            return first
        nonzero = [c for c in range(arr.shape[-1]) if np.any(arr[..., c])]
        if len(nonzero) == 1:
            return arr[..., nonzero[0]]
        raise ImageDataError(
            f"{where}: is a colour image of shape {tuple(arr.shape)} whose channels differ; "
            "jaxaxon reads 2-D grayscale images only -- save the fluorescence channel as a grayscale file"
        )
    if arr.ndim == 3:
        raise ImageDataError(
            f"{where}: is a 3-D stack of shape {tuple(arr.shape)}; images must be 2-D -- save volumes as "
            "NAME.npz with arrays 'image' (and 'mask') [Z, Y, X], which are evaluated slice by slice"
        )
    raise ImageDataError(f"{where}: has shape {tuple(arr.shape)}; expected a 2-D image [H, W]")


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            if getattr(im, "n_frames", 1) > 1:
                raise ImageDataError(f"{path}: has {im.n_frames} frames; images must be 2-D")
            return np.array(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ImageDataError(f"{path}: cannot be read as an image ({err})") from None


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            arr = np.asarray(series.asarray())
            axes = series.axes
        if "S" in axes and arr.ndim == len(axes):  # colour samples (possibly planar) go last
            arr = np.moveaxis(arr, axes.index("S"), -1)
        return arr
    except Exception as err:  # noqa: BLE001 -- tifffile raises many types (TiffFileError, ValueError, ...)
        raise ImageDataError(f"{path}: cannot be read as a TIFF ({type(err).__name__}: {err})") from None


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:  # object arrays need pickle
        raise ImageDataError(f"{path}: cannot be read as a NumPy array without pickle ({err})") from None
    except OSError as err:
        raise ImageDataError(f"{path}: cannot be read as a NumPy .npy file ({err})") from None


def read_array(path: str | os.PathLike, *, allow_bool: bool = False) -> np.ndarray:
    """Reads one 2-D image file in its stored dtype.

    Args:
      path: a ``.png``, ``.tif``/``.tiff``, ``.npy`` or ``.jpg``/``.jpeg`` file.
      allow_bool: accept bool arrays (for masks).

    Returns:
      ``[H, W]`` array in the file's dtype.

    Raises:
      ImageDataError: unsupported suffix, unreadable file, unsupported dtype, non-finite values,
        colour data that is not a single grayscale image, or not 2-D.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImageDataError(f"{path}: no such file")
    if suffix in (".tif", ".tiff"):
        arr = _read_tiff(path)
    elif suffix == ".npy":
        arr = _read_npy(path)
    elif suffix in (".png", ".jpg", ".jpeg"):
        arr = _read_pillow(path)
    else:
        raise ImageDataError(f"{path}: unsupported file type {suffix!r} (supported: {', '.join(IMAGE_SUFFIXES)})")
    _check_dtype(arr, str(path), allow_bool=allow_bool)
    arr = _to_2d(arr, str(path))
    if arr.size == 0:
        raise ImageDataError(f"{path}: is empty (shape {tuple(arr.shape)})")
    return arr


SAFE_EXPONENT = 40
"""Images whose largest magnitude lies in ``2**-SAFE_EXPONENT .. 2**SAFE_EXPONENT`` are converted
to float32 unchanged; the sums of squares of normalisation stay finite in float32 up to
``2**128 / 2**(2 * SAFE_EXPONENT)`` (2**48) pixels."""


def to_float32(arr: np.ndarray, where: str = "image") -> tuple[np.ndarray, int]:
    """An image of any real dtype as float32, scaled by a power of two where needed.

    Args:
      arr: ``[..., H, W]`` array of integer or floating dtype, finite.
      where: names the array in error messages.

    Returns:
      ``(image, exponent)``: float32 ``image == arr * 2**exponent`` (to float32 rounding) with
      ``exponent`` 0 when the largest magnitude lies in ``2**-40 .. 2**40`` (or is 0), else chosen
      so that it lies in ``0.5 .. 1``. Scaling by a power of two is exact, and the percentile
      and z-score normalisations are invariant to it.

    Raises:
      ImageDataError: non-numeric dtype or non-finite values.
    """
    arr = np.asarray(arr)
    if arr.dtype.kind not in ("b", "u", "i", "f"):
        raise ImageDataError(f"{where}: unsupported dtype {arr.dtype} (images must be integer or floating point)")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ImageDataError(f"{where}: contains NaN or infinite values")
    peak = float(np.max(np.abs(arr))) if arr.size and arr.dtype.kind != "b" else 0.0
    if peak == 0.0 or 2.0**-SAFE_EXPONENT <= peak <= 2.0**SAFE_EXPONENT:
        return arr.astype(np.float32), 0
    exponent = -int(np.frexp(peak)[1])
    return np.ldexp(arr.astype(np.float64), exponent).astype(np.float32), exponent


# micrometres per unit, for the unit spellings of OME-XML (UnitsLength) and ImageJ
_UM_PER_UNIT = {
    "m": 1e6, "meter": 1e6, "metre": 1e6, "cm": 1e4, "centimeter": 1e4, "mm": 1e3, "millimeter": 1e3,
    "um": 1.0, "\u00b5m": 1.0, "\u03bcm": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0,
    "\\u00b5m": 1.0, "nm": 1e-3, "nanometer": 1e-3, "pm": 1e-6, "\u00e5": 1e-4, "angstrom": 1e-4,
}  # fmt: skip


def _micrometres(value: float, unit: str) -> float | None:
    factor = _UM_PER_UNIT.get(unit.strip().lower())
    if factor is None or not math.isfinite(value) or value <= 0:
        return None
    return value * factor


def _ome_pixel_size(xml: str) -> float | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Pixels" and "PhysicalSizeX" in element.attrib:
            try:
                value = float(element.attrib["PhysicalSizeX"])
            except ValueError:
                return None
            return _micrometres(value, element.attrib.get("PhysicalSizeXUnit", "\u00b5m"))
    return None


def _imagej_pixel_size(tif) -> float | None:
    unit = (tif.imagej_metadata or {}).get("unit")
    tag = tif.pages[0].tags.get("XResolution")
    if not isinstance(unit, str) or tag is None:
        return None
    num, den = tag.value
    if not num or not den:
        return None
    return _micrometres(den / num, unit)


def read_pixel_size(path: str | os.PathLike) -> float | None:
    """The pixel size (um per pixel, along x) stored in a TIFF file's metadata, else None.

    Read from OME-XML (``Pixels/@PhysicalSizeX`` with ``PhysicalSizeXUnit``, default um), else
    from ImageJ metadata (``unit`` with the ``XResolution`` tag, pixels per unit). Plain TIFF
    resolution tags without ImageJ's unit are ignored: they usually hold a print resolution
    (72 dpi), not the microscope's. Other file types, unreadable files and unknown units give None.
    """
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff") or not path.is_file():
        return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome and tif.ome_metadata:
                size = _ome_pixel_size(tif.ome_metadata)
                if size is not None:
                    return size
            if tif.is_imagej:
                return _imagej_pixel_size(tif)
    except Exception:  # noqa: BLE001 -- tifffile raises many types; unreadable metadata is absent metadata
        return None
    return None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads a 2-D grayscale image as float32 ``[H, W]`` with its values unchanged (see `to_float32`
    for values beyond ``2**40``)."""
    return to_float32(read_array(path), str(path))[0]


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Reads a 2-D mask as bool ``[H, W]`` (nonzero = foreground); JPEG is refused."""
    path = Path(path)
    if path.suffix.lower() not in MASK_SUFFIXES:
        raise ImageDataError(
            f"{path}: unsupported mask file type {path.suffix!r} (supported: {', '.join(MASK_SUFFIXES)}; "
            "JPEG compression corrupts masks)"
        )
    return read_array(path, allow_bool=True) != 0


# --------------------------------------------------------------------------- boxes


def read_boxes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads ``bouton_boxes.json``: ``{"NAME": [[row0, col0, row1, col1], ...]}``.

    Checks the structure and that every box has ``row1 > row0`` and ``col1 > col0``; bounds
    against the image size are checked by `validate_boxes` once the image is read.

    Returns:
      name -> ``[K, 4]`` int64 array.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ImageDataError(f"{path}: malformed JSON ({err})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ImageDataError(f"{path}: cannot be read ({err})") from None
    if not isinstance(raw, dict):
        raise ImageDataError(f'{path}: expected an object {{"NAME": [[row0, col0, row1, col1], ...]}}')
    out: dict[str, np.ndarray] = {}
    for name, boxes in raw.items():
        where = f"{path}: {name!r}"
        if not isinstance(boxes, list):
            raise ImageDataError(f"{where}: expected a list of [row0, col0, row1, col1] boxes")
        arr = np.zeros((len(boxes), 4), np.int64)
        for k, box in enumerate(boxes):
            if not (isinstance(box, list) and len(box) == 4):
                raise ImageDataError(f"{where} box {k}: expected [row0, col0, row1, col1], got {box!r}")
            for j, v in enumerate(box):
                if (
                    isinstance(v, bool)
                    or not isinstance(v, (int, float))
                    or (isinstance(v, float) and not v.is_integer())
                ):
                    raise ImageDataError(f"{where} box {k}: coordinates must be integers, got {box!r}")
                arr[k, j] = int(v)
        out[name] = arr
        _check_box_order(arr, where)
    return out


def _check_box_order(boxes: np.ndarray, where: str) -> None:
    bad = np.flatnonzero((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
    if bad.size:
        k = int(bad[0])
        raise ImageDataError(
            f"{where} box {k} {boxes[k].tolist()}: needs row1 > row0 and col1 > col0 (0-based, half-open)"
        )


def validate_boxes(boxes: np.ndarray, shape: tuple[int, int], where: str = "boxes") -> np.ndarray:
    """Checks ``[K, 4]`` boxes against an image of ``shape``; returns them as int64.

    Raises:
      ImageDataError: wrong shape, empty box, or a box outside ``[0, H) x [0, W)``.
    """
    boxes = np.asarray(boxes)
    if boxes.size == 0:
        return np.zeros((0, 4), np.int64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ImageDataError(f"{where}: expected [K, 4] boxes, got shape {tuple(boxes.shape)}")
    boxes = boxes.astype(np.int64)
    _check_box_order(boxes, where)
    h, w = shape
    bad = np.flatnonzero((boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > h) | (boxes[:, 3] > w))
    if bad.size:
        k = int(bad[0])
        raise ImageDataError(
            f"{where} box {k} {boxes[k].tolist()}: lies outside the {h}x{w} image "
            "(boxes are [row0, col0, row1, col1], 0-based, half-open)"
        )
    return boxes


# --------------------------------------------------------------------------- volumes


def slice_names(stem: str, depth: int) -> list[str]:
    """The names of a volume's slices: ``STEM_zNNN``, zero-padded to at least 3 digits."""
    digits = max(3, len(str(depth - 1)))
    return [f"{stem}_z{z:0{digits}d}" for z in range(depth)]


def read_volume(path: str | os.PathLike, boxes: dict[str, np.ndarray] | None = None) -> list[Sample]:
    """Reads ``NAME.npz`` (``image`` and optional ``mask``, ``[Z, Y, X]`` or ``[Y, X]``) as 2-D slices.

    Args:
      path: the ``.npz`` file.
      boxes: optional name -> boxes mapping (keys ``STEM_zNNN``); entries are used if present.

    Returns:
      One `Sample` per slice, named ``STEM_zNNN``.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if "image" not in keys:
                raise ImageDataError(f"{path}: has no 'image' array (arrays: {sorted(keys)})")
            image = data["image"]
            mask = data["mask"] if "mask" in keys else None
    except ImageDataError:
        raise
    except (ValueError, OSError, EOFError) as err:
        raise ImageDataError(f"{path}: cannot be read as a NumPy .npz volume ({err})") from None
    _check_dtype(image, f"{path}['image']", allow_bool=False)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or image.size == 0:
        raise ImageDataError(f"{path}['image']: expected [Z, Y, X] (or [Y, X]), got shape {tuple(image.shape)}")
    if mask is not None:
        _check_dtype(mask, f"{path}['mask']", allow_bool=True)
        if mask.ndim == 2:
            mask = mask[None]
        if mask.shape != image.shape:
            raise ImageDataError(
                f"{path}: 'mask' has shape {tuple(mask.shape)} but 'image' has {tuple(image.shape)}; they must match"
            )
    samples = []
    for z, name in enumerate(slice_names(path.stem, image.shape[0])):
        b = None
        if boxes is not None and name in boxes:
            b = validate_boxes(boxes[name], image.shape[1:], f"{BOXES_FILE}: {name!r}")
        pixels, exponent = to_float32(image[z], f"{path}['image'][{z}]")
        samples.append(
            Sample(
                name=name,
                image=pixels,
                mask=None if mask is None else mask[z] != 0,
                boxes=b,
                source=str(path),
                dtype=str(image.dtype),
                volume=path.stem,
                z=z,
                exponent=exponent,
            )
        )
    return samples


# --------------------------------------------------------------------------- folders


@dataclasses.dataclass(frozen=True)
class FolderScan:
    """What a folder holds, found without reading pixels (see `scan_folder`).

    Attributes:
      images: name -> image file (``images/`` or, without it, the folder itself).
      masks: name -> mask file.
      volumes: ``.npz`` volume files (those holding an ``image`` array).
      boxes: parsed ``bouton_boxes.json`` or None.
      depths: volume file -> number of slices (read from the array header).
      skipped: entries of the folder that are not read, each ``"NAME (why)"``: files of
        unsupported types, ``.npz`` files without an ``image`` array, sub-folders other than
        ``images/`` and ``masks/``.
    """

    images: dict[str, Path]
    masks: dict[str, Path]
    volumes: list[Path]
    boxes: dict[str, np.ndarray] | None
    depths: dict[Path, int] = dataclasses.field(default_factory=dict)
    skipped: tuple[str, ...] = ()


def _stems(files: list[Path], suffixes: tuple[str, ...], kind: str, folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in files:
        if f.suffix.lower() not in suffixes:
            raise ImageDataError(
                f"{f}: unsupported {kind} file type {f.suffix or '(none)'!r} (supported: {', '.join(suffixes)})"
            )
        if f.stem in out:
            raise ImageDataError(f"{folder}: two {kind} files named {f.stem!r} ({out[f.stem].name}, {f.name})")
        out[f.stem] = f
    return out


def _listing(folder: Path) -> list[Path]:
    """The visible files of a folder, sorted by name."""
    return [f for f in sorted(folder.iterdir()) if not f.name.startswith(".") and not f.is_dir()]


def _volume_depth(path: Path) -> int | None:
    """The number of slices of a ``.npz`` volume, from its ``image`` array's header (no pixels are
    read); None for an ``.npz`` without an ``image`` array (skipped with a warning)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            keys = [n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy")]
            if "image" not in keys:
                warnings.warn(
                    f"{path}: skipped, not a volume (no 'image' array; arrays: {', '.join(keys)})",
                    UserWarning,
                    stacklevel=4,
                )
                return None
            with archive.open("image.npy") as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape = read(f)[0]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise ImageDataError(f"{path}: cannot be read as a NumPy .npz volume ({err})") from None
    return int(shape[0]) if len(shape) == 3 else 1


def _check_unique_names(root: Path, images: dict[str, Path], depths: dict[Path, int]) -> None:
    """Refuses two images (files or volume slices) of one name: their outputs would share a file."""
    owner = {name: str(f.relative_to(root)) for name, f in images.items()}
    for v, depth in depths.items():
        if v.stem in images:
            raise ImageDataError(f"{root}: {v.name} and {owner[v.stem]} share the name {v.stem!r}")
        for z, name in enumerate(slice_names(v.stem, depth)):
            if name in owner:
                raise ImageDataError(
                    f"{root}: {owner[name]} and slice {z} of {v.name} are both named {name!r} (their outputs "
                    "would share a file); rename one"
                )
            owner[name] = f"slice {z} of {v.name}"


def scan_folder(path: str | os.PathLike) -> FolderScan:
    """Lists a labelled folder (or a plain folder of images) and checks its consistency.

    The images are those of ``images/`` or, without it, the image files in the folder itself;
    ``.npz`` volumes in the folder are read besides them. Names (file stems and slice names)
    must be unique. Entries that are not read are listed in `FolderScan.skipped`.

    Raises:
      ImageDataError: not a folder, nothing to read, masks without images or images without masks,
        unsupported files in ``images/`` or ``masks/``, image files both in ``images/`` and in the
        folder, duplicate names, boxes for unknown names, malformed ``bouton_boxes.json``.
    """
    root = Path(path)
    if not root.is_dir():
        raise ImageDataError(f"{root}: not a folder")
    images_dir, masks_dir = root / "images", root / "masks"
    volumes: list[Path] = []
    depths: dict[Path, int] = {}
    loose: list[Path] = []
    skipped: list[str] = []
    for f in sorted(root.iterdir()):
        suffix = f.suffix.lower()
        if f.name.startswith(".") or (f in (images_dir, masks_dir) and f.is_dir()):
            continue
        if f.is_dir():
            skipped.append(f"{f.name}/ (a sub-folder; only images/ and masks/ are read)")
        elif f.name == BOXES_FILE:
            continue
        elif suffix == VOLUME_SUFFIX:
            depth = _volume_depth(f)
            if depth is None:
                skipped.append(f"{f.name} (no 'image' array)")
            else:
                volumes.append(f)
                depths[f] = depth
        elif suffix in IMAGE_SUFFIXES:
            loose.append(f)
        else:
            skipped.append(f"{f.name} (unsupported file type {suffix or '(none)'!r})")
    if images_dir.is_dir():
        if loose:
            raise ImageDataError(
                f"{root}: holds images/ and also image files beside it ({', '.join(f.name for f in loose)}); "
                "put every image in images/"
            )
        images, where = _stems(_listing(images_dir), IMAGE_SUFFIXES, "image", images_dir), images_dir
    else:
        images, where = _stems(loose, IMAGE_SUFFIXES, "image", root), root
    masks: dict[str, Path] = {}
    if masks_dir.is_dir():
        masks = _stems(_listing(masks_dir), MASK_SUFFIXES, "mask", masks_dir)
        orphans = sorted(set(masks) - set(images))
        if orphans:
            raise ImageDataError(f"{masks_dir}: masks without an image in {where}: {', '.join(orphans)}")
        unmasked = sorted(set(images) - set(masks))
        if unmasked:
            raise ImageDataError(
                f"{masks_dir}: no mask for images {', '.join(unmasked)} "
                "(give every image a mask, or remove masks/ for an unlabelled set)"
            )
    if not images and not volumes:
        raise ImageDataError(
            f"{root}: no images found (expected images/NAME.(png|tif|tiff|npy|jpg), NAME.npz volumes, "
            "or image files directly in the folder)" + (f"; skipped: {', '.join(skipped)}" if skipped else "")
        )
    _check_unique_names(root, images, depths)
    boxes = None
    if (root / BOXES_FILE).is_file():
        boxes = read_boxes(root / BOXES_FILE)
        names = set(images).union(*(slice_names(v.stem, d) for v, d in depths.items()))
        unknown = sorted(k for k in boxes if k not in names)
        if unknown:
            raise ImageDataError(f"{root / BOXES_FILE}: boxes for names that match no image: {', '.join(unknown)}")
    return FolderScan(images=images, masks=masks, volumes=volumes, boxes=boxes, depths=depths, skipped=tuple(skipped))


def iter_samples(path: str | os.PathLike, scan: FolderScan | None = None) -> Iterator[Sample]:
    """Yields the samples of a labelled folder, a plain image folder, a volume file or an image file.

    The folder is scanned and checked (`scan_folder`) before the first sample is yielded, so
    structural errors come before any work; pixel-level errors (sizes, dtypes, box bounds) are
    raised when the offending sample is read. Order: the images sorted by name, then volumes
    sorted by name, slices in z order.

    Args:
      path: folder, ``NAME.npz`` volume, or a single image file.
      scan: the folder's `scan_folder` result, if already made.

    Yields:
      `Sample` objects.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == VOLUME_SUFFIX:
            yield from read_volume(path)
        else:
            arr = read_array(path)
            pixels, exponent = to_float32(arr, str(path))
            yield Sample(name=path.stem, image=pixels, source=str(path), dtype=str(arr.dtype), exponent=exponent)
        return
    if not path.exists():
        raise ImageDataError(f"{path}: no such file or folder")
    scan = scan_folder(path) if scan is None else scan
    boxes = scan.boxes or {}
    for name, f in scan.images.items():
        arr = read_array(f)
        mask = None
        if name in scan.masks:
            mask = read_mask(scan.masks[name])
            if mask.shape != arr.shape:
                raise ImageDataError(
                    f"{scan.masks[name]}: mask is {mask.shape[0]}x{mask.shape[1]} but its image {f} is "
                    f"{arr.shape[0]}x{arr.shape[1]}; they must have the same size"
                )
        b = validate_boxes(boxes[name], arr.shape, f"{BOXES_FILE}: {name!r}") if name in boxes else None
        pixels, exponent = to_float32(arr, str(f))
        yield Sample(
            name=name, image=pixels, mask=mask, boxes=b, source=str(f), dtype=str(arr.dtype), exponent=exponent
        )
    for v in scan.volumes:
        yield from read_volume(v, boxes)


def load_samples(path: str | os.PathLike) -> list[Sample]:
    """All samples of `iter_samples` as a list (checks everything before returning)."""
    return list(iter_samples(path))
