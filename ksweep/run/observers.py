"""The run stage's own observers: the progress bar and the summary writer.

The events they hear, and how a tracker becomes one more observer: ksweep.folder.events.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tqdm import tqdm

from ksweep.contract.state import COMPLETED, FINISHED, PRUNED
from ksweep.folder.events import Observer
from ksweep.folder.plan import PlannedRun
from ksweep.run.summary import SummaryWriter, format_duration


class SummaryObserver(Observer):
    """sweep_summary.json rewritten as runs finish, so a killed sweep has a current one.

    Each finished run is read at once (only that run: ksweep.run.summary.SummaryWriter) and
    the file is rewritten after it, unless writing it would take more than BUDGET of the
    time since the last write: runs that end faster than that (5,000 runs of 10 ms, where
    one write of the 2 MB file costs milliseconds) are written together at the next run
    that may, the scheduler's next idle moment (within 0.25 s) or the sweep's end. Runs
    that take seconds get the file rewritten after every one.
    """

    BUDGET = 0.1

    def __init__(self, sweep_dir: Path):
        self.writer = SummaryWriter(sweep_dir)
        self.written, self.cost = time.monotonic(), 0.0

    def run_finished(self, run: PlannedRun, metrics: dict) -> None:
        self.writer.run_finished(run.run_dir, write=False)
        if self.cost <= self.BUDGET * (time.monotonic() - self.written):
            self.flush()

    def idle(self) -> None:
        if self.writer.dirty:
            self.flush()

    def flush(self) -> None:
        started = time.monotonic()
        self.writer.flush()
        self.written = time.monotonic()
        self.cost = self.written - started

    def sweep_finished(self, result) -> None:
        self.flush()


class ProgressBar(Observer):
    """A tqdm bar with done / failed / running counts and an ETA, and one line per finished run.

    Without a terminal (`nohup make sweep > log`, the go-to-bed case) there is no bar: a
    PROGRESS line with the counts and the ETA follows the first finished run, then at most
    one every PROGRESS_SECONDS, and one after the last."""

    PROGRESS_SECONDS = 60.0

    def __init__(self, show: bool = True):
        self.show = show
        self.counts = {"completed": 0, "failed": 0, "pruned": 0, "running": 0}
        self.bar = None
        self.running: set[str] = set()
        self.total = self.done = self.finished_here = 0
        self.started = self.said_at = 0.0
        self.said_trainer_wins = False

    def sweep_started(self, total: int, done: int) -> None:
        self.total, self.done = total, done
        self.started, self.said_at = time.monotonic(), -self.PROGRESS_SECONDS
        self.bar = tqdm(
            total=total,
            initial=done,
            unit="run",
            disable=not (self.show and sys.stderr.isatty()),
            dynamic_ncols=True,
            leave=True,
        )

    def run_started(self, run: PlannedRun, attempt: int) -> None:
        self.running.add(run.run_dir)
        self.counts["running"] = len(self.running)
        self.bar.set_postfix(self.counts, refresh=True)

    def run_retrying(self, run: PlannedRun, metrics: dict, attempt: int) -> None:
        self.running.discard(run.run_dir)
        self.counts["running"] = len(self.running)
        why = f"{metrics['status']}: {metrics['error']}" if metrics.get("error") else metrics["status"]
        self.bar.write(f"  RETRY   {run.run_dir}: {why} (attempt {attempt}), trying again")

    def run_finished(self, run: PlannedRun, metrics: dict) -> None:
        status = metrics["status"]
        self.running.discard(run.run_dir)  # a run stopped with its config before it started was never running
        self.counts["running"] = len(self.running)
        if status in (COMPLETED, PRUNED):
            self.counts[status] += 1
        elif status in FINISHED:
            self.counts["failed"] += 1
        self.bar.write(f"  RUN     {run.run_dir}: {result_text(metrics)}")
        if metrics.get("runner", {}).get("metrics_from") == "trainer" and not self.said_trainer_wins:
            self.said_trainer_wins = True
            self.bar.write(
                f"  NOTE    LOG_METRICS: {run.run_dir} wrote its own training_metrics.json: the trainer's "
                "record wins, its output is not read (said once; each run's runner.metrics_from says which)"
            )
        if status in FINISHED:
            self.bar.update(1)
            self.done += 1
            self.finished_here += 1
        self.bar.set_postfix(self.counts, refresh=True)
        if self.show and self.bar.disable:
            self._progress_line()

    def _progress_line(self) -> None:
        now = time.monotonic()
        if now - self.said_at < self.PROGRESS_SECONDS and self.done < self.total:
            return
        self.said_at = now
        left = max(0, self.total - self.done)
        eta = (now - self.started) / self.finished_here * left if self.finished_here else None
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items() if name != "running")
        print(
            f"  PROGRESS {self.done}/{self.total} done (this command: {counts}), "
            f"{self.counts['running']} running"
            + (f", ETA {format_duration(eta)}" if eta is not None and left else ""),
            flush=True,
        )

    def sweep_finished(self, result) -> None:
        self.bar.close()


def result_text(metrics: dict) -> str:
    status = metrics["status"]
    seconds = metrics.get("runner", {}).get("wall_seconds", 0)
    if status == COMPLETED:
        final = metrics.get("final") or {}
        shown = [
            f"{k} {final[k]:.2f}" for k in ("val_acc", "test_acc") if isinstance(final.get(k), (int, float))
        ]
        return f"completed in {seconds:.1f} s" + (f" ({', '.join(shown)})" if shown else "")
    if status == PRUNED:
        return f"pruned after {seconds:.1f} s: {metrics.get('error')}"
    error = (metrics.get("error") or "").splitlines()
    tail = (metrics.get("log_tail") or "").splitlines()
    return (
        f"{status.upper()} after {seconds:.1f} s"
        + (f": {error[0]}" if error else "")
        + (
            f" (last output: {tail[-1].strip()})"
            if tail and tail[-1].strip() not in "".join(error[:1])
            else ""
        )
    )
