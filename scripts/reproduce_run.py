#!/usr/bin/env python3
"""Train a finished run again from its folder alone: do its metrics match bit for bit?
(ksweep/analysis/reproduce.py)

python scripts/reproduce_run.py RUN_DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _cli

from ksweep.analysis.reproduce import ReproduceError, reproduce


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reproduce_run", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder: test_matrix_results/sweep_*/config_NNN_*")
    _cli.add_options(parser, "reproduce")
    args = parser.parse_args(argv)
    if (refused := _cli.use_kconfig(args)) is not None:
        return refused
    print(f"  REPRO   {args.run_dir}: training it again ...", flush=True)
    try:
        verdict = reproduce(args.run_dir)
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
