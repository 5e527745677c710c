"""`python -m ksweep ...` is the `ksweep` command (ksweep.cli.main); the Makefile runs it so."""

import sys

from ksweep.cli.main import main

sys.exit(main())
