"""Evaluation: metrics, fully convolutional inference, baselines, plots and reports."""
