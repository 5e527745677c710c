"""Run a sweep: every config in sweep_configs/ trained into test_matrix_results/sweep_*/
(see ksweep/run/stage.py).

    ksweep run [--sweep DIR] [--jobs N] ...      make sweep-run
    ksweep resume [--sweep DIR]                  make sweep-resume
    python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir my_sweep_results
    python scripts/run_test_matrix.py --resume [--sweep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys

from ksweep.analysis.analyze import report_after_run
from ksweep.cli import args as cli
from ksweep.run.stage import RunRequest, run_stage


def parse_args(argv: list[str] | None, prog: str | None, command: str) -> argparse.Namespace:
    parser = cli.parser(__doc__, prog)
    if command == "run":
        parser.add_argument(
            "--resume", action="store_true", help="continue the newest sweep (or --sweep) from its plan"
        )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay line by line)")
    cli.add_options(parser, command)
    args = parser.parse_args(argv)  # no defaults: an option not given is taken as the sweep keeps it
    args.resume = command == "resume" or args.resume
    return args


def request_from(args: argparse.Namespace) -> RunRequest:
    given = {k: v for k, v in vars(args).items() if k not in ("resume", "no_progress")}
    return RunRequest(
        given=given, resume=args.resume, show_progress=not args.no_progress, report=report_after_run
    )


def main(argv: list[str] | None = None, prog: str | None = None, command: str = "run") -> int:
    request = request_from(parse_args(argv, prog, command))
    try:
        return run_stage(request)
    except BrokenPipeError:  # `make sweep-run DRY_RUN=1 | head` stops reading early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
