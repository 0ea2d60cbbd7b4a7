#!/usr/bin/env bash
# One device session's measurements (run from the repository root on a GPU machine whose
# JAX stack is preinstalled): profiles of the 256x256 generator ('original' and 'realistic'),
# the generator over batch sizes, the presets, the time series, and training steps with
# on-the-fly generation in float32 and bfloat16.
# Usage: OUT=results_dir TAG=h200 bash scripts/gpu_bench.sh [batches...]
set -uo pipefail
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
OUT=${OUT:-runs/gpu}; TAG=${TAG:-gpu}; mkdir -p "$OUT"
BATCHES=${*:-4096 8192}
jaxaxon() { python3 -m jaxaxon.cli "$@"; }
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv,noheader
python3 benchmarks/profile_generator.py --batch 4096 --calls 2 --top 25 --out "$OUT/${TAG}_profile.json" 2>&1 | head -34
python3 benchmarks/profile_generator.py --preset realistic --batch 4096 --calls 2 --top 25 \
  --out "$OUT/${TAG}_profile_realistic.json" 2>&1 | head -34
jaxaxon bench --sections generator_batch presets series --batches $BATCHES --repeats 3 --out "$OUT/$TAG.json" 2>&1 | tail -32
jaxaxon bench --sections training --set training_presets=original --set training_batch=256 \
  --set training_dtypes=float32,bfloat16 --out "$OUT/${TAG}_train.json" 2>&1 | tail -12
