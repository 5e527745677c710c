"""What state each run of a sweep is in, read from its files, and the runner's final word on it.

A run's status lives in its own training_metrics.json. The trainer writes it; when the
trainer could not (it crashed, was killed, hung, or is a custom command that wrote
nothing), the runner writes the status itself with the reason and the log's last lines.
Progress (`make sweep-monitor`) is counted from the sweep's plan, so runs that have not
started yet count as pending, not as missing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ksweep.launch import describe_exit
from ksweep.plan import PlannedRun, load_plan, lock_holder, read_manifest
from ksweep.records import LOG_FILE, new_metrics, read_json, read_metrics, read_tail, write_json_atomic

RETRYABLE = frozenset({"failed", "timeout"})
LOG_TAIL_LINES = 5


def run_status(sweep_dir: Path, run: PlannedRun) -> str:
    """completed | failed | diverged | timeout | interrupted | running | pending."""
    metrics = read_metrics(sweep_dir / run.run_dir)
    return metrics.get("status", "pending") if metrics else "pending"


def needs_run(status: str, retry_failed: bool) -> bool:
    """Completed runs are never redone; failures only when asked; the rest always."""
    if status in ("completed", "diverged"):
        return False
    if status in RETRYABLE:
        return retry_failed
    return True  # pending, interrupted, or `running` left behind by a killed runner


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join((read_tail(log) or "").splitlines()[-lines:])


@dataclass
class Outcome:
    """How a run ended, as the runner saw it."""

    exit_code: int | None
    wall_seconds: float
    attempts: int
    config_hash: str
    killed_for: str | None = None  # "timeout" or "interrupted" when the runner killed it
    timeout: float | None = None


def finalize(run_dir: Path, outcome: Outcome) -> dict:
    """Settle the run's status in its training_metrics.json and add the runner's record."""
    metrics = read_metrics(run_dir) or new_metrics()
    status = metrics.get("status")
    if outcome.killed_for == "timeout":
        metrics.update(status="timeout", error=f"killed after RUN_TIMEOUT={outcome.timeout:g} s")
    elif outcome.killed_for == "interrupted":
        metrics.update(status="interrupted", error="interrupted (Ctrl-C or SIGTERM); rerun to resume")
    elif status in ("failed", "diverged") or (status == "completed" and outcome.exit_code == 0):
        pass  # the trainer's own word
    else:
        why = describe_exit(outcome.exit_code)
        if outcome.exit_code == 0:
            why += " without writing a completed training_metrics.json"
        # The reason stays one stable line (failures group by it); the log's tail beside it.
        metrics.update(status="failed", error=why, log_tail=log_tail(run_dir / LOG_FILE))
    metrics["runner"] = {
        "exit_code": outcome.exit_code,
        "wall_seconds": round(outcome.wall_seconds, 3),
        "attempts": outcome.attempts,
        "config_hash": outcome.config_hash,
    }
    write_json_atomic(run_dir / "training_metrics.json", metrics)
    return metrics


@dataclass
class Progress:
    counts: Counter
    total: int
    runner_pid: int | None
    mean_seconds: float | None
    jobs: int

    @property
    def finished(self) -> int:
        return sum(n for s, n in self.counts.items() if s not in ("pending", "running", "interrupted"))

    @property
    def eta_seconds(self) -> float | None:
        if self.mean_seconds is None:
            return None
        remaining = self.total - self.finished
        return remaining * self.mean_seconds / max(1, self.jobs)

    def line(self) -> str:
        c = self.counts
        failed = c["failed"] + c["diverged"] + c["timeout"]
        parts = [f"{self.finished}/{self.total} done", f"{c['completed']} completed", f"{failed} failed"]
        parts += [f"{c['running']} running", f"{c['pending'] + c['interrupted']} pending"]
        eta = self.eta_seconds
        parts.append(f"ETA {format_seconds(eta)}" if eta is not None and self.runner_pid else "")
        runner = f"runner pid {self.runner_pid}" if self.runner_pid else "no runner attached"
        return ", ".join(p for p in parts if p) + f" ({runner})"


def sweep_progress(sweep_dir: Path) -> Progress:
    """Counts by status over the sweep's plan, whether or not a runner is working on it."""
    plan = load_plan(sweep_dir)
    holder = lock_holder(sweep_dir)
    counts: Counter = Counter()
    seconds = []
    for run in plan:
        metrics = read_metrics(sweep_dir / run.run_dir)
        status = metrics.get("status", "pending") if metrics else "pending"
        if status == "running" and holder is None:
            status = "interrupted"  # left behind by a runner that is gone
        counts[status] += 1
        wall = (metrics or {}).get("runner", {}).get("wall_seconds")
        if wall is not None and status == "completed":
            seconds.append(wall)
    jobs = read_manifest(sweep_dir).get("options", {}).get("jobs") or 1
    mean = sum(seconds) / len(seconds) if seconds else None
    return Progress(counts, len(plan), holder, mean, jobs)


def typical_run_seconds(results_dir: Path, range_file: str | None) -> float | None:
    """Mean time of a completed run in the newest earlier sweep of the same range file."""
    for summary in sorted(Path(results_dir).glob("sweep_*/sweep_summary.json"), reverse=True):
        if range_file is None or read_manifest(summary.parent).get("range_file") != range_file:
            continue
        records = read_json(summary) or []
        times = [r["total_time"] for r in records if r.get("success") and r.get("total_time")]
        if times:
            return sum(times) / len(times)
    return None


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
