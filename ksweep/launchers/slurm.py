"""BACKEND=slurm: every run of a sweep is one task of a Slurm job array, through submitit.

    make sweep BACKEND=slurm [SLURM_PARTITION=p] [SLURM_CPUS=N] [SLURM_GPUS=N] [SLURM_MEM=4G]

The sweep is the same as on this machine (folder, plan, statuses, lock, resume, retries,
timeouts, summary, monitor): the scheduler (ksweep.run.scheduler) drives this launcher as it
drives the local one. What differs is where a run executes:

- capacity() is one slot per run to do: Slurm queues them, at most JOBS at once (the
  array's `%JOBS` throttle; all when JOBS is not given). Each slot's KSWEEP_THREADS is
  SLURM_CPUS (default 1).
- start() buffers; the next poll() submits everything buffered as one array
  (submitit's `executor.batch()`). A retry is a later start(): a small array of its own.
- Each task runs RunTask on its node: the trainer as a subprocess, in the runner's
  working directory, its output in the run's output.log; the task returns the exit code.
  RunTask is a submitit Checkpointable: when Slurm preempts the task (USR2, as
  submitit expects), the trainer is stopped and the same run is requeued.
- The Slurm time limit is RUN_TIMEOUT in whole minutes, rounded up, plus one (the
  partition's own when there is no RUN_TIMEOUT). RUN_TIMEOUT itself is the scheduler's:
  counted from when the task began running (started_at), not while it was queued.
- What runs and what ended is one `squeue` call (at most one a second, by job name)
  plus submitit's result files: no sacct, so no accounting (slurmdbd) is needed. A task
  cancelled outside ksweep (scancel) ends `cancelled` (the run is interrupted, resume
  reruns it); NODE_FAIL, OUT_OF_MEMORY and the like end `lost` (the run failed).
- submitit's files live in the sweep folder, `SWEEP/.slurm/`, beside `jobs`: the ids of
  every array submitted. A runner killed with kill -9 cannot cancel its tasks, so a new
  launcher for that sweep cancels whatever of them still queues or runs, and waits until
  it is gone, before it submits anything: two tasks never write into one run folder.

Errors: no Slurm commands or no controller answering is a BackendError before anything
is written; a controller that stops answering mid-sweep is a LauncherError after
UNREACHABLE_SECONDS (the sweep stops, finished runs are kept, resume goes on).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import pickle
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import submitit

from ksweep.config import trainer
from ksweep.contract.project import PROJECT_ROOT
from ksweep.contract.sweepdir import SweepPaths
from ksweep.launchers.base import Ended, Handle, Job, LauncherError
from ksweep.launchers.command import split_command
from ksweep.launchers.registry import BackendError
from ksweep.launchers.slurm_task import RunTask
from ksweep.options import Values

COMMANDS = ("sbatch", "squeue", "scancel", "sinfo", "srun")
QUERY_SECONDS = 1.0  # at most one squeue a second
RESULT_GRACE_SECONDS = 5.0  # a result file may show on a shared filesystem after the task ended
UNREACHABLE_SECONDS = 120.0  # squeue failing this long stops the sweep
LEFTOVER_WAIT_SECONDS = 120.0
CLOSE_WAIT_SECONDS = 30.0
RECANCEL = 5.0  # a stopped task still queued or running this long after scancel: again
COMMAND_TIMEOUT = 30.0
SIGNAL_DELAY_SECONDS = 20  # submitit's USR2 before the time limit: after RUN_TIMEOUT's kill, always

LIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
        "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}  # fmt: skip
EXECUTING = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"}
QUEUED = LIVE - EXECUTING  # no result file to look for yet
UNCANCELLED = LIVE - {"COMPLETING"}  # a task cancelled (or ending) shows as COMPLETING
DONE = {"COMPLETED", "FAILED"}  # the task's own end: its result file says how the run ended
CANCELLED = "CANCELLED"
# Anything else (NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, TIMEOUT, PREEMPTED, ...) is the
# cluster's doing: the run is lost (failed, retried under RETRIES).
MEMORY = re.compile(r"^[0-9]+[KMGT]?$", re.IGNORECASE)


def launcher(options: Values, runs: int) -> SlurmLauncher:
    """The Slurm launcher for a sweep with `runs` runs to do (ksweep.launchers.registry calls this)."""
    return SlurmLauncher(options, runs)


def check(options: Values) -> Partition:
    """Refuse, in one line, a Slurm that cannot take the sweep: no commands, no controller
    answering, an unknown partition, a memory size Slurm would refuse. Returns the partition."""
    missing = [name for name in COMMANDS if shutil.which(name) is None]
    if missing:
        raise BackendError(
            f"BACKEND=slurm: {', '.join(missing)} not found on PATH: run where Slurm's commands are "
            "(a login node), or start a local Slurm: scripts/local_slurm.sh start DIR"
        )
    conf = os.environ.get("SLURM_CONF")
    if conf and not Path(conf).is_file():
        raise BackendError(f"BACKEND=slurm: SLURM_CONF={conf}: no such file")
    mem = options.slurm_mem
    if mem is not None and not MEMORY.match(str(mem)):
        raise BackendError(f"SLURM_MEM={mem}: not a Slurm memory size (e.g. 4G, 500M, 16000)")
    try:
        out = _slurm(["sinfo", "-h", "-o", "%P|%L|%l"], timeout=20)
    except LauncherError as err:
        raise BackendError(f"BACKEND=slurm: the Slurm controller does not answer: {err}") from None
    return _partition(out, options.slurm_partition)


@dataclass(frozen=True)
class Partition:
    name: str | None  # None: the cluster's default
    default_time: str  # sbatch --time as the partition would pick it ("UNLIMITED" when none)
    minutes: int  # the same in minutes, for submitit's own bookkeeping


def _partition(sinfo: str, wanted: str | None) -> Partition:
    rows = [line.split("|") for line in sinfo.splitlines() if line.count("|") == 2]
    names = [name.rstrip("*") for name, _, _ in rows]
    if wanted is not None and wanted not in names:
        raise BackendError(
            f"SLURM_PARTITION={wanted}: no such partition (this cluster has: {', '.join(names) or 'none'})"
        )
    chosen = [r for r in rows if r[0].rstrip("*") == wanted or (wanted is None and r[0].endswith("*"))]
    if not chosen:
        return Partition(wanted, "UNLIMITED", 365 * 24 * 60)
    _, default, limit = chosen[0]
    time_text = default if default not in ("n/a", "") else limit
    minutes = _minutes(time_text)
    return Partition(wanted, "UNLIMITED" if minutes is None else time_text, minutes or 365 * 24 * 60)


def _minutes(text: str) -> int | None:
    """Slurm's [days-]hours:minutes:seconds (or minutes) in whole minutes; None for infinite."""
    if text in ("infinite", "UNLIMITED", "n/a", ""):
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    seconds = {1: lambda m: m * 60, 2: lambda m, s: m * 60 + s, 3: lambda h, m, s: h * 3600 + m * 60 + s}
    total = seconds[len(parts)](*parts) + int(days or 0) * 86400
    return max(1, math.ceil(total / 60))


