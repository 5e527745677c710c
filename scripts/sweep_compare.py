#!/usr/bin/env python3
"""Two sweeps side by side (ksweep compare).

python scripts/sweep_compare.py SWEEP_A SWEEP_B [--metric val_acc] [--mode max]   (ksweep/cli/compare.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("compare"))
