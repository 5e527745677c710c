#!/usr/bin/env python3
"""Promote the top runs of a sweep to a new sweep_configs/ (quick sweep, then full training).

    python scripts/sweep_promote.py [--sweep DIR] [--top 3] [--epochs 25] [--out sweep_configs]

Then `make sweep-run` trains them. See ksweep/promote.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from ksweep.analyze import DEFAULT_METRIC, DEFAULT_MODE, AnalyzeError
from ksweep.paths import NotFound, newest_sweep
from ksweep.promote import promote

RESULTS_DIR = "test_matrix_results"
PROG = "sweep_promote"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", help="sweep directory (default: the newest sweep_* under --results-dir)")
    parser.add_argument("--results-dir", help="where sweeps are found (default test_matrix_results)")
    parser.add_argument("--top", type=int, default=3, help="how many runs to promote (default 3)")
    parser.add_argument("--epochs", type=int, help="set CONFIG_NUM_EPOCHS in every promoted config")
    parser.add_argument("--out", default="sweep_configs", help="folder to write (default sweep_configs)")
    parser.add_argument("--metric", help="record key to rank by (default val_acc)")
    parser.add_argument("--mode", help="max or min (default max)")
    args = parser.parse_args(argv)
    # Make passes its variables as --metric=$(METRIC): an empty value means the default.
    args.metric, args.mode = args.metric or DEFAULT_METRIC, args.mode or DEFAULT_MODE
    args.results_dir = args.results_dir or RESULTS_DIR
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sweep = Path(args.sweep or newest_sweep(args.results_dir))
        result = promote(sweep, args.top, args.epochs, args.out, args.metric, args.mode)
    except (AnalyzeError, NotFound, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    for name, record in result.sources.items():
        print(f"{result.out_dir}/{name} <- {sweep}/{record['run_dir']} ({args.metric} {record[args.metric]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
