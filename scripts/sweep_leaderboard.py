#!/usr/bin/env python3
"""The best runs across every sweep under test_matrix_results/ (ksweep leaderboard).

python scripts/sweep_leaderboard.py [--results-dir DIR] [--metric val_acc] [--mode max] [--top 10]
    (ksweep/cli/leaderboard.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("leaderboard"))
