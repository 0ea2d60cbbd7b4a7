"""Fixtures of the tracking tests."""

from __future__ import annotations

import pytest

from jaxaxon.data import write_dataset

from .test_ground_truth import SERIES


@pytest.fixture(scope="session")
def series_dataset(tmp_path_factory):
    """Two series of the small series config (`SERIES`), as ``jaxaxon generate --series`` writes them."""
    path = tmp_path_factory.mktemp("series") / "s.zarr"
    write_dataset(path, SERIES, 2, seed=0, batch_size=1, kind="series")
    return path
