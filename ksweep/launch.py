"""How one run starts: a fork of a warm server (built-in trainer) or a fresh process (TRAIN_COMMAND).

Every run is its own process in its own process group (session), with stdout and
stderr going to its output.log, so a crash, a segfault or a CUDA error in one run never
takes down the runner or another run, and a timeout kills the run's whole group.

A fresh Python process that imports torch and trains costs about 4 s before its first
step. For the built-in trainer the runner instead starts one server process
(ksweep.forkserver) that imports the trainer, trains one tiny step on the CPU so that
torch's lazy imports are done, and then forks a child per run: about 0.02 s each. CUDA
is never touched before the fork; each child initialises its own.

Both launchers share one interface: start(job) → pid, poll(timeout) → [(pid, exit code)],
with a negative exit code for a run killed by a signal, and close().
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shlex
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, field

from ksweep.kconf import PROJECT_ROOT

_PR_SET_PDEATHSIG = 1


@dataclass
class Job:
    """One run to start: the trainer contract's two arguments, where its output goes, its env."""

    config: str
    output_dir: str
    log: str
    env: dict[str, str] = field(default_factory=dict)
    append_log: bool = False


def describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def die_with_parent() -> None:
    """In a child: get SIGKILL when the parent dies, so a killed runner leaves no orphan runs."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a run's whole process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class LauncherError(RuntimeError):
    """The launcher cannot start or follow runs any more (the fork server died)."""


class ProcessLauncher:
    """TRAIN_COMMAND: `command --config FILE --output-dir DIR`, a fresh process per run."""

    def __init__(self, command: str):
        self.argv = shlex.split(command)
        self.children: dict[int, subprocess.Popen] = {}

    def start(self, job: Job) -> int:
        with open(job.log, "ab" if job.append_log else "wb") as log:
            child = subprocess.Popen(
                [*self.argv, "--config", job.config, "--output-dir", job.output_dir],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **job.env},
                start_new_session=True,
                preexec_fn=die_with_parent,  # the runner is single-threaded
            )
        self.children[child.pid] = child
        return child.pid

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        done = [(pid, child.returncode) for pid, child in self.children.items() if child.poll() is not None]
        if not done and self.children:
            select.select([], [], [], min(timeout, 0.01))
            done = [
                (pid, child.returncode) for pid, child in self.children.items() if child.poll() is not None
            ]
        elif not self.children:
            select.select([], [], [], timeout)
        for pid, _ in done:
            del self.children[pid]
        return done

    def close(self) -> None:
        for pid in list(self.children):
            kill_group(pid)
            self.children.pop(pid).wait()


class ForkServerLauncher:
    """The built-in trainer, forked from a warmed-up server per run."""

    def __init__(self):
        self.server = subprocess.Popen(
            [sys.executable, "-m", "ksweep.forkserver"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=die_with_parent,  # the runner is single-threaded
        )
        self.buffer = b""
        self.pending: list[dict] = []
        self.ready = False

    def _send(self, message: dict) -> None:
        self.server.stdin.write(json.dumps(message).encode() + b"\n")
        self.server.stdin.flush()

    def _receive(self, timeout: float | None) -> list[dict]:
        fd = self.server.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            return []
        data = os.read(fd, 65536)
        if not data:
            code = self.server.wait()
            raise LauncherError(
                f"the trainer's fork server exited ({describe_exit(code)}); see the messages above"
            )
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        messages = [json.loads(line) for line in lines if line]
        self.ready = self.ready or any(m["op"] == "ready" for m in messages)
        return [m for m in messages if m["op"] != "ready"]

    def start(self, job: Job) -> int:
        while not self.ready:
            self.pending += self._receive(None)
        self._send({"op": "run", **asdict(job), "cwd": os.getcwd()})
        while True:
            messages = self._receive(None)
            started = [m for m in messages if m["op"] == "started"]
            self.pending += [m for m in messages if m["op"] != "started"]
            if started:
                return started[0]["pid"]

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        messages, self.pending = self.pending, []
        if not messages:
            messages = self._receive(timeout)
        return [(m["pid"], m["code"]) for m in messages if m["op"] == "exited"]

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.server.stdin.close()  # EOF: the server kills what is left and exits
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()


def make_launcher(train_command: str | None) -> ProcessLauncher | ForkServerLauncher:
    return ProcessLauncher(train_command) if train_command else ForkServerLauncher()


def project_env() -> dict[str, str]:
    """PYTHONPATH so that `python -m models.train` works from any working directory."""
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": str(PROJECT_ROOT) + (os.pathsep + path if path else "")}
