#!/usr/bin/env python3
"""Two sweeps side by side: counts, best of each, the metric per shared swept value.

python scripts/sweep_compare.py SWEEP_A SWEEP_B [--metric val_acc] [--mode max]
"""

from __future__ import annotations

import argparse
import sys

import _cli

from ksweep.analyze import AnalyzeError
from ksweep.leaderboard import compare

PROG = "sweep_compare"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_a", help="first sweep directory (A)")
    parser.add_argument("sweep_b", help="second sweep directory (B)")
    _cli.add_ranking_args(parser, results_dir=False)
    args = parser.parse_args(argv)
    _cli.ranking_defaults(args)
    try:
        print(compare(args.sweep_a, args.sweep_b, args.metric, args.mode), end="")
    except (AnalyzeError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
