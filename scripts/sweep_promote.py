#!/usr/bin/env python3
"""Promote the top runs of a sweep to a new sweep_configs/ (quick sweep, then full training).

    python scripts/sweep_promote.py [--sweep DIR] [--top 3] [--epochs N] [--out sweep_configs]

Then `make sweep-run` trains them, with the source sweep's trainer. See ksweep/promote.py.
"""

from __future__ import annotations

import argparse
import sys

import _cli

from ksweep.analyze import AnalyzeError
from ksweep.paths import NotFound, find_sweep
from ksweep.promote import epochs_text, promote
from ksweep.report import format_metric

PROG = "sweep_promote"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", help="sweep directory (default: the newest sweep_* under --results-dir)")
    parser.add_argument("--top", type=int, default=3, help="how many runs to promote (default 3)")
    parser.add_argument(
        "--epochs", type=int, help="set CONFIG_NUM_EPOCHS in every promoted config (default: as the runs had)"
    )
    parser.add_argument("--out", default="sweep_configs", help="folder to write (default sweep_configs)")
    _cli.add_ranking_args(parser, results_dir=True)
    args = parser.parse_args(argv)
    _cli.ranking_defaults(args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sweep = find_sweep(args.sweep, args.results_dir)
        result = promote(sweep, args.top, args.epochs, args.out, args.metric, args.mode)
    except (AnalyzeError, NotFound, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, record in result.sources.items():
        score = format_metric(args.metric, record[args.metric])
        print(f"{result.out_dir}/{name} <- {sweep}/{record['run_dir']} ({args.metric} {score})")
    print(f"epochs: {epochs_text(result.epochs, result.source_epochs)}")
    trainer = result.train_command or "built-in (python -m models.train)"
    print(
        f"trainer: {trainer}; make sweep-run without TRAIN_COMMAND uses it ({result.out_dir}/generate.json)"
    )
    if result.tie_note:
        print(f"ties: {result.tie_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
