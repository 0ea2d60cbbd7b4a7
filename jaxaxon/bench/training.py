"""Training workload: one training step with on-the-fly generation against pre-generated batches.

Reports a clear 'skipped' record where the training code (``jaxaxon.train``) is not part
of this installation, never a made-up number.
"""

from __future__ import annotations

import importlib.util

__all__ = ["training_available", "time_training"]


def training_available() -> bool:
    """True when ``jaxaxon.train`` can be imported."""
    try:
        return importlib.util.find_spec("jaxaxon.train") is not None
    except (ImportError, ValueError):
        return False


def time_training(**_settings) -> dict:
    """One training step, on the fly vs pre-generated (a 'skipped' record without the code)."""
    if not training_available():
        return {
            "status": "skipped",
            "reason": "training code not available (jaxaxon.train is not in this installation)",
        }
    raise NotImplementedError("the training workload is added together with jaxaxon.train")  # pragma: no cover