def time_limit_minutes(run_timeout: float | None) -> int | None:
    """The Slurm time limit for RUN_TIMEOUT seconds: whole minutes, rounded up, plus one."""
    return None if not run_timeout else math.ceil(run_timeout / 60) + 1


def _slurm(argv: list[str], timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a Slurm command; its stdout, or LauncherError with its last line of complaint."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LauncherError(f"{argv[0]} did not answer within {timeout:g} s") from None
    except OSError as err:
        raise LauncherError(f"{argv[0]}: {err.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit {done.returncode}"]
        complaint = lines[-1].strip()  # Slurm's commands name themselves: `sinfo: fatal: ...`
        raise LauncherError(complaint if complaint.startswith(f"{argv[0]}:") else f"{argv[0]}: {complaint}")
    return done.stdout


@dataclass
class Task:
    """A run handed to this launcher, from buffered to ended."""

    job: Job
    cwd: str
    slurm_id: str | None = None  # "ARRAY_INDEX" (or "JOB" for an array of one) once submitted
    result: Path | None = None
    submitted: float | None = None
    stopped: bool = False  # stop() was asked: its end needs no explaining
    cancelled_at: float | None = None  # when its scancel was sent
    done_since: float | None = None  # first seen finished without a result file


class SlurmLauncher:
    """Runs through Slurm job arrays (see the module docstring)."""

    def __init__(self, options: Values, runs: int):
        self.options = options
        self.partition = check(options)
        self.argv = split_command(options.train_command) if options.train_command else trainer.command()
        self.cpus = options.slurm_cpus
        self.slots = [{"KSWEEP_THREADS": str(self.cpus)} for _ in range(max(1, runs))]
        self.tasks: dict[Handle, Task] = {}  # until they end
        self.started: dict[Handle, float] = {}  # kept after: the scheduler asks when it settles a run
        self.buffered: list[Handle] = []
        self.ended: list[Ended] = []  # ended before they were submitted (stopped while buffered)
        self.sweep: SweepPaths | None = None  # known from the first job's run folder
        self.executor = None
        self.queue: dict[str, tuple[str, str, str]] = {}  # slurm id -> (state, reason, start time)
        self.queried = self.queried_before = float("-inf")  # when the last two squeue calls began
        self.want_state = False  # a task's end waits for Slurm's word on it: look again soon
        self.to_cancel: set[str] = set()  # stopped since the last poll: one scancel for all
        self.cancelling: list[subprocess.Popen] = []  # scancel may wait seconds: not the runner
        self.failing_since: float | None = None
        self.next_id = 1

    # The Launcher protocol (ksweep.launchers.base).

    def capacity(self) -> list[dict[str, str]]:
        return self.slots

    def admits(self, slot_env: dict[str, str]) -> bool:
        return True  # Slurm places runs (its gres); nothing to gate here.

    def ready(self, timeout: float) -> bool:
        return True

    def start(self, job: Job) -> Handle:
        handle = Handle(self.next_id)
        self.next_id += 1
        self.tasks[handle] = Task(job, os.getcwd())
        self.buffered.append(handle)
        return handle

    def started_at(self, handle: Handle) -> float | None:
        return self.started.get(handle)

    def poll(self, timeout: float) -> list[Ended]:
        if self.buffered:
            self._submit()
        self._send_cancels()
        ended = self._collect()
        if not ended and timeout > 0:
            time.sleep(timeout)
            ended = self._collect()
        return ended

    def stop(self, handle: Handle, hard: bool) -> None:
        task = self.tasks.get(handle)
        if task is None:
            return
        task.stopped = True
        if task.slurm_id is None:  # still buffered: it never reaches Slurm
            self.buffered.remove(handle)
            del self.tasks[handle]
            self.ended.append(Ended(handle, None))
            return
        # scancel: Slurm TERMs every process of the task, and KILLs what is left after its
        # KillWait; `hard` asks again (`scancel --signal=KILL` is refused, or waits, while
        # a task starts or ends). Sent at the next poll, one scancel for every stopped task.
        self.to_cancel.add(task.slurm_id)

    def close(self) -> None:
        self.buffered.clear()
        for cancel in self.cancelling:
            cancel.wait()
        live = [t.slurm_id for t in self.tasks.values() if t.slurm_id is not None]
        if live:
            self._scancel(sorted({i.split("_")[0] for i in live}))  # whole arrays: one call
            self._wait_gone(live, CLOSE_WAIT_SECONDS)

    # Submitting.

    def _submit(self) -> None:
        handles, self.buffered = self.buffered, []
        if self.executor is None:
            self.sweep = SweepPaths(Path(self.tasks[handles[0]].job.output_dir).parent)
            self.sweep.slurm.mkdir(exist_ok=True)
            self._cancel_leftovers()
            self.executor = self._executor()
        self.executor.update_parameters(array_parallelism=self.options.jobs or len(handles))
        try:  # submitit prints sbatch's complaint too: it is in the error, said once
            with contextlib.redirect_stderr(io.StringIO()), self.executor.batch():
                jobs = [
                    self.executor.submit(RunTask(self.tasks[h].job, self.argv, self.tasks[h].cwd))
                    for h in handles
                ]
        except (submitit.core.utils.FailedJobError, subprocess.SubprocessError, OSError) as err:
            lines = [line for line in str(err).splitlines() if "error" in line.lower()] or [str(err)]
            raise LauncherError(f"Slurm refused the runs: {lines[0].strip()}") from None
        now = time.monotonic()
        array = jobs[0].job_id.split("_")[0]
        with open(self.sweep.slurm_jobs, "a") as record:  # for the next runner, should this one die
            record.write(array + "\n")
            record.flush()
            os.fsync(record.fileno())
        for handle, job in zip(handles, jobs, strict=True):
            task = self.tasks[handle]
            task.slurm_id, task.result, task.submitted = job.job_id, job.paths.result_pickle, now

    def _executor(self):
        executor = submitit.SlurmExecutor(folder=self.sweep.slurm)
        limit = time_limit_minutes(self.options.run_timeout)
        params = {
            "job_name": self._job_name(),
            "time": limit or self.partition.minutes,  # submitit's bookkeeping (timeout vs preemption)
            "cpus_per_task": self.cpus,
            "signal_delay_s": SIGNAL_DELAY_SECONDS,
            "setup": [f"export PYTHONPATH={shlex.quote(str(PROJECT_ROOT))}${{PYTHONPATH:+:$PYTHONPATH}}"],
            "additional_parameters": {} if limit else {"time": self.partition.default_time},
        }
        optional = {
            "partition": self.options.slurm_partition,
            "mem": self.options.slurm_mem,
            "gpus_per_node": self.options.slurm_gpus or None,
        }
        executor.update_parameters(**params, **{k: v for k, v in optional.items() if v is not None})
        return executor

    def _job_name(self) -> str:
        """The same for every runner of this sweep, and only this sweep: leftovers are found by it."""
        where = hashlib.sha1(str(self.sweep.root.resolve()).encode()).hexdigest()[:8]
        return f"ksweep-{self.sweep.root.name}-{where}"

    def _cancel_leftovers(self) -> None:
        """Cancel the tasks a killed runner of this sweep left queued or running; wait until gone."""
        recorded = self.sweep.slurm_jobs.read_text().split() if self.sweep.slurm_jobs.exists() else []
        self._query(force=True)
        live = sorted(i for i, (state, _, _) in self.queue.items() if state in LIVE)
        live_arrays = {i.split("_")[0] for i in live}
        recorded_live = [a for a in recorded if a in live_arrays]
        if live:
            shown = " ".join(recorded_live or live[:3])
            print(f"  SLURM   cancelling {len(live)} tasks a previous runner left (job {shown})")
            self._scancel(sorted(live_arrays))
            self._wait_gone(live, LEFTOVER_WAIT_SECONDS, fail=True)
        self.sweep.slurm_jobs.write_text("")

    def _wait_gone(self, ids: list[str], seconds: float, fail: bool = False) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self._query(force=True)
            left = [i for i in ids if self.queue.get(i, ("", "", ""))[0] in LIVE]
            if not left:
                return
            if time.monotonic() > deadline:
                if fail:
                    raise LauncherError(
                        f"Slurm tasks of this sweep are still running after scancel: {' '.join(left)}"
                    )
                return
            time.sleep(0.2)

    def _send_cancels(self) -> None:
        self.cancelling = [c for c in self.cancelling if c.poll() is None]
        if not self.to_cancel:
            return
        ids, self.to_cancel = sorted(self.to_cancel), set()
        now = time.monotonic()
        for task in self.tasks.values():
            if task.slurm_id in ids:
                task.cancelled_at = now
        with contextlib.suppress(OSError):
            self.cancelling.append(
                subprocess.Popen(["scancel", *ids], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )

    def _scancel(self, ids: list[str]) -> bool:
        try:
            _slurm(["scancel", *ids])
        except LauncherError:
            return False
        return True

    # Following the tasks.

    def _query(self, force: bool = False) -> None:
        """One squeue for every task of this sweep (all states still in the controller)."""
        now = time.monotonic()
        if not force and now - self.queried < QUERY_SECONDS:
            return
        argv = ["squeue", "-h", "-r", "-t", "all", "--name", self._job_name(), "-o", "%i|%T|%r|%S"]
        try:
            out = _slurm(argv)
        except LauncherError as err:
            self.failing_since = self.failing_since or now
            if now - self.failing_since > UNREACHABLE_SECONDS:
                raise LauncherError(f"Slurm did not answer for {UNREACHABLE_SECONDS:g} s ({err})") from None
            return
        self.failing_since = None
        self.queried_before, self.queried = self.queried, now
        self.queue = {}
        for line in out.splitlines():
            slurm_id, state, reason, start = (line.split("|") + ["", "", ""])[:4]
            self.queue[slurm_id.strip()] = (state.split()[0] if state else "", reason, start)

    def _collect(self) -> list[Ended]:
        ended, self.ended = self.ended, []
        submitted = [(h, t) for h, t in self.tasks.items() if t.slurm_id is not None]
        if not submitted:
            return ended
        self._query(force=self.want_state and time.monotonic() - self.queried > 0.2)
        self.want_state = False
        now = time.monotonic()
        for handle, task in submitted:
            state, reason, start = self.queue.get(task.slurm_id, ("", "", ""))
            if state in EXECUTING and handle not in self.started:
                self.started[handle] = self._start_time(start, max(task.submitted, self.queried_before), now)
            if task.stopped and state in UNCANCELLED and now - (task.cancelled_at or now) > RECANCEL:
                self.to_cancel.add(task.slurm_id)  # that scancel came when Slurm could not take it
            # Result files are looked for only where Slurm ran the task (or lost sight of it):
            # thousands of queued tasks cost no stat on a shared filesystem.
            unseen = not state and self.queried < task.submitted
            has_result = state not in QUEUED and not unseen and task.result.exists()
            end = self._end(handle, task, state, reason, has_result, now)
            if end is not None:
                if handle not in self.started and has_result:  # it ran between two looks
                    self.started[handle] = now
                ended.append(end)
                del self.tasks[handle]
        return ended

    def _end(self, handle, task: Task, state: str, reason: str, has_result: bool, now: float) -> Ended | None:
        """How the task ended, or None while it has not (or its end is not known yet)."""
        if state == CANCELLED:
            code = _result_code(task.result) if has_result else None
            return Ended(handle, code, cancelled=None if task.stopped else "cancelled by Slurm (scancel)")
        if state and state not in LIVE and state not in DONE:
            why = f"Slurm: {state}" + (f" ({reason})" if reason and reason != "None" else "")
            return Ended(handle, None, lost=why)
        if has_result:
            outcome = _read_result(task.result)
            if outcome is None:
                return None  # being written
            kind, value = outcome
            if kind != "success":
                last = (str(value).strip().splitlines() or ["no trace"])[-1]
                return Ended(handle, None, lost=f"Slurm: the task failed outside the trainer: {last}")
            # A run that failed may have been the cluster's doing (out of memory, scancel):
            # wait until Slurm says how the task ended before calling it the trainer's.
            if value == 0 or state not in LIVE or task.stopped or self._waited(task, now):
                return Ended(handle, value)
            self.want_state = True
            return None
        gone = state not in LIVE and self.queried > (task.submitted or now)
        if gone and (task.stopped or self._waited(task, now)):
            if task.stopped:
                return Ended(handle, None)
            why = f"Slurm: {state}" if state else "Slurm: the task left the queue"
            return Ended(handle, None, lost=f"{why} without a result (see {self.sweep.slurm}/)")
        if not gone:
            task.done_since = None
        return None

    @staticmethod
    def _start_time(start: str, earliest: float, now: float) -> float:
        """When a task first seen running began, on the monotonic clock: Slurm's start time
        (whole seconds, the controller's clock), kept between the look before and this one."""
        try:
            began = now - (time.time() - datetime.fromisoformat(start).timestamp())
        except ValueError:
            return now
        return min(now, max(earliest, began))

    def _waited(self, task: Task, now: float) -> bool:
        task.done_since = task.done_since or now
        return now - task.done_since > RESULT_GRACE_SECONDS


def _read_result(path: Path) -> tuple[str, object] | None:
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError):
        return None


def _result_code(path: Path) -> int | None:
    outcome = _read_result(path)
    return outcome[1] if outcome and outcome[0] == "success" else None
