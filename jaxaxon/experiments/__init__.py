"""Experiments on the real development images: the shared protocol and the experiments run by
``scripts/mixing_experiment.py`` and ``scripts/pretrain_finetune.py``."""
