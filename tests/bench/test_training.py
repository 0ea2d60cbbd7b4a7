"""The training figures come from the measured times they are given."""

from __future__ import annotations

import math

from jaxaxon.bench.training import mixing_figures, step_figures


def test_overhead_is_the_ratio_of_the_measured_median_times():
    # medians: on the fly 0.5 s, pre-generated 0.4 s, generation alone 0.1 s (outliers ignored)
    times = {"onfly": [0.5, 9.0, 0.45], "pregen": [0.4, 0.39, 5.0], "gen": [0.1, 0.1, 0.2]}
    fig = step_figures(times, images=32)
    assert math.isclose(fig["generation_overhead_fraction"], 1 - 0.4 / 0.5)
    assert math.isclose(fig["generation_alone_fraction"], 0.1 / 0.5)
    assert math.isclose(fig["onfly_steps_per_s"], 2.0) and math.isclose(fig["pregen_images_per_s"], 32 / 0.4)
    assert fig["round_times_s"]["onfly"] == [0.5, 9.0, 0.45]


def test_a_step_no_slower_than_the_pregenerated_one_has_no_overhead():
    fig = step_figures({"onfly": [0.3], "pregen": [0.3], "gen": [0.2]}, images=1)
    assert fig["generation_overhead_fraction"] == 0.0


def test_mixing_variants_are_relative_to_the_pregenerated_step():
    times = {"share=0": [0.2, 0.2], "share=1": [0.3, 0.5], "pregen": [0.1, 0.1]}
    fig = mixing_figures(times, {"share=0": 0, "share=1": 4, "pregen": None})
    assert math.isclose(fig["share=1"]["time_vs_pregen"], 4.0) and fig["share=1"]["real_per_step"] == 4
    assert math.isclose(fig["pregen"]["time_vs_pregen"], 1.0) and math.isclose(fig["share=0"]["steps_per_s"], 5.0)


def test_the_dataset_fed_step_is_compared_with_the_on_the_fly_step():
    # medians: on the fly 0.5 s, from disk 0.25 s: twice the throughput
    times = {"onfly": [0.5, 0.5], "pregen": [0.4, 0.4], "gen": [0.1, 0.1], "data": [0.25, 0.3]}
    fig = step_figures(times, images=8)
    assert math.isclose(fig["data_vs_onfly"], 0.5 / 0.275)
    assert math.isclose(fig["data_images_per_s"], 8 / 0.275) and math.isclose(fig["data_steps_per_s"], 1 / 0.275)
    assert "data_vs_onfly" not in step_figures({k: times[k] for k in ("onfly", "pregen", "gen")}, images=8)
