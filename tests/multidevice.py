"""Work run in a subprocess with several virtual CPU devices (tests/test_parallel.py).

The device count must be fixed before JAX starts, so the tests start this module as
``python -m tests.multidevice JOB OUT_DIR`` with ``JAXAXON_TEST_DEVICES`` set; it writes
its results under ``OUT_DIR`` and prints a JSON summary line.

Jobs:
  devices: generation on 8- and 2-device meshes, a data-parallel training run, a run paused
    at step 2 (its checkpoint is restored on one device by the tests) and a dataset.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import jax
import numpy as np

from tests.conftest import SMALL, TINY_CHANGES

_N = int(os.environ.get("JAXAXON_TEST_DEVICES", "8"))


def _set_devices() -> None:
    """The virtual device count; only in the worker process, before JAX's backend starts
    (importing this module, as the tests do for its constants, changes nothing)."""
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={_N}").strip()


# The data-parallel run: 8 images of 64x64 per step (one per device on 8 devices).
SHARDED_RUN = dict(TINY_CHANGES, batch_size=32, steps=4, eval_every=2, checkpoint_every=2)
GEN_BATCH, GEN_START, GEN_SEED = 8, 5, 11
DATASET = dict(num_examples=24, batch_size=8, seed=3)


def sharded_run_config():
    from jaxaxon.models.config import ModelConfig
    from jaxaxon.train.config import RunConfig

    return RunConfig(preset="test", model=ModelConfig(), generator=SMALL).replace(**SHARDED_RUN)


def _devices_job(out: Path) -> dict:
    from jaxaxon.data import write_dataset
    from jaxaxon.parallel import generate_sharded, make_mesh
    from jaxaxon.synth.image import generate
    from jaxaxon.train import TrainingInterrupted, train

    assert jax.device_count() == _N, jax.devices()
    key = jax.random.key(GEN_SEED)
    plain = generate(key, SMALL, GEN_BATCH, start_index=GEN_START)
    results = {"devices": jax.device_count()}
    arrays = {}
    for n in (_N, 2):
        mesh = make_mesh(jax.devices()[:n])
        got = generate_sharded(generate, key, SMALL, GEN_BATCH, GEN_START, mesh)
        results[f"sharded_{n}_devices"] = len(got.image.sharding.device_set)
        # fields that differ from the one-call batch, with their largest absolute difference
        results[f"differing_{n}"] = {
            f.name: float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
            for f in dataclasses.fields(plain)
            if not np.array_equal(a := np.asarray(getattr(got, f.name)), b := np.asarray(getattr(plain, f.name)))
        }
        arrays.update({f"{n}_{k}": np.asarray(getattr(got, k)) for k in ("image", "axon_mask", "bouton_label", "centerlines")})
    np.savez(out / "generated.npz", **arrays)

    rc = sharded_run_config()
    quiet = dict(progress=False, log=lambda s: None)
    train(out / "full", rc, **quiet)
    try:
        train(out / "paused", rc, until=2, **quiet)
    except TrainingInterrupted as stop:
        results["paused_at"] = stop.step
    write_dataset(out / "data.zarr", SMALL, **DATASET)
    return results


def main(argv: list[str]) -> int:
    _set_devices()
    job, out = argv[0], Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    results = {"devices": _devices_job}[job](out)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
