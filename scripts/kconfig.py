#!/usr/bin/env python3
"""The kernel's Kconfig targets over the project's Kconfig (ksweep defconfig, savedefconfig, ...).

python scripts/kconfig.py defconfig NAME | savedefconfig | olddefconfig | menuconfig | list
    (ksweep/cli/kconfig.py)
"""

import sys

import _cli

if __name__ == "__main__":
    sys.exit(_cli.run("kconfig"))
