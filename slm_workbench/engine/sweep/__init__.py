"""Hyperparameter sweeps on Optuna (stage ``sweep``): every trial is an ordinary training run."""
