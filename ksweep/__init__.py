"""ksweep: Kconfig-driven hyperparameter sweeps for PyTorch, run from Make or from Python.

`import ksweep` is light (no torch, no pandas): the names below load what they need
when first used.

    import ksweep
    s = ksweep.sweep("mlp-digits-search-range", jobs=2, epochs=1)   # generate, run, analyze
    s.best, s.runs, s.path
    ksweep.load("test_matrix_results/sweep_20261206_101500").runs    # a pandas DataFrame
    ksweep.resume(s.path)
    df = ksweep.load_sweep("test_matrix_results/sweep_20261206_101500")
"""

from __future__ import annotations

__all__ = ["Sweep", "load", "load_sweep", "resume", "sweep"]


def __getattr__(name: str):
    if name == "load_sweep":  # the analysis stage, and pandas, only when asked for
        from ksweep.analysis.analyze import load_sweep

        return load_sweep
    if name in ("Sweep", "load", "resume", "sweep"):  # the Python API (ksweep.api)
        from ksweep import api

        return getattr(api, name)
    raise AttributeError(f"module 'ksweep' has no attribute {name!r}")
