"""What the command-line scripts share: this checkout's ksweep first on sys.path (from any
working directory), and the one implementation of each command, ksweep.cli.<module>: what
the `ksweep` command and the Makefile run too, with the same messages and exit codes."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def run(module: str, guarded: bool = False, **fixed) -> int:
    """ksweep.cli.<module>'s main over this script's arguments; its exit code."""
    from ksweep.cli.main import run_module  # the standard library only, until the module loads

    return run_module(f"ksweep.cli.{module}", sys.argv[1:], guarded=guarded, **fixed)
