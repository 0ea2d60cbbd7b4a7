"""The reference requests of the dataset tests."""

# single images: 3 chunks of 4, the last one partial (one generator compile)
N, BATCH, SEED = 10, 4, 3

# time series: the config and batch of tests/synth/test_series.py, so both share one compile
SERIES_N, SERIES_BATCH, SERIES_SEED = 5, 3, 42


def series_config(small):
    return small.replace(NbImages=4, maxRotAngle=4, probBoutonInFirstImage=0.3)
