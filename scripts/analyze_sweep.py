#!/usr/bin/env python3
"""Analyze one sweep: sweep_summary.json, sweep_analysis.txt, plots, best_model.pt.

    python scripts/analyze_sweep.py [--sweep DIR] [--metric val_acc] [--mode max]

Without --sweep it takes the newest sweep_* under --results-dir. The stage itself
lives in ksweep/analyze.py; this is argv → library.
"""

from __future__ import annotations

import argparse
import sys

import _cli

from ksweep.analyze import (
    AnalyzeError,
    write_report,
)
from ksweep.paths import NotFound, find_sweep
from ksweep.report import format_metric, status_counts

PROG = "analyze_sweep"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", nargs="?", help="same as --sweep")
    parser.add_argument("--sweep", help="sweep directory (default: the newest sweep_* under --results-dir)")
    _cli.add_ranking_args(parser, results_dir=True)
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--print", action="store_true", help="print sweep_analysis.txt when done")
    args = parser.parse_args(argv)
    _cli.ranking_defaults(args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sweep = find_sweep(args.sweep or args.sweep_dir, args.results_dir)
        result = write_report(sweep, args.metric, args.mode, plots=not args.no_plots)
    except (AnalyzeError, NotFound, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{status} {n}" for status, n in status_counts(result.records).items())
    print(f"{sweep}: {len(result.records)} runs ({counts})")
    if result.best:
        best = result.best
        score = format_metric(result.metric, best[result.metric])
        test = format_metric("test_acc", best.get("test_acc"))
        tied = f", tied with {len(result.ties)} other(s)" if result.ties else ""
        print(f"best: {best['config_file']} {result.metric} {score} ({result.mode}{tied}; test_acc {test})")
    else:
        print(f"best: none (no completed run has {result.metric})")
    print(f"wrote {result.path}")
    if args.print:
        print()
        print(result.path.read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
