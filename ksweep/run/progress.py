"""A sweep's progress as `make sweep-monitor` shows it: counts by state over its plan, and an ETA.

Read from the sweep folder alone, whether or not a runner is working on it; each run's
state comes from ksweep.contract.state, the same answer the report and resume get.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ksweep.contract import state
from ksweep.contract.records import read_metrics
from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.lock import lock_holder
from ksweep.folder.plan import load_plan, read_manifest
from ksweep.run.summary import format_duration
from ksweep.search.strategy import space_size


@dataclass
class Progress:
    counts: Counter
    total: int
    runner_pid: int | None
    mean_seconds: float | None
    jobs: int

    @property
    def finished(self) -> int:
        return sum(n for s, n in self.counts.items() if s in state.FINISHED)

    @property
    def eta_seconds(self) -> float | None:
        if self.mean_seconds is None:
            return None
        return (self.total - self.finished) * self.mean_seconds / max(1, self.jobs)

    def line(self) -> str:
        c = self.counts
        failed = sum(c[s] for s in state.FAILURES)
        parts = [f"{self.finished}/{self.total} done", f"{c[state.COMPLETED]} completed", f"{failed} failed"]
        parts += [f"{c[state.PRUNED]} pruned"] if c[state.PRUNED] else []
        parts += [f"{c[state.RUNNING]} running", f"{c[state.PENDING] + c[state.INTERRUPTED]} pending"]
        eta = self.eta_seconds
        parts.append(f"ETA {format_duration(eta)}" if eta is not None and self.runner_pid else "")
        runner = f"runner pid {self.runner_pid}" if self.runner_pid else "no runner attached"
        return ", ".join(p for p in parts if p) + f" ({runner})"


def run_states(sweep_dir: Path, plan: list | None = None, alive: bool | None = None) -> list[tuple]:
    """(run, its state, its metrics) for every run of `plan` (default: the sweep's); `alive`:
    whether a runner works on the sweep (default: ask its lock)."""
    paths = SweepPaths(sweep_dir)
    alive = lock_holder(sweep_dir) is not None if alive is None else alive
    rows = []
    for run in load_plan(sweep_dir) if plan is None else plan:
        run_paths = paths.run(run.run_dir)
        metrics = read_metrics(run_paths.root)
        rows.append((run, state.run_state(metrics, alive, run_paths.config.exists()), metrics))
    return rows


def sweep_progress(sweep_dir: Path) -> Progress:
    """Counts by state over the sweep's plan, whether or not a runner is working on it."""
    holder = lock_holder(sweep_dir)
    rows = run_states(sweep_dir, alive=holder is not None)
    counts = Counter(run_state for _, run_state, _ in rows)
    seconds = [(m or {}).get("runner", {}).get("wall_seconds") for _, s, m in rows if s == state.COMPLETED]
    seconds = [s for s in seconds if s is not None]
    options = read_manifest(sweep_dir).get("options", {})
    mean = sum(seconds) / len(seconds) if seconds else None
    total = max(len(rows), search_total(sweep_dir, options))
    counts[state.PENDING] += total - len(rows)  # a search's runs not proposed yet
    return Progress(counts, total, holder, mean, options.get("jobs") or 1)


def search_total(sweep_dir: Path, options: dict) -> int:
    """The runs a SEARCH sweep will have: SAMPLES configs (or every config of its space, if
    fewer), each with its seeds; 0 for a grid."""
    if (options.get("search") or "grid") == "grid":
        return 0
    configs, seeds = space_size(sweep_dir)
    samples = options.get("samples") or configs or 0
    return (samples if configs is None else min(samples, configs)) * seeds
