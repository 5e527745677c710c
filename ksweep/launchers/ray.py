"""BACKEND=ray: each slot is a Ray actor on some node, holding a warm fork server there.

    make sweep BACKEND=ray                               a local Ray, started for the sweep
    RAY_ADDRESS=head:6379 make sweep BACKEND=ray         an existing cluster

A run is not a Ray task of its own (a fresh worker per run pays torch's import, seconds)
nor a Ray Tune trial: each of the JOBS slots is an actor (`RunSlot`) placed with the
run's share of the cluster (num_cpus, and num_gpus = 1/JOBS_PER_GPU where the cluster
has GPUs), which starts the local launcher's fork server on its node once and then forks
one child per run, as the local backend does. So a run costs an actor call plus a fork,
and a crash of a run (a segfault included) ends that child only.

JOBS defaults to one run per GPU (times JOBS_PER_GPU) on a GPU cluster, else one run per
node; each run gets the CPUs of its share (KSWEEP_THREADS). An actor that dies (its
worker or node went away) fails the runs it held (Ended.lost: retried under RETRIES) and
is restarted by Ray where resources allow; the sweep goes on with the others. Run
folders must be on a filesystem every node sees (a shared one on a real cluster).

The actors belong to this driver: when it exits, even by kill -9, Ray ends them and their
fork servers kill the runs, so a resume never finds two writers in one run folder.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from dataclasses import dataclass


def token_available() -> bool:
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or os.path.exists(path)


# `ray start` (Ray 2.59+) turns token authentication on and keeps the token in
# ~/.ray/auth_token, but a driver sends it only in token mode, read when ray is imported;
# in token mode a driver still reaches a cluster that has authentication off.
if "RAY_AUTH_MODE" not in os.environ and token_available():
    os.environ["RAY_AUTH_MODE"] = "token"

import ray  # noqa: E402
from ray.exceptions import GetTimeoutError, RayActorError  # noqa: E402

from ksweep.launchers.base import Ended, Handle, Job, LauncherError, LocalLauncher, project_env  # noqa: E402
from ksweep.launchers.registry import BackendError  # noqa: E402
from ksweep.options import Values  # noqa: E402

WARMUP_POLL_SECONDS = 1.0


class RunSlot:
    """One slot on a node: the local launcher (a warm fork server) running one run at a time."""

    def __init__(self, train_command: str | None):
        self.local = LocalLauncher(train_command, jobs=1)
        self.current: Handle | None = None

    def ready(self) -> str:
        while not self.local.ready(WARMUP_POLL_SECONDS):
            pass
        return ray.util.get_node_ip_address()

    def run(self, job: Job) -> tuple[int | None, float | None]:
        """The run's exit code and peak resident memory (MB)."""
        self.current = self.local.start(job)
        try:
            while True:
                for end in self.local.poll(WARMUP_POLL_SECONDS):
                    if end.handle == self.current:
                        return end.code, end.peak_rss_mb
        finally:
            self.current = None

    def stop(self, hard: bool) -> None:
        if self.current is not None:
            self.local.stop(self.current, hard)


@dataclass
class Flight:
    handle: Handle
    slot: object  # the actor
    ref: object  # its run() call
    began: float


