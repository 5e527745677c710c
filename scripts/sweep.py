#!/usr/bin/env python3
"""Generate, run and analyze a range file (ksweep sweep, make sweep).

python scripts/sweep.py RANGE_FILE [--jobs N] [--epochs N] [--repeats k] [--dry-run] ...
    (ksweep/cli/sweep.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("sweep", guarded=True))
