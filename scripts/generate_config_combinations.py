#!/usr/bin/env python3
"""Expand a range defconfig into sweep_configs/config_NNN (ksweep generate).

python scripts/generate_config_combinations.py RANGE_FILE [OUT_DIR] [--max-configs N] [--repeats k]
    (ksweep/cli/generate.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("generate"))
