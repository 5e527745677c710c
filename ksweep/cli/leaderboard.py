"""The best runs across every sweep under test_matrix_results/, as a table.

ksweep leaderboard [--output DIR] [--metric val_acc] [--mode max] [--top 10]
python scripts/sweep_leaderboard.py [--results-dir DIR] [--metric val_acc] [--mode max] [--top 10]
"""

from __future__ import annotations

import sys

from ksweep.analysis.leaderboard import leaderboard
from ksweep.analysis.ranking import AnalyzeError
from ksweep.cli import args as cli

TOP = 10  # rows shown without TOP=


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = cli.parser(__doc__, prog)
    cli.add_options(parser, "leaderboard")
    args = cli.with_defaults(parser.parse_args(argv), "leaderboard")
    try:
        print(leaderboard(args.output, args.metric, args.mode, args.top or TOP), end="")
    except (AnalyzeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
