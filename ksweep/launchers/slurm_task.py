"""BACKEND=slurm, on the compute node: one task of the sweep's job array runs one run.

RunTask is what ksweep.launchers.slurm submits (pickled by submitit) for each run; submitit
calls it in the task's Python on the node:

- it starts the trainer as a subprocess (`python -m models.train --config FILE --output-dir
  DIR`, or TRAIN_COMMAND's, ksweep.launchers.command.run_argv) in the runner's working
  directory, with the run's environment (Job.env) added, its stdout and stderr into the
  run's output.log (appended to on a retry), in a session of its own;
- it returns the trainer's exit code (negative: the signal that killed it), which submitit
  writes into the task's result file for the runner to read;
- it is a submitit Checkpointable: when Slurm preempts the task, submitit's handler (USR2)
  calls checkpoint(), which stops the trainer (TERM, then KILL) and hands submitit the same
  run again, to be requeued; the trainer ignores that signal itself.

Nothing here imports torch, and nothing here talks to Slurm: submitit does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import replace

import submitit

from ksweep.launchers.base import Job
from ksweep.launchers.command import run_argv

TRAINER_STOP_SECONDS = 10.0  # on preemption: TERM, then KILL after this


class RunTask(submitit.helpers.Checkpointable):
    """One run on a compute node: the trainer as a subprocess; returns its exit code
    (negative: the signal that killed it). Preempted (submitit's checkpoint), it stops the
    trainer and is requeued as itself, the log appended to."""

    def __init__(self, job: Job, argv: list[str], cwd: str):
        self.job, self.argv, self.cwd = job, argv, cwd
        self.process: subprocess.Popen | None = None

    def __call__(self) -> int:
        argv = run_argv(self.argv, self.job.config, self.job.output_dir)
        with open(self.job.log, "a" if self.job.append_log else "w") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env={**os.environ, **self.job.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its helpers are one group, killed with it
                preexec_fn=_ignore_preemption_signal,
            )
        code = self.process.wait()
        _kill_group(self.process.pid, signal.SIGKILL)  # what it left behind goes with it
        return code

    def checkpoint(self) -> submitit.helpers.DelayedSubmission:
        # Called in submitit's signal handler, while __call__ waits in Popen.wait(), which
        # holds the Popen's lock: reap the trainer here with waitpid, not with Popen.
        if self.process is not None:
            _stop(self.process.pid)
        with open(self.job.log, "a") as log:
            log.write("\n===== ksweep: preempted by Slurm, requeued =====\n")
        again = RunTask(replace(self.job, append_log=True), self.argv, self.cwd)
        return submitit.helpers.DelayedSubmission(again)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "process": None}


def _ignore_preemption_signal() -> None:
    """In the trainer: Slurm signals every process of the task on preemption; submitit's
    handler (in the task's Python) stops the trainer itself, with TERM."""
    signal.signal(submitit.JobEnvironment._usr_sig(), signal.SIG_IGN)


def _stop(pid: int) -> None:
    """TERM the trainer's group, KILL it after TRAINER_STOP_SECONDS; reap the trainer."""
    _kill_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + TRAINER_STOP_SECONDS
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                _kill_group(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)
    except ChildProcessError:
        pass  # reaped already
    _kill_group(pid, signal.SIGKILL)


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
