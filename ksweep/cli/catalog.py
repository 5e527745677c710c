"""Every option of ksweep, gathered from the parts that declare them (ksweep.options).

Standard library only, like the declarations: the Makefile checks the variables a user
typed against this catalog with the system python3 before .venv exists.
"""

from ksweep.analysis import options as analysis
from ksweep.config import options as config
from ksweep.launchers import options as launchers
from ksweep.options import Catalog, Option
from ksweep.run import options as run
from ksweep.search import options as search
from ksweep.trackers import options as trackers

# Variables of the Makefile itself, not of a stage.
MAKE = (
    Option("v", bool, owner="make", make_only=True, metavar="1", help="show the commands make runs"),
    Option("quick", bool, owner="make", make_only=True, help="make bench: small sizes (what CI runs)"),
    Option(
        "venv", owner="make", make_only=True, metavar="dir", help="the virtual environment (default .venv)"
    ),
)
# Make's own variables a user may set on the command line.
MAKE_BUILTINS = ("MAKEFLAGS", "MFLAGS", "MAKEFILES", "SHELL", "MAKE", "MAKELEVEL", "CURDIR", "GNUMAKEFLAGS")

CATALOG = Catalog.of(
    config.OPTIONS, run.OPTIONS, launchers.OPTIONS, search.OPTIONS, trackers.OPTIONS, analysis.OPTIONS, MAKE
)