class RayLauncher:
    """The Launcher protocol (ksweep.launchers.base) over RunSlot actors."""

    def __init__(self, train_command: str | None, jobs: int | None, jobs_per_gpu: int):
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            self._connect()
        share = cluster_share(jobs, jobs_per_gpu)
        self.threads = share.cpus
        each = f"{share.cpus} CPU and {share.gpus:g} GPU each"
        print(f"  RAY     {share.where}: {share.jobs} at a time, {each}")
        remote = ray.remote(RunSlot).options(
            num_cpus=share.cpus,
            num_gpus=share.gpus,
            max_restarts=-1,  # a lost node's slot comes back where resources allow
            max_task_retries=0,  # a run is never silently run twice: the scheduler decides
            max_concurrency=2,  # stop() while run() waits
            scheduling_strategy="SPREAD",
            runtime_env={"env_vars": runs_env()},
        )
        self.slots = [remote.remote(train_command) for _ in range(share.jobs)]
        self.warming = {slot.ready.remote(): slot for slot in self.slots}
        self.idle: list = []
        self.waiting: deque[tuple[Handle, Job]] = deque()
        self.flights: dict[Handle, Flight] = {}
        self.cancelled: list[Handle] = []  # stopped before they were dispatched
        self.pending: list[Ended] = []  # ended while ready() was asked, for the next poll()
        self.next_id = 0

    @staticmethod
    def _connect() -> None:
        # "local": a Ray of this sweep's own; without it Ray would join any Ray it finds running.
        address = os.environ.get("RAY_ADDRESS") or "local"
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,  # a run's output goes to its output.log
                logging_level="ERROR",
            )
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"Ray at RAY_ADDRESS={address}" if address != "local" else "a local Ray"
            if "InvalidAuthToken" in str(err.__cause__ or err.__context__):
                mode = os.environ.get("RAY_AUTH_MODE", "disabled")
                raise LauncherError(
                    f"{where} refused this driver: its authentication token is missing or wrong "
                    f"(RAY_AUTH_MODE={mode} here); use the head's ~/.ray/auth_token (or RAY_AUTH_TOKEN) "
                    "with RAY_AUTH_MODE=token"
                ) from None
            raise LauncherError(f"cannot connect to {where}: {_telling_line(err)}") from None

    def capacity(self) -> list[dict[str, str]]:
        return [{"KSWEEP_THREADS": str(self.threads)} for _ in self.slots]

    def admits(self, slot_env: dict[str, str]) -> bool:
        return True  # Ray places runs by num_gpus; their memory is not gated here.

    def ready(self, timeout: float) -> bool:
        self.pending += self._collect(timeout if not self.idle else 0)
        return bool(self.idle) or bool(self.flights)

    def start(self, job: Job) -> Handle:
        self.next_id += 1
        handle = Handle(self.next_id)
        self.waiting.append((handle, job))
        self._dispatch()
        return handle

    def started_at(self, handle: Handle) -> float | None:
        flight = self.flights.get(handle)
        return flight.began if flight else None

    def poll(self, timeout: float) -> list[Ended]:
        ended, self.pending = self.pending + self._collect(0 if self.pending else timeout), []
        self._dispatch()
        return ended

    def stop(self, handle: Handle, hard: bool) -> None:
        flight = self.flights.get(handle)
        if flight is not None:
            flight.slot.stop.remote(hard)
        elif any(h == handle for h, _ in self.waiting):
            self.waiting = deque((h, j) for h, j in self.waiting if h != handle)
            self.cancelled.append(handle)

    def close(self) -> None:
        for slot in self.slots:
            ray.kill(slot, no_restart=True)  # its fork server sees EOF and kills the run's group
        if self.started_ray:
            ray.shutdown()

    def _dispatch(self) -> None:
        while self.waiting and self.idle:
            handle, job = self.waiting.popleft()
            slot = self.idle.pop()
            self.flights[handle] = Flight(handle, slot, slot.run.remote(job), time.monotonic())

    def _collect(self, timeout: float) -> list[Ended]:
        """Wait up to `timeout` for warm-ups and runs; return the runs that ended."""
        ended, self.cancelled = [Ended(h, None) for h in self.cancelled], []
        refs = list(self.warming) + [f.ref for f in self.flights.values()]
        if not refs:
            return ended
        done, rest = ray.wait(refs, num_returns=1, timeout=timeout if not ended else 0)
        if done and rest:
            done += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        runs = {f.ref: f for f in self.flights.values()}
        for ref in done:
            if ref in self.warming:
                self._warmed(ref, self.warming.pop(ref))
            else:
                ended.append(self._ended(runs[ref]))
        return ended

    def _warmed(self, ref, slot) -> None:
        try:
            ray.get(ref, timeout=0)
        except RayActorError:
            self.warming[slot.ready.remote()] = slot  # restarted by Ray (or waiting for room)
            return
        except GetTimeoutError:
            return
        except Exception as err:  # the slot cannot start runs at all (e.g. no torch on that node)
            raise LauncherError(f"a Ray slot could not start its fork server: {err}") from None
        self.idle.append(slot)

    def _ended(self, flight: Flight) -> Ended:
        del self.flights[flight.handle]
        try:
            code, peak_rss_mb = ray.get(flight.ref, timeout=0)
        except RayActorError as err:
            self.warming[flight.slot.ready.remote()] = flight.slot
            return Ended(flight.handle, None, lost=f"its Ray worker died ({_telling_line(err)})")
        self.idle.append(flight.slot)
        return Ended(flight.handle, code, peak_rss_mb=peak_rss_mb)


