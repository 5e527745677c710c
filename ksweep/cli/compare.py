"""Two sweeps side by side: counts, best of each, the metric per shared swept value.

ksweep compare A B [--metric val_acc] [--mode max]     make sweep-compare A=dir B=dir
python scripts/sweep_compare.py SWEEP_A SWEEP_B [--metric val_acc] [--mode max]
"""

from __future__ import annotations

import sys

from ksweep.analysis.leaderboard import compare
from ksweep.analysis.ranking import AnalyzeError
from ksweep.cli import args as cli
from ksweep.contract.project import NotFound, command_line
from ksweep.folder.paths import find_sweep


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = cli.parser(__doc__, prog)
    parser.add_argument(
        "sweep_a", nargs="?", help="first sweep: a directory or a name under --results-dir (A)"
    )
    parser.add_argument("sweep_b", nargs="?", help="second sweep (B)")
    cli.add_options(parser, "compare")
    args = cli.with_defaults(parser.parse_args(argv), "compare")
    first = cli.one_of(parser, args.a, args.sweep_a, "A")
    second = cli.one_of(parser, args.b, args.sweep_b, "B")
    if not (first and second):
        parser.error(f"give two sweeps: {command_line('sweep-compare', a='dir', b='dir')}")
    try:
        a, b = (find_sweep(name, args.output) for name in (first, second))
        print(compare(a, b, args.metric, args.mode), end="")
    except (AnalyzeError, NotFound, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
