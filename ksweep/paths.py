"""Where things are: the project, defconfigs by name, the results folder and its newest sweep."""

from __future__ import annotations

from pathlib import Path

from ksweep.kconf import PROJECT_ROOT

DEFCONFIG_DIR = PROJECT_ROOT / "defconfigs"
RESULTS_DIR = Path("test_matrix_results")
CONFIG_DIR = Path("sweep_configs")


class NotFound(Exception):
    """A file or sweep the user named does not exist; the message says where we looked."""


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


def list_defconfigs() -> list[Path]:
    return sorted(p for p in DEFCONFIG_DIR.rglob("*") if p.is_file() and not p.name.startswith("."))


def newest_sweep(results_dir: Path | str = RESULTS_DIR) -> Path:
    """The most recently created sweep_* folder under `results_dir`."""
    sweeps = sorted(Path(results_dir).glob("sweep_*"))
    sweeps = [s for s in sweeps if s.is_dir()]
    if not sweeps:
        raise NotFound(f"no sweep in {results_dir}/ yet: run `make sweep` or `make sweep-run` first")
    return sweeps[-1]


def display(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
