"""ksweep: Kconfig-driven hyperparameter sweeps for PyTorch, run from Make.

`import ksweep` is light (no torch, no pandas): the names below load what they need
when first used.

    from ksweep import load_sweep
    df = load_sweep("test_matrix_results/sweep_20261206_101500")   # a pandas DataFrame
"""

from __future__ import annotations

__all__ = ["load_sweep"]


def __getattr__(name: str):
    if name == "load_sweep":  # the analysis stage, and pandas, only when asked for
        from ksweep.analysis.analyze import load_sweep

        return load_sweep
    raise AttributeError(f"module 'ksweep' has no attribute {name!r}")
