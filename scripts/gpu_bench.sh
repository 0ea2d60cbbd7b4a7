#!/usr/bin/env bash
# One device session's measurements (run from the repository root on a GPU machine whose
# JAX stack is preinstalled): a profile of the 256x256 generator, the generator over batch
# sizes, the presets, the time series, and training steps with on-the-fly generation in float32 and bfloat16.
# Usage: OUT=results_dir TAG=h200 bash scripts/gpu_bench.sh [batches...]
set -uo pipefail
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
OUT=${OUT:-runs/gpu}; TAG=${TAG:-gpu}; mkdir -p "$OUT"
BATCHES=${*:-4096 8192}
jaxaxon() { python3 -c 'import sys; from jaxaxon.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv,noheader
python3 benchmarks/profile_generator.py --batch 4096 --calls 2 --top 25 --out "$OUT/${TAG}_profile.json" 2>&1 | head -34
jaxaxon bench --sections generator_batch presets series --batches $BATCHES --repeats 3 --out "$OUT/$TAG.json" 2>&1 | tail -32
python3 benchmarks/bench_train.py --preset original --batch 256 --dtype both --out "$OUT/${TAG}_train.json" 2>&1 | tail -6
