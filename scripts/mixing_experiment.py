#!/usr/bin/env python
"""The mixing experiment (`jaxaxon.experiments.mixing`): real shares 100 % / 25 % / 0 % of every
training batch, each run evaluated on held-out development images (see docs/real_images.md).

Usage::

    python scripts/mixing_experiment.py --real DIR --out runs/mixing                 # quick preset, CPU scale
    python scripts/mixing_experiment.py --real DIR --out runs/mixing_gpu --preset unet --steps 5000 --seeds 0,1,2
"""

import sys

from jaxaxon.experiments.mixing import main

if __name__ == "__main__":
    sys.exit(main())
