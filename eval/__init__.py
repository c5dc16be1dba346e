"""Evaluation: data sets, metrics, baselines, training of the small learned scorers."""
