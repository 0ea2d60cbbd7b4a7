"""Work run in a subprocess with several virtual CPU devices (tests/test_parallel.py).

The device count must be fixed before JAX starts, so the tests start this module as
``python -m tests.multidevice JOB OUT_DIR`` with ``JAXAXON_TEST_DEVICES`` set; it writes
its results under ``OUT_DIR`` and prints a JSON summary line.

Jobs:
  devices: generation on 8- and 2-device meshes, a data-parallel training run, a run paused
    at step 2 (its checkpoint is restored on one device by the tests) and a dataset.
  mixing: ``jaxaxon train --real OUT/real --real-share 0.25`` (`mixing_args`), the batches
    of its first steps, and the refusal of a batch that does not split over the devices.
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
# The mixed run: 16 examples of 32x32 per step, 4 of them real crops; the 3 generated images
# and the 4 crops do not split over 8 devices (each device makes one of each).
MIXED_RUN = dict(TINY_CHANGES, batch_size=16, steps=3, eval_every=3, checkpoint_every=3)
MIXED_BATCH_STEPS = (0, 2)


def sharded_run_config():
    from jaxaxon.models.config import ModelConfig
    from jaxaxon.train.config import RunConfig

    return RunConfig(preset="test", model=ModelConfig(), generator=SMALL).replace(**SHARDED_RUN)


def mixing_args(out: Path, workdir: Path) -> list[str]:
    """`jaxaxon train` arguments of the mixed run (real images in ``out / "real"``, the small
    generator config in ``out / "small.json"``, both written by the test)."""
    sets = [a for k, v in MIXED_RUN.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    return ["train", "--workdir", str(workdir), "--params", str(out / "small.json"), "--no-progress",
            "--real", str(out / "real"), "--real-share", "0.25", *sets]  # fmt: skip


def mixed_batches(workdir: Path) -> dict[str, np.ndarray]:
    """The examples of the steps `MIXED_BATCH_STEPS` of a finished mixed run, as its step makes them."""
    from jaxaxon.train.config import read_run_config
    from jaxaxon.train.mixing import prepare_real
    from jaxaxon.train.step import make_train_step

    rc, bank = prepare_real(read_run_config(workdir / "config.json"), resumed=True, log=lambda s: None)
    step = make_train_step(rc, bank)
    out = {}
    for s in MIXED_BATCH_STEPS:
        out.update({f"{name}_{s}": a for name, a in zip("xyw", step.batch(s))})
    return out


def _mixing_job(out: Path) -> dict:
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    from jaxaxon.cli import main

    assert jax.device_count() == _N, jax.devices()
    with redirect_stdout(StringIO()) as printed:
        code = main(mixing_args(out, out / "mixed"))
    assert code == 0, printed.getvalue()
    batches = mixed_batches(out / "mixed")
    results = {"devices": jax.device_count(), "batch_devices": len(batches["x_0"].sharding.device_set)}
    np.savez(out / "batches.npz", **{k: np.asarray(v) for k, v in batches.items()})
    with redirect_stderr(StringIO()) as err:
        results["uneven_exit"] = main([*mixing_args(out, out / "uneven"), "--batch", "12"])
    results["uneven_error"] = err.getvalue()
    results["uneven_written"] = (out / "uneven").exists()
    return results


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
    results = {"devices": _devices_job, "mixing": _mixing_job}[job](out)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