# The node's own, or Ray's: never taken from the driver's machine.
NODE_ENV = {"CUDA_VISIBLE_DEVICES", "HOSTNAME", "PWD", "OLDPWD", "SHLVL", "_"}


def runs_env() -> dict[str, str]:
    """The runs' environment on any node: the driver's, as a local sweep's runs (and sbatch's)
    have it, less what belongs to the node; PYTHONPATH reaches ksweep (its actor's module)."""
    env = {k: v for k, v in os.environ.items() if k not in NODE_ENV and not k.startswith("RAY_")}
    return {**env, **project_env()}


REACH_SECONDS = 5


def check(options: Values) -> None:
    """Refuse, in one line and in seconds, a RAY_ADDRESS nothing answers at (ray.init would
    retry for minutes). Without RAY_ADDRESS the sweep starts a Ray of its own."""
    address = os.environ.get("RAY_ADDRESS")
    if not address or address in ("auto", "local"):
        return
    if address.startswith("ray://"):
        raise BackendError(
            f"RAY_ADDRESS={address}: Ray Client addresses are not supported; "
            "run the sweep on a node of the cluster with RAY_ADDRESS=host:port (its GCS port)"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BackendError(f"RAY_ADDRESS={address}: not host:port (e.g. 10.0.0.1:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=REACH_SECONDS) as gcs:
            answer = _http2_settings(gcs)
    except OSError as err:
        raise BackendError(
            f"cannot connect to Ray at RAY_ADDRESS={address}: {err.strerror or err}; "
            "start one there (ray start --head --port PORT), or unset RAY_ADDRESS for a local Ray"
        ) from None
    if not answer:
        raise BackendError(
            f"RAY_ADDRESS={address}: something listens there but it is not Ray's GCS (no gRPC "
            f"answer within {REACH_SECONDS} s); give the --port of `ray start --head` (default 6379)"
        )


# An HTTP/2 client's opening: a gRPC server (Ray's GCS is one) answers with its SETTINGS frame.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _http2_settings(connection: socket.socket) -> bool:
    """Whether what listens answers as a gRPC server does (ray.init would wait for minutes)."""
    connection.sendall(HTTP2_PREFACE)
    try:
        frame = connection.recv(9)
    except TimeoutError:
        return False
    return len(frame) == 9 and frame[3] == 4


@dataclass
class Share:
    jobs: int
    cpus: int
    gpus: float
    where: str  # the cluster, for the user: "2 nodes, 2 CPUs, 0 GPUs"


def cluster_share(jobs: int | None, jobs_per_gpu: int) -> Share:
    """How many runs at once, and each one's CPUs and GPU fraction, on the cluster as it is now."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    gpus = sum(n["Resources"].get("GPU", 0) for n in nodes)
    jobs = jobs or (int(gpus) * jobs_per_gpu if gpus else len(nodes)) or 1
    total_cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
    smallest_node = min((n["Resources"].get("CPU", 0) for n in nodes), default=1)
    cpus = int(max(1, min(total_cpus // jobs, smallest_node)))
    where = f"{len(nodes)} node{'s' * (len(nodes) != 1)}, {total_cpus:g} CPUs, {gpus:g} GPUs"
    return Share(jobs=jobs, cpus=cpus, gpus=1 / jobs_per_gpu if gpus else 0, where=where)


def _telling_line(err: Exception) -> str:
    """The line of a Ray error that says what died (Ray's errors open with a generic line)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return next((line for line in lines if "died" in line.lower() or "node" in line.lower()), lines[0])


def launcher(options: Values, runs: int) -> RayLauncher:
    return RayLauncher(options.train_command, options.jobs, options.jobs_per_gpu)
