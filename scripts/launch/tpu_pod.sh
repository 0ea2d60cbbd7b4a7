#!/usr/bin/env bash
# Cloud TPU pod slice (e.g. v5e-16 = 4 hosts x 4 chips): the same command on every host.
# JAX detects the pod (coordinator, process count and id) itself.
#
# RUN_DIR must be a directory all hosts share (e.g. a Filestore/NFS mount or a gcsfuse
# mount of a bucket): the orbax checkpoints are written jointly by all hosts, process 0
# alone writes history.json, plots and config.json, and each host writes its own chunks of
# a `jaxaxon generate` dataset.
#
# Usage: scripts/launch/tpu_pod.sh TPU_NAME ZONE /mnt/shared/runs/pod1
set -euo pipefail
TPU_NAME=${1:?usage: tpu_pod.sh TPU_NAME ZONE SHARED_RUN_DIR}
ZONE=${2:?zone}
RUN_DIR=${3:?shared run directory}

# once: install jaxaxon (from a checkout of this repository) with the TPU build of JAX
gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all \
  --command="git clone REPO_URL jaxaxon && pip install -U 'jax[tpu]' -e ./jaxaxon"

# 16 chips: the images per step must be a multiple of 16 (the quick preset cuts 16 tiles
# per image, so --batch 256 = 16 images per step, one per chip)
gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all \
  --command="jaxaxon generate --n 65536 --batch 1024 --out $RUN_DIR/data.zarr && \
             jaxaxon train --workdir $RUN_DIR/train --preset quick --batch 256"
