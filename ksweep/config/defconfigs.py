"""Defconfigs and range files by name: a path, a name under defconfigs/, or a path's file name there."""

from __future__ import annotations

from pathlib import Path

from ksweep.config.rangefile import read_lines
from ksweep.contract.project import BUILTIN_ROOT, NotFound, display

DEFCONFIG_DIR = BUILTIN_ROOT / "defconfigs"
CONFIG_DIR = Path("sweep_configs")


def find_defconfig(name: str | Path) -> Path:
    """A defconfig or range file by path, by name under defconfigs/, or by the path's file name there.

    The last form makes the seed guide's `RANGE_CONFIG=resnet18/defconfigs/<name>` work.
    """
    given = Path(name)
    candidates = [given, DEFCONFIG_DIR / given, DEFCONFIG_DIR / given.name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise NotFound(f"{name}: no such file (looked at {given} and in {display(DEFCONFIG_DIR)}/)")


def is_range_file(path: Path) -> bool:
    """Whether `path` sweeps anything (a `|` choice or a `start:step:end` range on a line), by
    what it holds, not by its name."""
    try:
        axes, _ = read_lines(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError):
        return False
    return any(axis.is_swept for axis in axes)


def list_defconfigs() -> list[Path]:
    return sorted(p for p in DEFCONFIG_DIR.rglob("*") if p.is_file() and not p.name.startswith("."))
