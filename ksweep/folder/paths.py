"""Where sweeps are: the results folder, its sweeps, and its newest one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ksweep.contract.project import NotFound, command_line
from ksweep.contract.records import config_values, read_json
from ksweep.contract.sweepdir import RunPaths, SweepPaths

RESULTS_DIR = Path("test_matrix_results")
SWEEP_PREFIX = "sweep_"


def find_sweeps(results_dir: Path | str) -> list[Path]:
    """The sweep folders under `results_dir`, oldest first (sweep_YYYYMMDD_HHMMSS sorts by time)."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    named = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(SWEEP_PREFIX))
    others = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(SWEEP_PREFIX))
    # An --output-dir of the runner may hold sweeps of any name: those with runs count too.
    return named + [p for p in others if has_runs(p)]


def newest_sweep(results_dir: Path | str = RESULTS_DIR) -> Path:
    """The sweep under `results_dir` created last (or `results_dir` itself when it holds runs).

    Creation time comes from sweep.json (the folder's time when it has none), so a copy
    or a hand-named sweep never shadows the sweeps made after it.
    """
    root = Path(results_dir)
    sweeps = find_sweeps(root)
    if sweeps:
        return max(sweeps, key=lambda p: (_created(p), p.name))
    if root.is_dir() and has_runs(root):
        return root
    raise NotFound(f"no sweep found under {root}: run `{command_line('sweep')}` first, or pass SWEEP=dir")


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


def has_runs(folder: Path) -> bool:
    """Whether `folder` holds a run directory (one with a config.txt or a training_metrics.json)."""
    return any(
        child.is_dir() and (RunPaths(child).config.exists() or RunPaths(child).metrics.exists())
        for child in folder.iterdir()
        if not child.name.startswith(".") and child.name != SweepPaths.PLAN_DIR
    )


def seconds_per_epoch(
    results_dir: Path | str, range_file: str | None, train_command: str | None
) -> float | None:
    """A completed run's mean seconds per configured epoch (its NUM_EPOCHS, as it ran) in the
    newest earlier sweep of `range_file` with the same trainer, whatever its EPOCHS (another
    trainer says nothing about this one's time); None when no such sweep finished a run."""
    if range_file is None:
        return None
    for sweep_dir in reversed(find_sweeps(results_dir)):
        paths = SweepPaths(sweep_dir)
        manifest = read_json(paths.manifest) or {}
        trainer = (manifest.get("options") or {}).get("train_command")
        if manifest.get("range_file") != range_file or trainer != train_command:
            continue
        rates = []
        for record in read_json(paths.summary) or []:
            if record.get("success") and record.get("total_time"):
                epochs = config_epochs(paths.run(record["run_dir"]).config)
                rates += [record["total_time"] / epochs] if epochs else []
        if rates:
            return sum(rates) / len(rates)
    return None


def config_epochs(config: Path) -> int | None:
    """CONFIG_NUM_EPOCHS of a run's config.txt, if it says."""
    try:
        value = config_values(config.read_text(encoding="utf-8")).get("CONFIG_NUM_EPOCHS", "")
    except OSError:
        return None
    return int(value) if value.isdigit() and int(value) > 0 else None
