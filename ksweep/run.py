"""Run: every planned config trained once, surviving crashes, hangs and Ctrl-C, resumable.

    make sweep-run                        sweep_configs/ → a new test_matrix_results/sweep_*/
    make sweep-run SWEEP=dir              extend that sweep with the configs it has not run
    make sweep-resume [SWEEP=dir]         continue the newest sweep (or dir) from its own plan
    python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir DIR

The scheduler keeps JOBS runs in flight (one slot per GPU, JOBS_PER_GPU per GPU when
there are GPUs; each slot gets its own CUDA_VISIBLE_DEVICES and CPU thread share). Each
run is a separate process group (ksweep.launch). When a run ends, the runner settles
its status (ksweep.status: a crash, a signal, a NaN or a timeout marks that run, the
sweep goes on) and rewrites sweep_summary.json, so a killed sweep still has a current
summary. RETRIES reruns failed and timed-out runs; STOP_ON_FAILURE=1 stops launching
after the first failure.

SIGINT/SIGTERM: the running children are stopped (TERM, then KILL after a grace
period), marked interrupted, the summary is written, and the command that resumes is
printed. Resuming never redoes a completed run.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ksweep import status as run_status
from ksweep.launch import Job, LauncherError, kill_group, make_launcher, project_env
from ksweep.plan import PlannedRun, plan_text
from ksweep.records import CONFIG_FILE, LOG_FILE, METRICS_FILE, write_atomic

KILL_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.25  # longest wait between checks of timeouts and Ctrl-C
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@dataclass
class RunnerOptions:
    jobs: int | None = None
    jobs_per_gpu: int = 1
    run_timeout: float | None = None
    retries: int = 0
    retry_failed: bool = False
    stop_on_failure: bool = False
    train_command: str | None = None


@dataclass
class InFlight:
    run: PlannedRun
    pid: int
    slot: int
    attempt: int
    started: float
    killed_for: str | None = None
    kill_at: float | None = None  # when TERM turns into KILL


@dataclass
class SweepResult:
    interrupted: bool = False
    stopped_on_failure: bool = False
    disk_full: str | None = None
    launcher_error: str | None = None


def visible_gpus() -> list[str]:
    """GPU ids this runner may use, without importing torch (CUDA_VISIBLE_DEVICES, else nvidia-smi)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def slot_envs(options: RunnerOptions, gpus: list[str]) -> list[dict[str, str]]:
    """One environment per slot: its GPU (if any) and its share of the CPU threads."""
    if gpus:
        slots = [{"CUDA_VISIBLE_DEVICES": g} for g in gpus for _ in range(options.jobs_per_gpu)]
        slots = slots[: options.jobs] if options.jobs else slots
    else:
        slots = [{} for _ in range(options.jobs or 1)]  # no GPU seen: leave the device env alone
    threads = max(1, (os.cpu_count() or 1) // len(slots))
    return [{**slot, "KSWEEP_THREADS": str(threads)} for slot in slots]


class Scheduler:
    """Keeps the slots busy until the queue is empty, settling each run as it ends."""

    def __init__(self, sweep_dir: Path, queue: list[PlannedRun], options: RunnerOptions, report, git_commit):
        self.sweep_dir, self.options, self.report = sweep_dir, options, report
        self.queue: deque[tuple[PlannedRun, int]] = deque((run, 1) for run in queue)
        self.slots = slot_envs(options, visible_gpus())
        self.free = list(range(len(self.slots)))
        self.active: dict[int, InFlight] = {}
        self.result = SweepResult()
        self.stopping = False  # set: kill what runs (as interrupted), start nothing more
        self.draining = False  # set: start nothing more, let running runs finish
        self.base_env = {**project_env(), "KSWEEP_GIT_COMMIT": git_commit or ""}

    def run(self) -> SweepResult:
        launcher = make_launcher(self.options.train_command)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._loop(launcher)
        except LauncherError as err:
            self.result.launcher_error = str(err)
            self._settle_orphans()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            launcher.close()
        return self.result

    def _settle_orphans(self) -> None:
        """The launcher died with runs in flight: they die with it; resume reruns them."""
        for flight in list(self.active.values()):
            kill_group(flight.pid)
            flight.killed_for = "interrupted"
            self._finish(self.active.pop(flight.pid), None)

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True
        self.result.interrupted = True

    def _loop(self, launcher) -> None:
        while self.active or (self.queue and not self.stopping and not self.draining):
            while self.queue and self.free and not self.stopping and not self.draining:
                self._start(launcher, *self.queue.popleft())
            if self.stopping:
                self._stop_all()
            for pid, code in launcher.poll(self._wait_seconds()):
                if pid in self.active:
                    self._finish(self.active.pop(pid), code)
            self._enforce_deadlines()

    def _start(self, launcher, run: PlannedRun, attempt: int) -> None:
        run_dir = (self.sweep_dir / run.run_dir).absolute()
        try:
            run_dir.mkdir(exist_ok=True)
            write_atomic(run_dir / CONFIG_FILE, plan_text(self.sweep_dir, run))
            (run_dir / METRICS_FILE).unlink(missing_ok=True)  # an old attempt's status must not count
        except OSError as err:
            self._fail_disk(err, run_dir)
            self.queue.appendleft((run, attempt))
            return
        slot = self.free.pop(0)
        job = Job(
            config=str(run_dir / CONFIG_FILE),
            output_dir=str(run_dir),
            log=str(run_dir / LOG_FILE),
            env={**self.base_env, **self.slots[slot]},
            append_log=attempt > 1,
        )
        if attempt > 1:
            with open(job.log, "a") as log:
                log.write(f"\n===== ksweep: attempt {attempt} =====\n")
        pid = launcher.start(job)
        self.active[pid] = InFlight(run, pid, slot, attempt, time.monotonic())
        self.report.started(run, attempt)

    def _wait_seconds(self) -> float:
        now, wait = time.monotonic(), POLL_SECONDS
        for flight in self.active.values():
            if flight.kill_at is not None:
                wait = min(wait, flight.kill_at - now)
            elif self.options.run_timeout:
                wait = min(wait, flight.started + self.options.run_timeout - now)
        return max(0.0, wait)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for flight in self.active.values():
            if flight.kill_at is not None and now >= flight.kill_at:
                kill_group(flight.pid, signal.SIGKILL)
                flight.kill_at = float("inf")
            elif (
                flight.killed_for is None
                and self.options.run_timeout
                and now - flight.started >= self.options.run_timeout
            ):
                self._kill(flight, "timeout")

    def _kill(self, flight: InFlight, why: str) -> None:
        flight.killed_for = why
        kill_group(flight.pid, signal.SIGTERM)
        flight.kill_at = time.monotonic() + KILL_GRACE_SECONDS

    def _stop_all(self) -> None:
        for flight in self.active.values():
            if flight.killed_for is None:
                self._kill(flight, "interrupted")

    def _finish(self, flight: InFlight, code: int | None) -> None:
        self.free.append(flight.slot)
        self.free.sort()
        run_dir = self.sweep_dir / flight.run.run_dir
        outcome = run_status.Outcome(
            exit_code=code,
            wall_seconds=time.monotonic() - flight.started,
            attempts=flight.attempt,
            config_hash=flight.run.config_hash,
            killed_for=flight.killed_for,
            timeout=self.options.run_timeout,
        )
        try:
            metrics = run_status.finalize(run_dir, outcome)
            status = metrics["status"]
            if (
                status in run_status.RETRYABLE
                and flight.attempt <= self.options.retries
                and not self.stopping
            ):
                self.queue.appendleft((flight.run, flight.attempt + 1))
                self.report.retrying(flight.run, metrics, flight.attempt)
                return
            self.report.finished(flight.run, metrics)
        except OSError as err:
            self._fail_disk(err, run_dir)
            return
        if status not in ("completed", "interrupted") and self.options.stop_on_failure:
            self.draining = True
            self.result.stopped_on_failure = True

    def _fail_disk(self, err: OSError, where: Path) -> None:
        if err.errno not in NO_SPACE:
            raise err
        self.result.disk_full = f"{where}: {os.strerror(err.errno)}"
        self.stopping = True


class Reporter:
    """The progress bar, one line per finished run, and the summary rewritten after each."""

    def __init__(self, sweep_dir: Path, total: int, done: int, show: bool = True):
        import sys

        from tqdm import tqdm

        self.sweep_dir = sweep_dir
        self.counts = {"completed": 0, "failed": 0, "running": 0}
        self.bar = tqdm(
            total=total,
            initial=done,
            unit="run",
            disable=not (show and sys.stderr.isatty()),
            dynamic_ncols=True,
            leave=True,
        )

    def _postfix(self) -> None:
        self.bar.set_postfix(self.counts, refresh=True)

    def started(self, run: PlannedRun, attempt: int) -> None:
        self.counts["running"] += 1
        self._postfix()

    def retrying(self, run: PlannedRun, metrics: dict, attempt: int) -> None:
        self.counts["running"] -= 1
        self.bar.write(f"  RETRY   {run.run_dir}: {metrics['status']} (attempt {attempt}), trying again")

    def finished(self, run: PlannedRun, metrics: dict) -> None:
        from ksweep.summary import write_summary

        status = metrics["status"]
        self.counts["running"] -= 1
        if status == "completed":
            self.counts["completed"] += 1
        elif status != "interrupted":
            self.counts["failed"] += 1
        self.bar.write(f"  RUN     {run.run_dir}: {_result_text(metrics)}")
        if status != "interrupted":
            self.bar.update(1)
        self._postfix()
        write_summary(self.sweep_dir)

    def close(self) -> None:
        self.bar.close()


def _result_text(metrics: dict) -> str:
    status = metrics["status"]
    seconds = metrics.get("runner", {}).get("wall_seconds", 0)
    if status == "completed":
        final = metrics.get("final") or {}
        shown = [
            f"{k} {final[k]:.2f}" for k in ("val_acc", "test_acc") if isinstance(final.get(k), (int, float))
        ]
        return f"completed in {seconds:.1f} s" + (f" ({', '.join(shown)})" if shown else "")
    error = (metrics.get("error") or "").splitlines()
    tail = (metrics.get("log_tail") or "").splitlines()
    return (
        f"{status.upper()} after {seconds:.1f} s"
        + (f": {error[0]}" if error else "")
        + (f" (last output: {tail[-1].strip()})" if tail else "")
    )


def runs_to_do(sweep_dir: Path, plan: list[PlannedRun], retry_failed: bool) -> list[PlannedRun]:
    statuses = {run.run_dir: run_status.run_status(sweep_dir, run) for run in plan}
    return [run for run in plan if run_status.needs_run(statuses[run.run_dir], retry_failed)]


def run_sweep(
    sweep_dir: Path, plan: list[PlannedRun], options: RunnerOptions, git_commit: str | None, show: bool = True
) -> SweepResult:
    """Train every run of `plan` that is not finished yet (the caller holds the sweep's lock)."""
    todo = runs_to_do(sweep_dir, plan, options.retry_failed)
    reporter = Reporter(sweep_dir, len(plan), len(plan) - len(todo), show)
    try:
        return Scheduler(sweep_dir, todo, options, reporter, git_commit).run()
    finally:
        reporter.close()
