"""Defconfigs and range files by name: a path, a name under defconfigs/, or a path's file name there.

defconfigs/ is the one beside the Kconfig in use (ksweep.config.kconf): the built-in one's, or a
project's own next to its Kconfig.
"""

from __future__ import annotations

from pathlib import Path

from ksweep.config.kconf import kconfig_file
from ksweep.config.rangefile import read_lines
from ksweep.contract.project import NotFound, display

CONFIG_DIR = Path("sweep_configs")
QUICK_RANGE = "lenet5-digits-quick-range"  # make sweep without RANGE_CONFIG: the quick embedded sweep


def defconfig_dir() -> Path:
    """The defconfigs/ folder beside the Kconfig in use."""
    return kconfig_file().parent / "defconfigs"


def default_range() -> str:
    """The range file of a sweep given none: the quick embedded sweep, where the Kconfig has it."""
    if (defconfig_dir() / QUICK_RANGE).is_file():
        return QUICK_RANGE
    raise NotFound(
        f"no range file given, and {display(defconfig_dir())}/ beside {display(kconfig_file())} has no "
        f"{QUICK_RANGE}: name one (RANGE_CONFIG=file, or ksweep sweep FILE)"
    )


def find_defconfig(name: str | Path) -> Path:
    """A defconfig or range file by path, by name under defconfigs/, or by the path's file name there.

    The last form makes the seed guide's `RANGE_CONFIG=resnet18/defconfigs/<name>` work.
    """
    given = Path(name)
    folder = defconfig_dir()
    candidates = [given, folder / given, folder / given.name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise NotFound(f"{name}: no such file (looked at {given} and in {display(folder)}/)")


def is_range_file(path: Path) -> bool:
    """Whether `path` sweeps anything (a `|` choice or a `start:step:end` range on a line), by
    what it holds, not by its name."""
    try:
        axes, _ = read_lines(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError):
        return False
    return any(axis.is_swept for axis in axes)


def list_defconfigs() -> list[Path]:
    return sorted(p for p in defconfig_dir().rglob("*") if p.is_file() and not p.name.startswith("."))
