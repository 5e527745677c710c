"""Promote the top runs of a sweep to a new sweep_configs/ (quick sweep, then full training).

    ksweep promote [--sweep DIR] [--top 3] [--epochs N] [--config-dir sweep_configs]
    python scripts/sweep_promote.py [--sweep DIR] [--top 3] [--epochs N] [--out sweep_configs]

Then `make sweep-run` (ksweep run) trains them, with the source sweep's trainer. See
ksweep/analysis/promote.py.
"""

from __future__ import annotations

import argparse
import sys

from ksweep.analysis.format import format_metric
from ksweep.analysis.promote import epochs_text, promote
from ksweep.analysis.ranking import AnalyzeError
from ksweep.cli import args as cli
from ksweep.config import trainer as builtin_trainer
from ksweep.contract.project import NotFound, command_line
from ksweep.folder.paths import find_sweep

TOP = 3  # runs promoted without TOP=


def parse_args(argv: list[str] | None, prog: str | None = None) -> argparse.Namespace:
    parser = cli.parser(__doc__, prog)
    cli.add_options(parser, "promote")
    return cli.with_defaults(parser.parse_args(argv), "promote")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    if (refused := cli.use_kconfig(args)) is not None:
        return refused
    try:
        sweep = find_sweep(args.sweep, args.output)
        result = promote(sweep, args.top or TOP, args.epochs, args.config_dir, args.metric, args.mode)
    except (AnalyzeError, NotFound, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, record in result.sources.items():
        score = format_metric(result.metric, record[result.metric])
        print(f"{result.out_dir}/{name} <- {sweep}/{record['run_dir']} ({result.metric} {score})")
    print(f"epochs: {epochs_text(result.epochs, result.source_epochs)}")
    trainer = result.train_command or builtin_trainer.DESCRIPTION
    run = command_line("sweep-run")
    print(f"trainer: {trainer}; {run} without TRAIN_COMMAND uses it ({result.out_dir}/generate.json)")
    if result.tie_note:
        print(f"ties: {result.tie_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
