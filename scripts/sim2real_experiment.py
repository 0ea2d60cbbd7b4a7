#!/usr/bin/env python
"""The sim-to-real experiment (`jaxaxon.experiments.sim2real`): calibrate on the development
images' training fold, train with --preset real on generated images only, evaluate on the
held-out images at their own resolution next to the baselines (see docs/sim2real.md).

Usage::

    python scripts/sim2real_experiment.py --real DIR --out runs/sim2real --picture docs/sim2real.png
"""

import sys

from jaxaxon.experiments.sim2real import main

if __name__ == "__main__":
    sys.exit(main())
