#!/usr/bin/env python3
"""Train a finished run again from its folder alone (ksweep reproduce).

python scripts/reproduce_run.py RUN_DIR   (ksweep/cli/reproduce.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("reproduce"))
