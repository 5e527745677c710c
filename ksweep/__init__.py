"""ksweep: Kconfig-driven hyperparameter sweeps for PyTorch, run from Make."""
