"""Where ksweep's own tree is, and the two helpers every message uses: a path shown short,
and the error for something the user named that is not there."""

from __future__ import annotations

from pathlib import Path

# The folder that holds ksweep/, models/, Kconfig and defconfigs/ (a checkout of this repository).
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


class NotFound(Exception):
    """A file or sweep the user named does not exist; the message says where we looked."""


def display(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
