#!/usr/bin/env python3
"""Generate, run and analyze a range file, with configs of this command's own (see ksweep/cli/sweep.py).

python scripts/sweep.py RANGE_FILE [--jobs N] [--epochs N] [--repeats k] [--dry-run] ...
"""

from __future__ import annotations

import signal
import sys


def _stopped_while_starting(signum, frame) -> None:
    print("  STOP    interrupted while starting; nothing was started", file=sys.stderr)
    raise SystemExit(130)


# Until the run stage takes over its signals, a Ctrl-C or a TERM (while importing or
# generating) is one line, and the private configs folder is removed on the way out.
signal.signal(signal.SIGINT, _stopped_while_starting)
signal.signal(signal.SIGTERM, _stopped_while_starting)

import _cli  # noqa: E402

from ksweep.cli.sweep import sweep  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument("range_file", help="range defconfig: a path or a name under defconfigs/")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay line by line)")
    _cli.add_options(parser, "sweep")
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if k not in ("range_file", "no_progress")}
    return sweep(args.range_file, given, show_progress=not args.no_progress)


if __name__ == "__main__":
    sys.exit(main())
