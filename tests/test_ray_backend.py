"""BACKEND=ray against a real two-node Ray on 127.0.0.1 (the `ray_cluster` fixture: a head
and a second `ray start --address` node, one CPU each), through the runner's CLI as a user
runs it, with the tiny trainer (tests/data/tiny_trainer.py)."""

import os
import socket

import pytest

from tests.backend_helpers import (
    records,
    status_of,
)
from tests.conftest import wait_for

# Against a real Ray: make test-all (not make test).
pytestmark = pytest.mark.ray

RAY = ("--backend", "ray")


def runs_of(node) -> int:
    """Runs (tiny trainer processes) executing on that node now."""
    count = 0
    for pid in node.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                count += b"tiny_trainer" in f.read()
        except OSError:
            pass  # gone meanwhile
    return count


def running(sweep_dir, count):
    return sum(status_of(sweep_dir, f"config_00{i}") == "running" for i in range(1, 10)) == count


def test_ray_runs_one_run_per_node_by_default_and_says_so(sweep, ray_cluster):
    # The files, summary and ranking a Ray sweep leaves are test_launcher_contract.py's.
    sweep.generate("1|2")
    on_ray = sweep.run(*RAY, env=ray_cluster.env)
    assert on_ray.returncode == 0, on_ray.stderr
    # JOBS defaults to one run per node, each with the CPUs of its node
    assert "RAY     2 nodes, 2 CPUs, 0 GPUs: 2 at a time, 1 CPU and 0 GPU each" in on_ray.stdout


def held_runs(sweep_dir) -> list[str]:
    runs = sweep_dir.glob("config_*")
    return [run.name for run in runs if status_of(sweep_dir, run.name[: len("config_001")]) == "running"]


def test_killing_the_second_node_mid_run_fails_only_the_run_it_held(sweep, ray_cluster, tmp_path):
    sweep.generate("1|2|3|4|5|6")
    gate = tmp_path / "gate"  # runs wait for it: the test kills the node while both are held
    driver = sweep.popen(*RAY, "--jobs", "2", env={**ray_cluster.env, "TINY_GATE": str(gate)})
    sweep_dir = wait_for(lambda: sweep.dirs(), 60) and sweep.dirs()[0]
    head, second = ray_cluster.nodes
    wait_for(lambda: len(held_runs(sweep_dir)) == 2 and runs_of(head) == runs_of(second) == 1, 120)
    held = held_runs(sweep_dir)
    second.kill()
    gate.touch()
    out, err = driver.communicate(timeout=180)
    assert driver.returncode == 0, err
    statuses = {name: r["status"] for name, r in records(sweep_dir).items()}
    (lost,) = [name for name, status in statuses.items() if status == "failed"]
    assert lost in held
    assert records(sweep_dir)[lost]["error"].startswith("its Ray worker died")
    assert sum(status == "completed" for status in statuses.values()) == 5  # the head ran the rest


def test_a_lost_node_run_is_retried_under_retries(sweep, ray_cluster, tmp_path):
    sweep.generate("1|2|3|4")
    gate = tmp_path / "gate"
    env = {**ray_cluster.env, "TINY_GATE": str(gate)}
    driver = sweep.popen(*RAY, "--jobs", "2", "--retries", "1", env=env)
    second = ray_cluster.nodes[1]
    wait_for(lambda: runs_of(second) == 1, 120)
    second.kill()
    gate.touch()
    out, err = driver.communicate(timeout=180)
    assert driver.returncode == 0, err
    assert set(sweep.statuses().values()) == {"completed"}
    (retry,) = [line for line in out.decode().splitlines() if "RETRY" in line]
    assert ": failed: its Ray worker died" in retry and "(attempt 1), trying again" in retry


@pytest.mark.parametrize(
    "address, says",
    [
        ("127.0.0.1:1", "cannot connect to Ray at RAY_ADDRESS=127.0.0.1:1: Connection refused; start one"),
        ("headnode", "RAY_ADDRESS=headnode: not host:port (e.g. 10.0.0.1:6379)"),
        ("ray://h:10001", "RAY_ADDRESS=ray://h:10001: Ray Client addresses are not supported"),
    ],
)
def test_a_ray_address_nothing_answers_at_is_one_clear_line_before_any_sweep_folder(sweep, address, says):
    sweep.generate("1|2")
    result = sweep.run(*RAY, env={"RAY_ADDRESS": address}, timeout=60)
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: {says}")
    assert not sweep.results.exists() or not sweep.dirs()


@pytest.mark.slow
def test_without_ray_address_the_sweep_starts_a_ray_of_its_own(sweep, ray_cluster):
    sweep.generate("1|2")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = sweep.run(*RAY, env={**env, "RAY_ADDRESS": ""}, timeout=180)
    assert result.returncode == 0, result.stderr
    assert set(sweep.statuses().values()) == {"completed"}
    # The fixture's cluster, running beside it, was not joined.
    assert all(runs_of(node) == 0 for node in ray_cluster.nodes)


def test_a_port_that_is_not_ray_is_one_clear_line_before_any_sweep_folder(sweep):
    sweep.generate("1|2")
    with socket.socket() as not_ray:  # accepts connections, answers nothing (ray.init would hang)
        not_ray.bind(("127.0.0.1", 0))
        not_ray.listen()
        address = f"127.0.0.1:{not_ray.getsockname()[1]}"
        result = sweep.run(*RAY, env={"RAY_ADDRESS": address}, timeout=60)
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: RAY_ADDRESS={address}: something listens there but it is not Ray's GCS")
    assert not sweep.results.exists() or not sweep.dirs()


def test_a_cluster_that_refuses_the_drivers_token_is_one_clear_line_and_a_sweep_to_resume(sweep):
    from tests.ray_cluster import RayUnavailable, local_ray

    sweep.generate("1|2")
    try:
        with local_ray(nodes=1, token="a-secret-of-the-cluster") as cluster:
            env = {**cluster.env, "RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": ""}
            result = sweep.run(*RAY, env=env, timeout=180)
    except RayUnavailable as err:
        pytest.skip(f"no local Ray cluster: {err}")
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(
        f"error: Ray at RAY_ADDRESS={cluster.address} refused this driver: its authentication"
    )
    assert "Resume with: make sweep-resume SWEEP=" in line and "Traceback" not in result.stderr
    assert sweep.statuses() == {}  # nothing started; the plan is kept for the resume
