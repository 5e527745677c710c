#!/usr/bin/env python3
"""The best runs across every sweep under test_matrix_results/, as a table.

python scripts/sweep_leaderboard.py [--results-dir DIR] [--metric val_acc] [--mode max] [--top 10]
"""

from __future__ import annotations

import argparse
import sys

import _cli

from ksweep.analyze import AnalyzeError
from ksweep.leaderboard import leaderboard

PROG = "sweep_leaderboard"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    _cli.add_ranking_args(parser, results_dir=True)
    parser.add_argument("--top", type=int, default=10, help="rows to show (default 10)")
    args = parser.parse_args(argv)
    _cli.ranking_defaults(args)
    try:
        print(leaderboard(args.results_dir, args.metric, args.mode, args.top), end="")
    except (AnalyzeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
