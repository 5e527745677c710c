"""The optional parts of ksweep and what installs each: one line when a chosen part is missing.

The core (`pip install ksweep`) runs a grid on one machine with the built-in trainer and the
analysis. A part beyond it needs its extra, and choosing it without is refused before
anything is made:

    BACKEND=ray         Ray         pip install 'ksweep[ray]'
    BACKEND=slurm       submitit    pip install 'ksweep[slurm]'
    SEARCH=, PRUNER=    Optuna      pip install 'ksweep[search]'
    TRACKER=            the tracker pip install 'ksweep[tracking]'

In a checkout of the repository the same packages come pinned from its requirements file
(`pip install -r requirements-ray.txt`), which `make test` installs with everything else.
"""

from __future__ import annotations

import importlib.util

from ksweep.contract.project import CHECKOUT


def installed(module: str) -> bool:
    """Whether `module` can be imported here (without importing it: Ray takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that is not a package, or blocked in sys.modules
        return False


def install_command(extra: str) -> str:
    """What installs the extra `extra` (ray, slurm, search, tracking)."""
    if CHECKOUT:
        return f"pip install -r requirements-{extra}.txt"
    return f"pip install 'ksweep[{extra}]'"


def missing(setting: str, module: str, name: str, extra: str) -> str | None:
    """`BACKEND=ray needs Ray: pip install 'ksweep[ray]'` when `module` is not installed, else None."""
    return None if installed(module) else f"{setting} needs {name}: {install_command(extra)}"
