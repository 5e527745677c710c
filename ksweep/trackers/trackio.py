"""TRACKER=trackio: a sweep as a trackio project ("ksweep-" + the sweep's name), each run a run in it.

trackio keeps its projects locally (TRACKIO_DIR, by default ~/.cache/huggingface/trackio);
`trackio show --project ksweep-<sweep>` opens the dashboard. Each run holds its CONFIG_
symbols, status and env as config, and every epoch's metrics with the epoch as step (as
the run trains), then its final metrics. Logging a run again deletes its earlier run of
that name first.
"""

from __future__ import annotations

from pathlib import Path

from trackio import SQLiteStorage

from ksweep.trackers.tracking import TrackedRun


def project_of(sweep: str) -> str:
    return f"ksweep-{sweep}"


class Tracker:
    name = "trackio"

    def __init__(self, sweep_dir: Path, manifest: dict):
        self.project = project_of(sweep_dir.name)
        self.live: set[str] = set()  # run dirs whose epochs are being logged as they train

    def log_epoch(self, run: TrackedRun, epoch: int, row: dict[str, float]) -> None:
        # trackio's own store, written as its local sender writes it (trackio.init would
        # print to the runner's stdout and start a thread per run).
        if run.name not in self.live:
            if run.name in SQLiteStorage.get_runs(self.project):
                SQLiteStorage.delete_run(self.project, run.name)  # a rerun's curves start afresh
            self.live.add(run.name)
        SQLiteStorage.bulk_log(self.project, run.name, [row], [epoch], config={**run.params, **run.tags()})

    def log_run(self, run: TrackedRun) -> bool:
        """The whole run, written afresh (its live epochs are replaced by the same and the rest)."""
        was_live = run.name in self.live
        self.live.discard(run.name)
        replaced = run.name in SQLiteStorage.get_runs(self.project) and not was_live
        if replaced or was_live:
            SQLiteStorage.delete_run(self.project, run.name)  # replaced: no duplicate
        rows = run.epoch_metrics()
        metrics, steps = [row for _, row in rows], [epoch for epoch, _ in rows]
        finals = {f"final_{k}": v for k, v in run.final_metrics().items()}
        if finals:
            metrics.append(finals)
            steps.append(steps[-1] if steps else 0)
        config = {**run.params, **run.tags()}
        SQLiteStorage.bulk_log(self.project, run.name, metrics or [{}], steps or [0], config=config)
        return replaced

    def close(self) -> None: ...
