"""The reference request of the dataset tests (3 chunks of 4, the last one partial: one generator compile)."""

N, BATCH, SEED = 10, 4, 3
