#!/usr/bin/env python3
"""Run a sweep: every config in sweep_configs/ trained into test_matrix_results/sweep_*/ (ksweep run).

python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir my_sweep_results
python scripts/run_test_matrix.py --resume [--sweep DIR]   (ksweep/cli/run.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("run", guarded=True))
