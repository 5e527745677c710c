"""Analyze one sweep: sweep_summary.json, sweep_analysis.txt, plots, best_model.pt.

    ksweep analyze [--sweep DIR] [--metric val_acc] [--mode max]     make sweep-analyze
    python scripts/analyze_sweep.py [--sweep DIR] [--metric val_acc] [--mode max]

Without --sweep it takes the newest sweep_* under --results-dir. The stage itself
lives in ksweep/analysis/analyze.py; this is argv → library.
"""

from __future__ import annotations

import argparse
import sys

from ksweep.analysis.analyze import write_report
from ksweep.analysis.format import format_metric
from ksweep.analysis.pareto import front_text
from ksweep.analysis.ranking import AnalyzeError
from ksweep.analysis.report import status_counts
from ksweep.cli import args as cli
from ksweep.contract.project import NotFound
from ksweep.folder.paths import find_sweep


def parse_args(argv: list[str] | None, prog: str | None = None) -> argparse.Namespace:
    parser = cli.parser(__doc__, prog)
    parser.add_argument("sweep_dir", nargs="?", help="same as --sweep")
    cli.add_options(parser, "analyze")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--print", action="store_true", help="print sweep_analysis.txt when done")
    args = parser.parse_args(argv)
    return cli.with_defaults(args, "analyze")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    if (refused := cli.use_kconfig(args)) is not None:
        return refused
    try:
        sweep = find_sweep(args.sweep or args.sweep_dir, args.output)
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
    if result.front is not None:
        print(f"pareto: {front_text(result.front)}")
    print(f"wrote {result.path}")
    if args.print:
        print()
        print(result.path.read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
