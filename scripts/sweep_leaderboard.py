#!/usr/bin/env python3
"""The best runs across every sweep under test_matrix_results/, as a table.

python scripts/sweep_leaderboard.py [--results-dir DIR] [--metric val_acc] [--mode max] [--top 10]
"""

from __future__ import annotations

import argparse
import sys

import _bootstrap  # noqa: F401

from ksweep.analyze import DEFAULT_METRIC, DEFAULT_MODE, AnalyzeError
from ksweep.leaderboard import leaderboard

RESULTS_DIR = "test_matrix_results"
PROG = "sweep_leaderboard"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", help="where sweeps are found (default test_matrix_results)")
    parser.add_argument("--metric", help="record key to rank by (default val_acc)")
    parser.add_argument("--mode", help="max or min (default max)")
    parser.add_argument("--top", type=int, default=10, help="rows to show (default 10)")
    args = parser.parse_args(argv)
    # Make passes its variables as --metric=$(METRIC): an empty value means the default.
    args.metric, args.mode = args.metric or DEFAULT_METRIC, args.mode or DEFAULT_MODE
    args.results_dir = args.results_dir or RESULTS_DIR
    try:
        print(leaderboard(args.results_dir, args.metric, args.mode, args.top), end="")
    except (AnalyzeError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
