"""Fixtures of the napari plugin tests: one small dataset (the shared 64x64 config) and a tiny untrained network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jaxaxon.data import write_dataset

N_EXAMPLES = 4  # with batch 4: the data tests' compiled writer (persistent cache)
SEED = 5


@pytest.fixture(scope="session")
def small_dataset(small_cfg, tmp_path_factory) -> Path:
    """A complete 4-example dataset of the small config (pixel size unknown; read only!)."""
    path = tmp_path_factory.mktemp("napari") / "small.zarr"
    write_dataset(path, small_cfg, N_EXAMPLES, seed=SEED, batch_size=N_EXAMPLES)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny):
    """``(model, run_config)``: the tiny run's network, freshly initialised (no training)."""
    from jaxaxon.models import build_model

    return build_model(tiny.model, 0), tiny


@pytest.fixture()
def grey_image() -> np.ndarray:
    """``[40, 48]`` uint8 noise with a bright diagonal line (sides not a multiple of the network's 2**depth)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 60, size=(40, 48)).astype(np.uint8)
    rows = np.arange(40)
    image[rows, rows] = 200
    return image
