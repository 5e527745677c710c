#!/usr/bin/env python3
"""Two sweeps side by side: counts, best of each, the metric per shared swept value.

python scripts/sweep_compare.py SWEEP_A SWEEP_B [--metric val_acc] [--mode max]
"""

from __future__ import annotations

import argparse
import sys

import _bootstrap  # noqa: F401

from ksweep.analyze import DEFAULT_METRIC, DEFAULT_MODE, AnalyzeError
from ksweep.leaderboard import compare

PROG = "sweep_compare"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_a", help="first sweep directory (A)")
    parser.add_argument("sweep_b", help="second sweep directory (B)")
    parser.add_argument("--metric", help="record key to rank by (default val_acc)")
    parser.add_argument("--mode", help="max or min (default max)")
    args = parser.parse_args(argv)
    # Make passes its variables as --metric=$(METRIC): an empty value means the default.
    args.metric, args.mode = args.metric or DEFAULT_METRIC, args.mode or DEFAULT_MODE
    try:
        print(compare(args.sweep_a, args.sweep_b, args.metric, args.mode), end="")
    except (AnalyzeError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
