"""How a run starts and ends: the launcher seam, and the local launcher behind it.

The scheduler (ksweep.run.scheduler) decides what runs, when, and what its end means; a
launcher only knows how to start a run somewhere and tell when it ended:

    launcher.capacity()            → one environment per slot (its GPU, its CPU threads)
    launcher.admits(slot_env)      → whether a run may start in that slot now (a GPU's memory)
    launcher.ready(timeout)        → True once runs can start (a warm-up may take seconds)
    launcher.start(job)            → an opaque Handle
    launcher.started_at(handle)    → when the run began executing (time.monotonic()), None
                                     while it waits in a cluster's queue
    launcher.poll(timeout)         → [Ended(handle, exit code, ...)] of runs that ended
    launcher.stop(handle, hard)    → TERM (hard: KILL) the run and everything it started
    launcher.close()               → stop what is left; nothing of a run outlives it

BACKEND picks the launcher (ksweep.launchers.registry): this local one, ksweep.launchers.ray or
ksweep.slurm_backend. No pid, process-group or cluster call lives outside a launcher.

The local launcher runs every
run as its own session (process group), its stdout and stderr in its output.log, through
a server process (ksweep.launchers.forkserver) that forks each run:

- the built-in trainer: the server imports it and warms torch up once, then forks a
  child per run (about 0.02 s instead of the 4 s of a fresh Python with torch);
- a TRAIN_COMMAND: the server forks and execs `command --config FILE --output-dir DIR`, or the
  command with its placeholders filled (ksweep.launchers.command.run_argv makes every run's argv).

The server is the runs' guard: when a run's main process exits it kills the run's whole
group (helpers, DataLoader workers), and when the runner is gone (its pipe closes, even
after `kill -9`) it kills every run's group and exits. It lives in its own session, so a
signal to the runner's process group reaches the runner alone, which settles each run.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

from tqdm import tqdm

from ksweep.contract.cpus import usable_cpus
from ksweep.contract.project import PROJECT_ROOT
from ksweep.launchers import gpumem
from ksweep.launchers.command import run_argv, split_command

GPU_SAMPLE_SECONDS = 1.0


@dataclass
class Job:
    """One run to start: the trainer contract's two arguments, where its output goes, its env."""

    config: str
    output_dir: str
    log: str
    env: dict[str, str] = field(default_factory=dict)
    append_log: bool = False
    cwd: str = field(default_factory=os.getcwd)  # the runner's: a TRAIN_COMMAND may be relative to it


@dataclass(frozen=True)
class Handle:
    """A started run, as the launcher that started it knows it."""

    id: int


@dataclass(frozen=True)
class Ended:
    """A run that ended: its exit code (negative: killed by that signal; None: unknown), and,
    when it ended outside its own control, why: `lost` (its worker or node died: a failure,
    retried under RETRIES) or `cancelled` (by the cluster, e.g. scancel: interrupted, rerun
    on resume)."""

    handle: Handle
    code: int | None
    lost: str | None = None
    cancelled: str | None = None
    peak_rss_mb: float | None = None  # its peak resident memory, where the launcher can see it
    gpu: dict | None = None  # its GPU telemetry (ksweep.launchers.gpumem.Usage.summary), where sampled


class LauncherError(RuntimeError):
    """The launcher cannot start or follow runs any more (its server died)."""


class Launcher(Protocol):
    def capacity(self) -> list[dict[str, str]]: ...
    def admits(self, slot_env: dict[str, str]) -> bool: ...
    def ready(self, timeout: float) -> bool: ...
    def start(self, job: Job) -> Handle: ...
    def started_at(self, handle: Handle) -> float | None: ...
    def poll(self, timeout: float) -> list[Ended]: ...
    def stop(self, handle: Handle, hard: bool) -> None: ...
    def close(self) -> None: ...


def describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


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


