"""Train a finished run again from its folder alone: do its metrics match bit for bit?
(ksweep/analysis/reproduce.py)

    ksweep reproduce RUN_DIR        make sweep-reproduce RUN=dir
    python scripts/reproduce_run.py RUN_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from ksweep.analysis.reproduce import ReproduceError, reproduce
from ksweep.cli import args as cli
from ksweep.contract.project import command_line


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = cli.parser(__doc__, prog)
    parser.add_argument(
        "run_dir", nargs="?", help="a run folder: test_matrix_results/sweep_*/config_NNN_* (RUN)"
    )
    cli.add_options(parser, "reproduce")
    args = parser.parse_args(argv)
    run_dir = cli.one_of(parser, args.run, args.run_dir, "RUN")
    if not run_dir:
        parser.error(f"give the run folder to train again: {command_line('sweep-reproduce', run='dir')}")
    if (refused := cli.use_kconfig(args)) is not None:
        return refused
    print(f"  REPRO   {run_dir}: training it again ...", flush=True)
    try:
        verdict = reproduce(Path(run_dir))
    except ReproduceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for note in verdict.notes:
        print(f"  NOTE    {note}")
    if verdict.identical:
        print("  SAME    identical: every epoch and the final metrics match bit for bit (timings aside)")
        return 0
    print(f"  DIFFERS {len(verdict.differences)} metric(s) differ:")
    for line in verdict.differences[:20]:
        print(f"          {line}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
