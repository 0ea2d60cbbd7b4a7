"""Training steps with real crops mixed in (`jaxaxon.train.mixing`) against the plain steps.

Times, interleaved in rounds (so load from other processes hits all variants alike) and after
compiling everything, the training step of one preset:

- ``share=F`` for each ``--shares`` value: the run's step (`make_train_step`) with
  ``round(F * batch)`` real crops drawn on the device (``F = 0``: generated images only);
- ``pregen``: `Program.update` (jitted) fed a batch made beforehand (the update alone,
  no data work: the floor).

Real data: ``--images`` random 8-bit images with masks, ``--size`` pixels square, written to a
temporary labelled folder (no real data needed). If drawing crops stalled the step, the
``share=1`` step would be slower than ``pregen``; prints a table and writes JSON.

    python benchmarks/bench_mixing.py                       # quick preset, CPU-sized
    python benchmarks/bench_mixing.py --preset original --batch 256 --images 64   # accelerator
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from bench_train import _time  # seconds per call, the last result waited for (same folder)

from jaxaxon.train import get_preset
from jaxaxon.train.config import RealMixing
from jaxaxon.train.mixing import prepare_real
from jaxaxon.train.step import get_program, make_train_step, run_keys, training_batch, zero_metrics


def _labelled_folder(root: Path, n: int, size: int) -> Path:
    rng = np.random.default_rng(0)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(((rng.random((size, size)) > 0.8) * 255).astype(np.uint8)).save(root / "masks" / f"{i:03d}.png")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--batch", type=int, help="examples per step (default: the preset's)")
    parser.add_argument("--shares", default="0,0.25,1", help="real shares to time (default 0,0.25,1)")
    parser.add_argument("--images", type=int, default=8, help="random real images (default 8)")
    parser.add_argument("--size", type=int, default=512, help="their side in pixels (default 512)")
    parser.add_argument("--steps", type=int, default=3, help="steps per timing round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--out", default="bench_mixing.json", help="JSON output")
    args = parser.parse_args(argv)
    shares = [float(s) for s in args.shares.split(",")]
    rc = get_preset(args.preset)
    if args.batch is not None:
        rc = rc.replace(batch_size=args.batch)
    _, data_key, dropout_key = run_keys(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = _labelled_folder(Path(tmp) / "real", args.images, args.size)
        variants, states = {}, {}
        for share in shares:
            run = rc.replace(real=RealMixing(paths=(str(folder),), share=share))
            run, bank = prepare_real(run, log=lambda s: None)
            step = make_train_step(run, bank)
            variants[f"share={share:g}"] = (step, run.real_per_step)
            states[f"share={share:g}"] = [*step.init(0)]
        program = get_program(rc)  # the same program as the runs' (the real data is not part of it)
        update = jax.jit(program.update, donate_argnums=(0, 1, 2))
        x, y = jax.jit(lambda k: training_batch(rc, k, 10_000))(data_key)
        variants["pregen"] = (None, None)
        states["pregen"] = [*program.init(0), zero_metrics()]

        def runner(name):
            step_fn, _ = variants[name]
            s = states[name]

            def fn(i):
                if step_fn is None:
                    s[:] = update(*s, x, y, dropout_key, i)
                else:
                    s[:] = step_fn(*s, i)
                return s[2]["loss"]

            return fn

        fns = {name: runner(name) for name in variants}
        t0 = time.perf_counter()
        for fn in fns.values():
            _time(fn, 2)
        compile_s = time.perf_counter() - t0
        times: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                times[name].append(_time(fn, args.steps))
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "device": {"backend": jax.default_backend(), "kind": jax.devices()[0].device_kind, "host": platform.node()},
        "jax": jax.__version__,
        "preset": args.preset,
        "batch_size": rc.batch_size,
        "tile": rc.crop,
        "real_images": args.images,
        "real_size": args.size,
        "steps_timed": args.steps * args.rounds,
        "warmup_and_compile_s": round(compile_s, 2),
        "variants": {
            k: {
                "real_per_step": variants[k][1],
                "steps_per_s": 1 / med[k],
                "time_vs_pregen": med[k] / med["pregen"],
                "round_times_s": [round(t, 4) for t in times[k]],
            }
            for k in fns
        },
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"\n{result['device']['kind']}, preset {args.preset}, batch {rc.batch_size}")
    print("| variant | real crops per step | steps/s | time / pregen |")
    print("| --- | --- | --- | --- |")
    for k, v in result["variants"].items():
        print(f"| {k} | {'-' if v['real_per_step'] is None else v['real_per_step']} | {v['steps_per_s']:.2f} | "
              f"{v['time_vs_pregen']:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
