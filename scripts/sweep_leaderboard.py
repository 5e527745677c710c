#!/usr/bin/env python3
"""The best runs across every sweep under test_matrix_results/, as a table.

python scripts/sweep_leaderboard.py [--results-dir DIR] [--metric val_acc] [--mode max] [--top 10]
"""

from __future__ import annotations

import sys

import _cli

from ksweep.analysis.leaderboard import leaderboard
from ksweep.analysis.ranking import AnalyzeError

PROG = "sweep_leaderboard"
TOP = 10  # rows shown without TOP=


def main(argv: list[str] | None = None) -> int:
    parser = _cli.parser(__doc__, PROG)
    _cli.add_options(parser, "leaderboard")
    args = _cli.with_defaults(parser.parse_args(argv), "leaderboard")
    try:
        print(leaderboard(args.output, args.metric, args.mode, args.top or TOP), end="")
    except (AnalyzeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
