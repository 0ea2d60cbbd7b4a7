"""Values echoed in error messages, cut to a readable length."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ECHO_LIMIT", "brief"]

ECHO_LIMIT = 80
"""Characters of a value an error message shows before cutting it."""


def brief(value: Any, limit: int = ECHO_LIMIT, *, quote: bool = True) -> str:
    """``repr(value)`` (``str`` with ``quote=False``) cut to ``limit`` characters.

    A longer text ends in ``"... (N characters)"``, N the length of the string value itself
    (of its text for other values), so a 50 MB value never fills a terminal.

    Example: ``raise ValueError(f"expected a number, got {brief(value)}")``.
    """
    if isinstance(value, str) and len(value) > limit:
        head = value[: limit + 1]
        text = (repr(head) if quote else head)[:limit]
        return f"{text}... ({len(value):,} characters)"
    if isinstance(value, int) and value.bit_length() > 4 * limit:  # (str() refuses beyond 4300 digits)
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'a negative' if value < 0 else 'an'} integer of about {digits:,} digits"
    text = repr(value) if quote else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"
