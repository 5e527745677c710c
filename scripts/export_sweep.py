#!/usr/bin/env python3
"""Export a sweep (finished or not) to the trackers labs look at; again is harmless (see ksweep/tracking.py).

python scripts/export_sweep.py --tracker mlflow,tensorboard [--sweep DIR]
"""

from __future__ import annotations

import argparse
import sys

import _cli  # noqa: F401 - puts the project on sys.path

from ksweep.paths import NotFound, display, find_sweep
from ksweep.tracking import TrackerError, export, parse_trackers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="export_sweep", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tracker", required=True, help="mlflow, tensorboard, wandb, trackio (comma-separated)"
    )
    parser.add_argument("--sweep", help="sweep directory (default: the newest)")
    parser.add_argument("--results-dir", default="test_matrix_results")
    args = parser.parse_args(argv)
    try:
        names = parse_trackers(args.tracker)
        if not names:
            raise TrackerError("TRACKER= is empty: name one or more of mlflow, tensorboard, wandb, trackio")
        sweep = find_sweep(args.sweep, args.results_dir)
    except (TrackerError, NotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    logged = export(sweep, names)
    if not logged:
        print(f"error: nothing exported from {display(sweep)}", file=sys.stderr)
        return 1
    print(f"  EXPORT  {display(sweep)}: {logged} runs to {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
