#!/usr/bin/env python3
"""Two sweeps side by side: counts, best of each, the metric per shared swept value.

python scripts/sweep_compare.py SWEEP_A SWEEP_B [--metric val_acc] [--mode max]
"""

from __future__ import annotations

import sys

import _cli

from ksweep.analysis.leaderboard import compare
from ksweep.analysis.ranking import AnalyzeError
from ksweep.contract.project import NotFound
from ksweep.folder.paths import find_sweep

PROG = "sweep_compare"


def main(argv: list[str] | None = None) -> int:
    parser = _cli.parser(__doc__, PROG)
    parser.add_argument(
        "sweep_a", nargs="?", help="first sweep: a directory or a name under --results-dir (A)"
    )
    parser.add_argument("sweep_b", nargs="?", help="second sweep (B)")
    _cli.add_options(parser, "compare")
    args = _cli.with_defaults(parser.parse_args(argv), "compare")
    if not (args.sweep_a and args.sweep_b):
        parser.error("give two sweeps: make sweep-compare A=dir B=dir")
    try:
        a, b = (find_sweep(name, args.output) for name in (args.sweep_a, args.sweep_b))
        print(compare(a, b, args.metric, args.mode), end="")
    except (AnalyzeError, NotFound, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
