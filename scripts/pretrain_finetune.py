#!/usr/bin/env python
"""Autoencoder pre-training, then fine-tuning (`jaxaxon.experiments.pretrain`), evaluated on
held-out development images (see docs/real_images.md) next to training from scratch.

Usage::

    python scripts/pretrain_finetune.py --real DIR --out runs/pretrain --ae-steps 200 --steps 100
    python scripts/pretrain_finetune.py --real DIR --out runs/pretrain_gpu --preset original --ae-steps 5000 --steps 5000
"""

import sys

from jaxaxon.experiments.pretrain import main

if __name__ == "__main__":
    sys.exit(main())
