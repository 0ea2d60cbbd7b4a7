"""Timing helpers: peak memory and load average."""

from __future__ import annotations

import numpy as np

from jaxaxon.bench.timing import MemorySampler, load_average


def test_memory_sampler_sees_an_allocation():
    with MemorySampler(interval=0.001) as sampler:
        block = np.ones(64 * 2**20 // 8)  # 64 MB, touched
        block += 1
    peak, source = sampler.peak()
    assert source in ("rss", "device", "rss_lifetime") and peak > 64 * 2**20
    assert load_average() is None or len(load_average()) == 3