def slot_envs(jobs: int | None, jobs_per_gpu: int, gpus: list[str]) -> list[dict[str, str]]:
    """One environment per slot: its GPU (if any) and its share of the CPU threads."""
    if gpus:
        # The numbering nvidia-smi and NVML use (CUDA's own default puts the fastest first).
        order = {"CUDA_DEVICE_ORDER": os.environ.get("CUDA_DEVICE_ORDER", "PCI_BUS_ID")}
        slots = [{"CUDA_VISIBLE_DEVICES": g, **order} for g in gpus for _ in range(jobs_per_gpu)]
        slots = slots[:jobs] if jobs else slots
    else:
        slots = [{} for _ in range(jobs or 1)]  # no GPU seen: leave the device env alone
    threads = max(1, usable_cpus() // len(slots))  # the CPUs it may use, not the machine's
    return [{**slot, "KSWEEP_THREADS": str(threads)} for slot in slots]


# OpenMP threads that spin while they wait for a partner the kernel has not scheduled turn a
# busy machine's fair share (3x slower beside 4 busy loops on 2 cores) into 50x and worse
# (GNU OpenMP spins 300,000 rounds by default). A short spin, then sleep, keeps a run within
# a few times its idle speed there and costs an idle run about a tenth; sleeping at once
# (OMP_WAIT_POLICY=PASSIVE) costs it twice (bench/bench_trainer.py). Only the wait changes,
# never the arithmetic: a run's numbers stay the same for the same thread count. A user who
# sets either variable keeps their own.
RUN_ENV_DEFAULTS = {"GOMP_SPINCOUNT": "10000"}
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def project_env() -> dict[str, str]:
    """What every run's environment (and the local fork server's) gets: PYTHONPATH so that
    `python -m models.train` works from any working directory, and RUN_ENV_DEFAULTS."""
    path = os.environ.get("PYTHONPATH", "")
    own = any(name in os.environ for name in WAIT_VARIABLES)
    defaults = {} if own else RUN_ENV_DEFAULTS
    return {"PYTHONPATH": str(PROJECT_ROOT) + (os.pathsep + path if path else ""), **defaults}


class LocalLauncher:
    """Runs on this machine, forked by a ksweep.launchers.forkserver process (see the module docstring)."""

    def __init__(self, train_command: str | None, jobs: int | None = None, jobs_per_gpu: int = 1):
        self.argv = split_command(train_command) if train_command else None
        self.slots = slot_envs(jobs, jobs_per_gpu, visible_gpus())
        self.jobs_per_gpu = jobs_per_gpu
        self.on_gpu: dict[Handle, str] = {}
        self.said_waiting: set[str] = set()
        self.gpu_usage: dict[Handle, gpumem.Usage] = {}
        self.sampled_at = 0.0
        mode = ["--exec"] if self.argv else []
        self.server = subprocess.Popen(
            [sys.executable, "-m", "ksweep.launchers.forkserver", *mode],
            cwd=PROJECT_ROOT,
            env={**os.environ, **project_env()},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a signal to the runner's group is the runner's to handle
        )
        self.buffer = b""
        self.pending: list[dict] = []
        self.is_ready = False
        self.started: dict[Handle, float] = {}

    def capacity(self) -> list[dict[str, str]]:
        return self.slots

    def admits(self, slot_env: dict[str, str]) -> bool:
        """The memory gate (ksweep.launchers.gpumem): the slot's GPU has the memory for one more run."""
        gpu = slot_env.get("CUDA_VISIBLE_DEVICES")
        reading = gpumem.read(gpu) if gpu else None
        if reading is None:
            return True
        needed = gpumem.need(reading.total, self.jobs_per_gpu)
        sessions = gpumem.session_of(reading.used_by)
        now = time.monotonic()
        on_it = [handle for handle, its_gpu in self.on_gpu.items() if its_gpu == gpu]
        ours = [gpumem.OurRun(h.id, now - self.started[h], sessions) for h in on_it]
        if gpumem.admits(reading, needed, ours):
            self.said_waiting.discard(gpu)
            return True
        if gpu not in self.said_waiting:
            self.said_waiting.add(gpu)
            tqdm.write(gpumem.waiting_line(gpu, reading, needed, ours))  # above the progress bar
        return False

    def _send(self, message: dict) -> None:
        try:
            self.server.stdin.write(json.dumps(message).encode() + b"\n")
            self.server.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise LauncherError(self._death()) from None

    def _death(self) -> str:
        code = self.server.wait()
        return f"the runs' fork server exited ({describe_exit(code)})"

    def _receive(self, timeout: float | None) -> list[dict]:
        fd = self.server.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            return []
        data = os.read(fd, 65536)
        if not data:
            raise LauncherError(self._death())
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        messages = [json.loads(line) for line in lines if line]
        self.is_ready = self.is_ready or any(m["op"] == "ready" for m in messages)
        return [m for m in messages if m["op"] != "ready"]

    def ready(self, timeout: float) -> bool:
        if not self.is_ready:
            self.pending += self._receive(timeout)
        return self.is_ready

    def start(self, job: Job) -> Handle:
        while not self.is_ready:
            self.pending += self._receive(None)
        request = {"op": "run", **asdict(job)}
        if self.argv:
            request["argv"] = run_argv(self.argv, job.config, job.output_dir)
        self._send(request)
        while True:
            messages = self._receive(None)
            started = [m for m in messages if m["op"] == "started"]
            self.pending += [m for m in messages if m["op"] != "started"]
            if started:
                handle = Handle(started[0]["pid"])
                self.started[handle] = time.monotonic()
                if "CUDA_VISIBLE_DEVICES" in job.env:
                    self.on_gpu[handle] = job.env["CUDA_VISIBLE_DEVICES"]
                return handle

    def started_at(self, handle: Handle) -> float | None:
        return self.started.get(handle)

    def poll(self, timeout: float) -> list[Ended]:
        messages, self.pending = self.pending, []
        if not messages:
            messages = self._receive(timeout)
        self._sample_gpus()
        ended = []
        for message in (m for m in messages if m["op"] == "exited"):
            handle = Handle(message["pid"])
            self.on_gpu.pop(handle, None)
            usage = self.gpu_usage.pop(handle, None)
            rss = round(message["peak_rss_kb"] / 1024, 1)
            ended.append(
                Ended(handle, message["code"], peak_rss_mb=rss, gpu=usage.summary() if usage else None)
            )
        return ended

    def _sample_gpus(self) -> None:
        """About once a second: what each run on a GPU holds there, and the device's load."""
        now = time.monotonic()
        if not self.on_gpu or now - self.sampled_at < GPU_SAMPLE_SECONDS:
            return
        self.sampled_at = now
        for gpu in set(self.on_gpu.values()):
            reading = gpumem.read(gpu)
            if reading is None:
                continue
            sessions = gpumem.session_of(reading.used_by)
            for handle in [h for h, g in self.on_gpu.items() if g == gpu]:
                run = gpumem.OurRun(handle.id, now - self.started[handle], sessions)
                self.gpu_usage.setdefault(handle, gpumem.Usage()).add(reading, run)

    def stop(self, handle: Handle, hard: bool) -> None:
        # Every run leads its own session, so its id is its process group's.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(handle.id, signal.SIGKILL if hard else signal.SIGTERM)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.server.stdin.close()  # EOF: the server kills what is left and exits
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
