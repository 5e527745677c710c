#!/usr/bin/env python3
"""Analyze one sweep: sweep_summary.json, sweep_analysis.txt, plots (ksweep analyze).

python scripts/analyze_sweep.py [--sweep DIR] [--metric val_acc] [--mode max]   (ksweep/cli/analyze.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("analyze"))
