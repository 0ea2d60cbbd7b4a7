"""One Markdown table helper (and the number format) for every benchmark and experiment report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["num", "table"]


def num(x: Any, digits: int = 1, missing: str = "n/a") -> str:
    """``x`` with thousands separators and ``digits`` decimals; ``missing`` for None."""
    if x is None:
        return missing
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return f"{x:,.{digits}f}"
    return str(x)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown table as lines: the header row, the rule, one line per row.

    Args:
      header: column titles.
      rows: cells per row (already formatted; anything else is ``str()``-ed, None is empty).
        A row shorter than the header is padded with empty cells.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = ["" if c is None else str(c) for c in row]
        cells += [""] * (len(header) - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    return lines
