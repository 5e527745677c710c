#!/usr/bin/env python3
"""Run a sweep: every config in sweep_configs/ trained into test_matrix_results/sweep_*/
(see ksweep/run/stage.py).

python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir my_sweep_results
python scripts/run_test_matrix.py --resume [--sweep DIR]
"""

from __future__ import annotations

import signal
import sys


def _stopped_while_starting(signum, frame) -> None:
    print("  STOP    interrupted while starting; nothing was started", file=sys.stderr)
    raise SystemExit(130)


# Until the run stage takes over its signals (ksweep.run.stage.StopSignals), a Ctrl-C or a TERM
# lands in the imports below: say so in one line instead of a traceback.
signal.signal(signal.SIGINT, _stopped_while_starting)
signal.signal(signal.SIGTERM, _stopped_while_starting)

import argparse  # noqa: E402
import os  # noqa: E402

import _cli  # noqa: E402

from ksweep.analysis.analyze import report_after_run  # noqa: E402
from ksweep.run.stage import RunRequest, run_stage  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument(
        "--resume", action="store_true", help="continue the newest sweep (or --sweep) from its plan"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay line by line)")
    _cli.add_options(parser, "run")
    return parser.parse_args(argv)  # no defaults: an option not given is taken as the sweep keeps it


def request_from(args: argparse.Namespace) -> RunRequest:
    given = {k: v for k, v in vars(args).items() if k not in ("resume", "no_progress")}
    return RunRequest(
        given=given, resume=args.resume, show_progress=not args.no_progress, report=report_after_run
    )


def main(argv: list[str] | None = None) -> int:
    request = request_from(parse_args(argv))
    try:
        return run_stage(request)
    except BrokenPipeError:  # `make sweep-run DRY_RUN=1 | head` stops reading early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
