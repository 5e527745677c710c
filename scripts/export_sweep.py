#!/usr/bin/env python3
"""Export a sweep to the trackers (ksweep export).

python scripts/export_sweep.py --tracker mlflow,tensorboard [--sweep DIR]   (ksweep/cli/export.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("export"))
