#!/usr/bin/env bash
# One device session's sim-to-real measurements (run from the repository root on a GPU machine
# whose JAX stack is preinstalled): the depth mode's cost against the 2-D generator, and the
# sim-to-real experiment at the accelerator setting of the `real` preset.
# Usage: REAL=DIR OUT=results_dir TAG=h200 bash scripts/gpu_sim2real.sh
set -uo pipefail
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
OUT=${OUT:-runs/gpu}; TAG=${TAG:-gpu}; REAL=${REAL:?REAL=DIR of the development images}; mkdir -p "$OUT"
STEPS=${STEPS:-3000}; BATCH=${BATCH:-64}
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
python3 -m jaxaxon.cli bench --sections depth --batches 2048 --repeats 3 --out "$OUT/${TAG}_depth.json" 2>&1 | tail -20
python3 scripts/sim2real_experiment.py --real "$REAL" --out "$OUT/sim2real" --steps "$STEPS" --batch "$BATCH" \
  --picture "$OUT/sim2real.png" --no-baselines 2>&1 | tail -40
