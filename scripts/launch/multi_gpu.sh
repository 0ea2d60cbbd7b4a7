#!/usr/bin/env bash
# One machine, several GPUs: jaxaxon uses every visible device by itself (one process).
#
# The batch is split over the devices (each GPU generates and trains on its own slice), so
# the number of generated images per step must be a multiple of the GPU count:
# --batch counts training tiles, i.e. images per step x tiles per image.
#
# Usage: scripts/launch/multi_gpu.sh [RUN_DIR]   (CUDA_VISIBLE_DEVICES=0,1 to pick GPUs)
set -euo pipefail
RUN_DIR=${1:-runs/multi_gpu}
nvidia-smi -L || true
python -c "import jax; print(jax.device_count(), 'devices:', jax.devices())"

# a dataset on all GPUs: each GPU generates its slice of every chunk of --batch images
jaxaxon generate --n 4096 --batch 256 --out "$RUN_DIR/data.zarr"

# training on all GPUs. The quick preset cuts 16 tiles of 64x64 from each 256x256 image and
# trains on 2 images (32 tiles) per step; give each GPU one image: --batch = 16 x GPUs.
NGPU=$(python -c "import jax; print(jax.device_count())")
jaxaxon train --workdir "$RUN_DIR/train" --preset quick --batch $((16 * NGPU))
