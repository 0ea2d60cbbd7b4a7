"""Atomic file writes: a temporary file beside the target, fsync, then ``os.replace``.

A reader sees the old file or the new one, never a partial write; an interrupted writer
leaves at most a hidden temporary file, which is removed when the write fails in Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "save_figure", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mkdir: bool = True) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` (same suffix, so writers that read the format
    from the name work); on normal exit the file is fsynced and renamed onto ``path``.

    Args:
      path: the file to (re)write.
      mkdir: create the parent folder first.

    Yields:
      The temporary path to write to. If the block raises, it is removed and ``path`` is untouched.
    """
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Writes ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data: Any, indent: int = 1) -> Path:
    """Writes ``data`` as JSON (one trailing newline) to ``path`` atomically; returns the path."""
    return write_text_atomic(path, json.dumps(data, indent=indent) + "\n")


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Saves a matplotlib figure to ``path`` atomically (format from the suffix) and closes
    it, also when saving fails; returns the path."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return Path(path)
