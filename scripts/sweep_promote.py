#!/usr/bin/env python3
"""Promote the top runs of a sweep to a new sweep_configs/ (ksweep promote).

python scripts/sweep_promote.py [--sweep DIR] [--top 3] [--epochs N] [--out sweep_configs]
    (ksweep/cli/promote.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("promote"))
