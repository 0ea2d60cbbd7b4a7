"""Scaling of sharded generation over devices (`jaxaxon.parallel.generate_sharded`).

Weak scaling: every device generates the same number of images per call, so the global
batch grows with the device count; scaling efficiency is ``images/s on n devices / (n *
images/s on 1 device)``. Where only one device exists (a CPU host), `run_in_subprocess`
measures on ``n`` virtual CPU devices (``--xla_force_host_platform_device_count``) in a
fresh process: they share the same cores, so they show that the sharded program runs
and how much it costs, not a speed-up.

CPU devices get one image per device per call (`CPU_PER_DEVICE_BATCH`, `CPU_BATCH_NOTE`).

Run as a module (what `run_in_subprocess` does)::

    python -m jaxaxon.bench.scaling --config CONFIG.json --per-device-batch 4 --devices 1 2 4 8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["scaling", "run_in_subprocess", "CPU_PER_DEVICE_BATCH", "CPU_BATCH_NOTE"]

CPU_PER_DEVICE_BATCH = 1
CPU_BATCH_NOTE = (
    "1 image per CPU device per call: all CPU devices share one intra-op thread pool, and library kernels that "
    "split a batch over that pool and wait inside it can hang once every pool thread is waiting"
)


def scaling(cfg, per_device_batch: int, device_counts: tuple[int, ...], repeats: int = 3) -> dict:
    """Times `generate_sharded` on the first ``n`` devices for each ``n`` in ``device_counts``.

    Returns:
      ``{"per_device_batch", "rows": [{"devices", "global_batch", "items_per_s", "efficiency",
      ...timing}], "identical_to_one_device": bool}`` (the first images of the largest run
      compared with the one-device run: same global indices, same images expected).
    """
    import jax

    from jaxaxon.bench.timing import time_jitted
    from jaxaxon.parallel import generate_sharded, make_mesh
    from jaxaxon.synth.image import generate

    devices = jax.devices()
    rows, images = [], {}
    for n in device_counts:
        if n > len(devices):
            rows.append({"devices": n, "status": "skipped", "reason": f"only {len(devices)} devices"})
            continue
        mesh = make_mesh(devices[:n])
        global_batch = per_device_batch * n

        def run(key, mesh=mesh, global_batch=global_batch):
            return generate_sharded(generate, key, cfg, global_batch, 0, mesh)

        timing = time_jitted(run, (jax.random.key(0),), items=global_batch, repeats=repeats)
        rows.append({"devices": n, "global_batch": global_batch, **timing.as_dict()})
        images[n] = np.asarray(jax.jit(run)(jax.random.key(0)).image)[:per_device_batch]
    measured = [r for r in rows if "items_per_s" in r]
    base = next((r["items_per_s"] for r in measured if r["devices"] == 1), None)
    for r in measured:
        r["efficiency"] = r["items_per_s"] / (r["devices"] * base) if base else None
    identical = None
    if 1 in images and len(images) > 1:
        identical = bool(np.array_equal(images[1], images[max(images)]))
    return {"per_device_batch": per_device_batch, "rows": rows, "identical_to_one_device": identical}


def run_in_subprocess(
    cfg, per_device_batch: int, device_counts: tuple[int, ...], repeats: int = 3, timeout: float = 900
) -> dict:
    """`scaling` in a fresh CPU process with ``max(device_counts)`` virtual devices."""
    n = max(device_counts)
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n}").strip()
    env["JAX_PLATFORMS"] = "cpu"
    with tempfile.TemporaryDirectory(prefix="jaxaxon-scaling-") as tmp:
        config_path = Path(tmp) / "config.json"
        cfg.to_json(config_path)
        out_path = Path(tmp) / "result.json"
        cmd = [
            sys.executable, "-m", "jaxaxon.bench.scaling", "--config", str(config_path),
            "--per-device-batch", str(per_device_batch), "--repeats", str(repeats), "--out", str(out_path),
            "--devices", *[str(d) for d in device_counts],
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"scaling subprocess did not finish in {timeout:.0f} s (killed)") from None
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["(no output)"]
            raise RuntimeError(f"scaling subprocess failed with exit status {proc.returncode}: {lines[-1]}")
        result = json.loads(out_path.read_text())
    result["virtual_cpu_devices"] = n
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sharded-generation scaling over the visible devices (JSON out).")
    parser.add_argument("--config", required=True, help="generator parameter file")
    parser.add_argument("--per-device-batch", type=int, required=True)
    parser.add_argument("--devices", type=int, nargs="+", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", required=True, help="JSON result file")
    args = parser.parse_args(argv)
    import jax

    from jaxaxon.bench.timing import device_info
    from jaxaxon.config import GeneratorConfig

    cfg = GeneratorConfig.from_json(args.config)
    result = scaling(cfg, args.per_device_batch, tuple(args.devices), args.repeats)
    result["device"] = device_info()
    result["device"]["device_count"] = jax.device_count()
    Path(args.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
