"""The metrics history of a run: ``DIR/history.json``, a JSON list of records.

Every record has ``step`` (optimisation steps completed) and ``loss`` (mean training loss
since the previous record); validation records add ``val_loss``, ``val_dice`` (mean over
the validation images of the Dice of the prediction thresholded at 0.5; for several heads
the mean over heads, with ``val_dice_<head>`` per head) and ``val_soft_dice``. Written
atomically after every record, never with pickle; non-finite numbers are written as null.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from jaxaxon.atomic import write_json_atomic

__all__ = ["HistoryError", "read_history", "write_history", "truncate_history"]


class HistoryError(ValueError):
    """``history.json`` exists but is not a list of records, or cannot be written."""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of ``path`` ([] when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise HistoryError(f"{path}: cannot read the training history: {err}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) and "step" in r for r in data):
        raise HistoryError(f"{path}: expected a JSON list of records with a 'step', got something else")
    return data


def write_history(path: str | os.PathLike, records: list[dict[str, Any]]) -> None:
    """Writes the records atomically (temporary file + rename).

    Raises:
      HistoryError: the file cannot be written (the previous version is kept).
    """
    try:
        write_json_atomic(path, [{k: _clean(v) for k, v in r.items()} for r in records])
    except OSError as err:
        raise HistoryError(
            f"cannot write the training history {path}: {err.strerror or err} (its previous version is kept)"
        ) from None


def truncate_history(records: list[dict[str, Any]], step: int) -> list[dict[str, Any]]:
    """The records up to and including ``step`` (what a checkpoint of ``step`` has seen)."""
    return [r for r in records if r["step"] <= step]
