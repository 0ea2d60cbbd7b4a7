"""Fixtures of the dataset tests: one small reference dataset and the generator output it must hold."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxaxon
from jaxaxon.data import write_dataset

from .dataset_reference import BATCH, SEED, SERIES_BATCH, SERIES_N, SERIES_SEED, N, series_config


@pytest.fixture(scope="session")
def reference_outputs(small_cfg) -> dict[str, np.ndarray]:
    """`jaxaxon.generate` output for examples 0..N-1 of seed SEED, called directly."""
    key = jax.random.key(SEED)
    parts = [jaxaxon.generate(key, small_cfg, BATCH, k * BATCH) for k in range(-(-N // BATCH))]
    names = [f for f in parts[0].__dataclass_fields__]
    return {name: np.concatenate([np.asarray(getattr(p, name)) for p in parts])[:N] for name in names}


@pytest.fixture(scope="session")
def reference_dataset(small_cfg, tmp_path_factory) -> Path:
    """A complete dataset of the reference request, written without interruption (read only!)."""
    path = tmp_path_factory.mktemp("reference") / "ref.zarr"
    write_dataset(path, small_cfg, N, seed=SEED, batch_size=BATCH)
    return path


@pytest.fixture(scope="session")
def series_outputs(small_cfg) -> dict[str, np.ndarray]:
    """`jaxaxon.generate_series` output for series 0..SERIES_N-1, called directly."""
    cfg, key = series_config(small_cfg), jax.random.key(SERIES_SEED)
    parts = [jaxaxon.generate_series(key, cfg, SERIES_BATCH, s) for s in range(0, SERIES_N, SERIES_BATCH)]
    names = list(parts[0].__dataclass_fields__)
    return {name: np.concatenate([np.asarray(getattr(p, name)) for p in parts])[:SERIES_N] for name in names}


@pytest.fixture(scope="session")
def series_dataset(small_cfg, tmp_path_factory) -> Path:
    """A complete time-series dataset (read only!)."""
    path = tmp_path_factory.mktemp("series") / "series.zarr"
    write_dataset(path, series_config(small_cfg), SERIES_N, seed=SERIES_SEED, batch_size=SERIES_BATCH, kind="series")
    return path


@pytest.fixture(scope="session")
def small_params(small_cfg, tmp_path_factory) -> Path:
    """The small config as a parameter file (for the CLI)."""
    path = tmp_path_factory.mktemp("params") / "small.json"
    small_cfg.to_json(path)
    return path


@pytest.fixture
def dataset_copy(reference_dataset, tmp_path) -> Path:
    """A private copy of the reference dataset that a test may damage."""
    dst = tmp_path / "copy.zarr"
    shutil.copytree(reference_dataset, dst)
    return dst


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` with its bytes and modification time (to prove nothing changed)."""
    out = {}
    for p in sorted([root, *root.rglob("*")]):
        st = p.stat()
        out[str(p.relative_to(root))] = (p.read_bytes() if p.is_file() else None, st.st_mtime_ns, st.st_size)
    return out


@pytest.fixture
def tree():
    """Helpers: ``tree.bytes(root)`` and ``tree.state(root)``."""

    class Tree:
        bytes = staticmethod(tree_bytes)
        state = staticmethod(tree_state)

    return Tree


@pytest.fixture(scope="session")
def subprocess_env() -> dict[str, str]:
    """Environment for subprocesses: the test settings (CPU, compile cache) and this checkout first on the path."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
