"""What an input path holds, by kind, and what was left out: the ``found ...`` line of
``jaxaxon predict`` and ``jaxaxon evaluate`` and the ``inputs`` entry of their JSON records.

    samples, inventory = load_inputs("new_images/")
    inventory.describe()
    # "found 2 PNG, 1 volume (.npz, 3 slices): 5 images; skipped notes.txt (unsupported file type '.txt');
    #  supported inputs: .png, .tif, .tiff, .npy, .jpg, .jpeg, .npz"
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaxaxon.data.images import IMAGE_SUFFIXES, VOLUME_SUFFIX, Sample, iter_samples, scan_folder

__all__ = ["FILE_KINDS", "Inventory", "load_inputs", "take_inventory"]

FILE_KINDS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".npy": "NumPy", ".jpg": "JPEG", ".jpeg": "JPEG"}
"""File suffix -> the kind named in the ``found ...`` line."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclasses.dataclass(frozen=True)
class Inventory:
    """The inputs found, by kind.

    Attributes:
      files: ``(kind, count)`` of 2-D image files, kinds in `FILE_KINDS` order (``"PNG"``, ...).
      volumes: ``(file name, slices)`` of every ``.npz`` volume.
      datasets: ``(path, images)`` of every dataset written by ``jaxaxon generate``.
      skipped: entries that are not read, each ``"NAME (why)"``.
      labelled: images with an axon mask or bouton boxes.
    """

    files: tuple[tuple[str, int], ...] = ()
    volumes: tuple[tuple[str, int], ...] = ()
    datasets: tuple[tuple[str, int], ...] = ()
    skipped: tuple[str, ...] = ()
    labelled: int = 0

    @property
    def n_images(self) -> int:
        """2-D images in all (files, volume slices and dataset images)."""
        return sum(n for _, n in self.files + self.volumes + self.datasets)

    def describe(self) -> str:
        """One line: ``found 2 PNG, 1 volume (.npz, 3 slices): 5 images[; skipped ...]``."""
        parts = [f"{n} {kind}" for kind, n in self.files]
        if self.volumes:
            slices = sum(n for _, n in self.volumes)
            parts.append(f"{_plural(len(self.volumes), 'volume')} (.npz, {_plural(slices, 'slice')})")
        if self.datasets:
            images = sum(n for _, n in self.datasets)
            parts.append(f"{_plural(len(self.datasets), 'dataset')} (zarr, {_plural(images, 'image')})")
        line = f"found {', '.join(parts) or 'nothing'}: {_plural(self.n_images, 'image')}"
        if self.skipped:
            supported = ", ".join(dict.fromkeys((*IMAGE_SUFFIXES, VOLUME_SUFFIX)))
            line += f"; skipped {', '.join(self.skipped)}; supported inputs: {supported}"
        return line

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``files`` and ``volumes`` as name -> count, ``skipped`` as a list."""
        return {
            "n_images": self.n_images,
            "labelled": self.labelled,
            "files": dict(self.files),
            "volumes": dict(self.volumes),
            "datasets": dict(self.datasets),
            "skipped": list(self.skipped),
        }


def take_inventory(samples: Sequence[Sample], skipped: Sequence[str] = ()) -> Inventory:
    """Counts samples by the kind of their source: image files by suffix, volume slices by
    volume file, other sources (datasets) by path."""
    files: dict[str, int] = {}
    volumes: dict[str, int] = {}
    datasets: dict[str, int] = {}
    for s in samples:
        suffix = Path(s.source).suffix.lower()
        if s.volume is not None:
            volumes[Path(s.source).name] = volumes.get(Path(s.source).name, 0) + 1
        elif suffix in FILE_KINDS:
            files[FILE_KINDS[suffix]] = files.get(FILE_KINDS[suffix], 0) + 1
        else:
            datasets[s.source] = datasets.get(s.source, 0) + 1
    order = list(dict.fromkeys(FILE_KINDS.values()))
    return Inventory(
        files=tuple(sorted(files.items(), key=lambda kv: order.index(kv[0]))),
        volumes=tuple(volumes.items()),
        datasets=tuple(datasets.items()),
        skipped=tuple(skipped),
        labelled=sum(s.mask is not None or s.boxes is not None for s in samples),
    )


def load_inputs(path: str | os.PathLike) -> tuple[list[Sample], Inventory]:
    """The samples of `jaxaxon.data.images.iter_samples` with their `Inventory` (the folder is
    scanned once; its skipped entries are listed there instead of warned about)."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*skipped, not a volume", category=UserWarning)
        scan = scan_folder(path) if path.is_dir() else None
    samples = list(iter_samples(path, scan))
    return samples, take_inventory(samples, scan.skipped if scan is not None else ())
