"""The one "unknown name; did you mean ...?" helper used by every validator and the CLI."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: object, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name closest to ``name`` (``difflib`` ratio >= ``cutoff``, else a
    case-insensitive match), or None."""
    known = list(known)
    text = str(name)
    if len(text) > 2 * max(map(len, known), default=0) + 8:
        return None  # far longer than any name: no match, and difflib would be slow
    close = difflib.get_close_matches(text, known, n=1, cutoff=cutoff)
    if close:
        return close[0]
    lower = {k.lower(): k for k in known}
    return lower.get(text.lower())


def did_you_mean(name: object, known: Iterable[str], prefix: str = "", cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the closest known name (``prefix`` put before it), or ``""``.

    Example: ``raise ValueError(f"unknown key {key!r}{did_you_mean(key, fields)}")``.
    """
    match = closest(name, known, cutoff)
    return "" if match is None else f"; did you mean {prefix + match!r}?"
