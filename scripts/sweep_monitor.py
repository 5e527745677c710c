#!/usr/bin/env python3
"""Progress of a sweep running elsewhere (ksweep monitor, ksweep watch).

python scripts/sweep_monitor.py [--sweep DIR] [--watch [--interval S]]   (ksweep/cli/monitor.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("monitor"))
