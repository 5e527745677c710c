"""A real two-node Ray cluster on 127.0.0.1 for tests and benchmarks: a head and a second
`ray start --address` node, each with its own ports, temp dir and session.

    with local_ray(nodes=2) as cluster:     # RayUnavailable (with the reason) when it cannot start
        subprocess.run([...], env={**os.environ, **cluster.env})
        cluster.nodes[1].kill()             # that node's raylet, workers and runs, as a crash would

The pytest fixture `ray_cluster` (tests/conftest.py) starts one for the whole session.
Each node is `ray start --block` in a session of its own, so killing the session kills
exactly that node; `ray stop` is never used (it stops every Ray on the machine).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RAY = Path(sys.executable).with_name("ray")
STARTED = "Ray runtime started."
START_SECONDS = 90

# The head notices a dead node within about two seconds instead of Ray's default 15+.
FAST_HEALTH_CHECKS = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}
COMMON_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}


# Each node's own: two nodes on one machine must not meet on Ray's default ports.
NODE_PORTS = (
    "node-manager-port",
    "object-manager-port",
    "runtime-env-agent-port",
    "dashboard-agent-grpc-port",
    "dashboard-agent-listen-port",
    "metrics-export-port",
)


class RayUnavailable(RuntimeError):
    """No local Ray cluster can start here; the message says why."""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class RayNode:
    name: str
    temp_dir: Path
    process: subprocess.Popen
    log: Path

    def pids(self) -> list[int]:
        """Every process of this node: its `ray start`, raylet, agents, workers, and what they
        started in sessions of their own (the runs' fork servers and the runs)."""
        found = set()
        for process in psutil.process_iter():
            try:
                if os.getsid(process.pid) == self.process.pid:
                    found.add(process.pid)
                    found.update(child.pid for child in process.children(recursive=True))
            except (OSError, psutil.Error):
                pass  # gone meanwhile
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL the whole node at once, as a machine that loses power."""
        for pid in self.pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class RayCluster:
    root: Path
    port: int
    nodes: list[RayNode] = field(default_factory=list)
    auth: dict[str, str] = field(default_factory=lambda: {"RAY_AUTH_MODE": "disabled"})

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a driver needs to use this cluster."""
        return {**COMMON_ENV, **self.auth, "RAY_ADDRESS": self.address}

    def add_node(self, head: bool = False, cpus: int = 1) -> RayNode:
        name = "head" if head else f"node{len(self.nodes)}"
        temp_dir = self.root / f"{name}-{int(time.time() * 1000) % 100000}"
        ports = dict(zip(NODE_PORTS, free_ports(len(NODE_PORTS)), strict=True))
        argv = [str(RAY), "start", "--block", f"--num-cpus={cpus}", "--node-ip-address=127.0.0.1"]
        argv += [f"--temp-dir={temp_dir}", "--disable-usage-stats"]
        argv += [f"--{name_}={value}" for name_, value in ports.items()]
        if head:
            (dashboard_port,) = free_ports(1)
            argv += [f"--port={self.port}", "--head", "--include-dashboard=false"]
            argv += [f"--dashboard-port={dashboard_port}"]
        else:
            argv += [f"--address={self.address}"]
        log = self.root / f"{name}.log"
        env = {**os.environ, **COMMON_ENV, **self.auth, **(FAST_HEALTH_CHECKS if head else {})}
        env.pop("RAY_ADDRESS", None)
        with open(log, "wb") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        node = RayNode(name, temp_dir, process, log)
        self._wait_started(node)
        self.nodes.append(node)
        return node

    def _wait_started(self, node: RayNode) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            text = node.log.read_text(errors="replace")
            if STARTED in text:
                return
            if not node.alive():
                lines = [line for line in text.splitlines() if line.strip()] or ["no output"]
                raise RayUnavailable(f"`ray start` for the {node.name} failed: {lines[-1]}")
            time.sleep(0.2)
        node.kill()
        raise RayUnavailable(f"`ray start` for the {node.name} took over {START_SECONDS} s")

    def keep_alive(self, count: int) -> None:
        """Replace dead nodes (a test killed one) until `count` are alive."""
        self.nodes = [node for node in self.nodes if node.alive()]
        while len(self.nodes) < count:
            self.add_node()

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.alive():
                node.kill()


def unavailable_reason() -> str | None:
    """Why no local Ray cluster can start here, or None when it may."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed (pip install -r requirements-ray.txt)"
    if not RAY.exists():
        return f"no `ray` command beside {sys.executable}"
    return None


@contextmanager
def local_ray(nodes: int = 2, cpus_per_node: int = 1, token: str | None = None) -> Iterator[RayCluster]:
    """Start a head and nodes-1 more on 127.0.0.1; kill them all and remove their temp dirs after.
    Without `token`, authentication is off (a cluster for one user: no token to share between
    nodes and driver); with it, every node wants that token."""
    reason = unavailable_reason()
    if reason:
        raise RayUnavailable(reason)
    # A short path: Ray's socket paths must fit in 107 bytes.
    cluster = RayCluster(Path(tempfile.mkdtemp(prefix="ksray-")), free_ports(1)[0])
    if token:
        cluster.auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    try:
        cluster.add_node(head=True, cpus=cpus_per_node)
        for _ in range(nodes - 1):
            cluster.add_node(cpus=cpus_per_node)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)
