"""Where a dataset may be written: path checks, the single-writer lock, replacing a dataset,
and comparing a request with the dataset already there. Nothing here deletes or creates
anything that is not a jaxaxon dataset."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from jaxaxon.data.integrity import chunk_file
from jaxaxon.data.layout import (
    GROUP_FILE,
    LOCK_FILE,
    METADATA_GROUP,
    ArraySpec,
    DatasetError,
    differences,
    read_attributes,
)

__all__ = [
    "WriteLock",
    "clear",
    "existing_attributes",
    "make_dir",
    "precheck_path",
    "refuse_differences",
    "remove_chunks",
    "stored_chunks",
    "written_by_jaxaxon",
]


def written_by_jaxaxon(root: Path, entries: set[str]) -> bool:
    """A directory jaxaxon wrote: it holds the lock file (unfinished) or the dataset's arrays."""
    return LOCK_FILE in entries or ((root / "images" / "zarr.json").is_file() and (root / METADATA_GROUP).is_dir())


def precheck_path(root: Path) -> None:
    """Refuses paths that are not ours to write into, before anything is created: a file, a
    foreign non-empty directory, a zarr group without readable jaxaxon attributes that
    jaxaxon did not write, a new path whose nearest existing ancestor is not a writable
    directory."""
    if root.exists() or root.is_symlink():
        if not root.is_dir():
            raise DatasetError(f"{root} exists and is not a directory; choose another output path")
        try:
            entries = set(os.listdir(root))
        except OSError as err:
            raise DatasetError(f"cannot read {root}: {err.strerror or err}") from None
        ours = written_by_jaxaxon(root, entries)
        if entries and GROUP_FILE not in entries and not ours:
            raise DatasetError(
                f"{root} is a non-empty directory that is not a jaxaxon dataset; refusing to write into it "
                "(choose another output path)"
            )
        if GROUP_FILE in entries and not ours:  # only a readable jaxaxon dataset may get a lock file
            try:
                read_attributes(root)
            except DatasetError as err:
                raise DatasetError(f"{err}; existing data left untouched (choose another output path)") from None
        return
    ancestor = root.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        why = "not a directory" if not ancestor.is_dir() else "permission denied"
        raise DatasetError(f"cannot create the dataset directory {root}: {ancestor} is {why}")


def make_dir(root: Path) -> None:
    """Creates the dataset directory (and its parents) once the request is accepted."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(f"cannot create the dataset directory {root}: {err.strerror or err}") from None


class WriteLock:
    """An exclusive advisory lock (flock) on ``root/.jaxaxon.lock``, released on exit or death.

    The file exists while a dataset is being written or is incomplete; `remove_file` deletes
    it (under the lock) once the dataset is complete. Acquiring re-checks that the locked
    file is still the one at the path, so a removal cannot let two writers in.
    """

    def __init__(self, root: Path):
        self.path = root / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> "WriteLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no protection against two writers
            fcntl = None
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise DatasetError(f"cannot write into {self.path.parent}: {err.strerror or err}") from None
            if fcntl is None:
                self.fd = fd
                return self
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise DatasetError(
                    f"another process is writing {self.path.parent}; wait for it or stop it first"
                ) from None
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                self.fd = fd
                return self
            os.close(fd)  # the file was removed by a writer that finished meanwhile: retry
        raise DatasetError(f"cannot lock {self.path}")

    def remove_file(self) -> None:
        self.path.unlink(missing_ok=True)

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None


def clear(root: Path) -> None:
    """Deletes a dataset's contents (group metadata first, so it never looks complete), keeping the lock."""
    (root / GROUP_FILE).unlink(missing_ok=True)
    for entry in root.iterdir():
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def existing_attributes(root: Path, overwrite: bool) -> dict[str, Any] | None:
    """The attributes of the dataset at ``root`` (None: nothing there, or it is to be replaced).

    Called after `precheck_path` (so a corrupt dataset at ``root`` is ours to replace).
    """
    if not (root / GROUP_FILE).exists():
        return None  # empty, or a creation / overwrite that was interrupted before zarr.json
    try:
        attrs = read_attributes(root)
    except DatasetError as err:
        if overwrite:
            return None
        raise DatasetError(f"{err}; existing data left untouched (use --overwrite to replace it)") from None
    return None if overwrite else attrs


def refuse_differences(root: Path, existing: dict, requested: dict) -> None:
    """Raises unless ``existing`` was made by the same request (array layout compared when
    ``requested`` has one)."""
    if not requested["arrays"]:
        requested = {**requested, "arrays": existing.get("arrays")}
    diff = differences(existing, requested)
    if diff:
        raise DatasetError(
            f"{root} holds a dataset made with other settings:\n  "
            + "\n  ".join(diff)
            + "\nExisting data left untouched: re-run with the same settings to resume it, "
            "use --overwrite to replace it, or choose another output path."
        )


def stored_chunks(root: Path, spec: ArraySpec) -> list[int]:
    """Chunk indices along N that have an entry under the array's ``c/`` directory (``c/0/``
    for an array stored with the example axis second)."""
    try:
        names = os.listdir(root.joinpath(spec.path, "c", *(["0"] * spec.n_axis)))
    except FileNotFoundError:
        return []
    return sorted(int(name) for name in names if name.isdigit())


def remove_chunks(root: Path, spec: ArraySpec, chunks: Iterable[int]) -> None:
    """Deletes the files of chunks of an array (damaged or torn ones, before they are written
    again: tensorstore reads a shard it updates only in part, and a damaged one fails to read)."""
    for k in chunks:
        path = chunk_file(root, spec, k)
        if path is not None:
            path.unlink(missing_ok=True)
