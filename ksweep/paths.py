"""Where things are: the project, defconfigs by name, the results folder and its newest sweep."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ksweep.kconf import PROJECT_ROOT
from ksweep.records import read_json
from ksweep.sweepdir import SweepPaths

DEFCONFIG_DIR = PROJECT_ROOT / "defconfigs"
RESULTS_DIR = Path("test_matrix_results")
CONFIG_DIR = Path("sweep_configs")
SWEEP_PREFIX = "sweep_"


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


def find_sweeps(results_dir: Path | str) -> list[Path]:
    """The sweep folders under `results_dir`, oldest first (sweep_YYYYMMDD_HHMMSS sorts by time)."""
    from ksweep.summary import run_dirs

    root = Path(results_dir)
    if not root.is_dir():
        return []
    named = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(SWEEP_PREFIX))
    others = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(SWEEP_PREFIX))
    # An --output-dir of the runner may hold sweeps of any name: those with runs count too.
    return named + [p for p in others if run_dirs(p)]


def newest_sweep(results_dir: Path | str = RESULTS_DIR) -> Path:
    """The sweep under `results_dir` created last (or `results_dir` itself when it holds runs).

    Creation time comes from sweep.json (the folder's time when it has none), so a copy
    or a hand-named sweep never shadows the sweeps made after it.
    """
    from ksweep.summary import run_dirs

    root = Path(results_dir)
    sweeps = find_sweeps(root)
    if sweeps:
        return max(sweeps, key=lambda p: (_created(p), p.name))
    if root.is_dir() and run_dirs(root):
        return root
    raise NotFound(f"no sweep found under {root}: run `make sweep` first, or pass SWEEP=dir")


def find_sweep(name: str | Path | None, results_dir: Path | str = RESULTS_DIR) -> Path:
    """SWEEP=: a path, or a sweep's name under `results_dir` (as the leaderboard prints it);
    the newest sweep when not given."""
    if not name:
        return newest_sweep(results_dir)
    for candidate in (Path(name), Path(results_dir) / name):
        if candidate.is_dir():
            return candidate
    raise NotFound(f"{name}: no such sweep (looked at {name} and in {results_dir}/)")


def _created(sweep_dir: Path) -> str:
    manifest = read_json(SweepPaths(sweep_dir).manifest)
    if isinstance(manifest, dict) and isinstance(manifest.get("created"), str):
        return manifest["created"]
    return dt.datetime.fromtimestamp(sweep_dir.stat().st_mtime).isoformat(timespec="seconds")


def display(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
