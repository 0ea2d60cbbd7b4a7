"""Checks of the paths a command will write (``--out``, ``--workdir``), made before any work so
that a wrong path costs nothing and nothing at it is changed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["OutputPathError", "check_output_file", "check_output_folder"]


class OutputPathError(ValueError):
    """An output path that cannot be written as asked (a file where a folder is needed, ...)."""


def _check_creatable(path: Path, flag: str, text: str) -> None:
    """The nearest existing ancestor of ``path`` is a writable folder."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{flag} {text}: cannot be created, {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag} {text}: cannot be created in {ancestor} (permission denied)")


def check_output_folder(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Checks that ``path`` is a folder, or can be created as one, and is writable.

    Args:
      path: the output folder.
      flag: the option that named it, for the message.

    Returns:
      ``path`` as a `Path` (nothing is created).

    Raises:
      OutputPathError: ``path`` is an existing file (left untouched), lies under a file, or is
        not writable.
    """
    text = os.fspath(path)
    path = Path(text).expanduser()
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputPathError(
                f"{flag} {text}: is an existing file, not a folder; choose a folder (the file was left untouched)"
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputPathError(f"{flag} {text}: the folder is not writable (permission denied)")
        return path
    _check_creatable(path, flag, text)
    return path


def check_output_file(path: str | os.PathLike, suffixes: Sequence[str], flag: str = "--out") -> Path:
    """Checks that ``path`` names a file of one of ``suffixes`` that can be written.

    An existing file of that type is replaced by the command; a folder, or a file of another type,
    is refused.

    Raises:
      OutputPathError: wrong suffix, an existing folder, a parent that is a file, not writable.
    """
    text = os.fspath(path)
    path = Path(text).expanduser()
    if path.is_dir():
        raise OutputPathError(f"{flag} {text}: is a folder; give a file name ending in {' or '.join(suffixes)}")
    if path.suffix.lower() not in tuple(s.lower() for s in suffixes):
        raise OutputPathError(f"{flag} {text}: expected a file name ending in {' or '.join(suffixes)}")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"{flag} {text}: the file is not writable (permission denied)")
    _check_creatable(path, flag, text)
    return path
