"""BACKEND=ray against a real two-node Ray on 127.0.0.1 (the `ray_cluster` fixture: a head
and a second `ray start --address` node, one CPU each), through the runner's CLI as a user
runs it, with the tiny trainer (tests/data/tiny_trainer.py)."""

import os
import signal
import socket

import pytest

from tests.backend_helpers import (
    kill_driver_after_two_completed,
    ranking,
    records,
    status_of,
    summary_rows,
    untouched,
)
from tests.conftest import run_script, wait_for

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


def test_a_six_run_sweep_on_ray_leaves_the_files_a_local_sweep_does(sweep, ray_cluster):
    sweep.generate("1|2|3|4|5|6")
    local = sweep.run("--output-dir", sweep.results / "local")
    assert local.returncode == 0, local.stderr
    on_ray = sweep.run("--output-dir", sweep.results / "ray", *RAY, env=ray_cluster.env)
    assert on_ray.returncode == 0, on_ray.stderr
    (local_dir,) = (sweep.results / "local").glob("sweep_*")
    (ray_dir,) = (sweep.results / "ray").glob("sweep_*")
    assert [p.name for p in sorted(ray_dir.glob("config_*"))] == [
        p.name for p in sorted(local_dir.glob("config_*"))
    ]
    assert set(r["status"] for r in records(ray_dir).values()) == {"completed"}
    assert summary_rows(ray_dir) == summary_rows(local_dir)
    assert ranking(ray_dir) == ranking(local_dir) and len(ranking(ray_dir)) == 6
    for run_dir in ray_dir.glob("config_*"):
        assert sorted(p.name for p in run_dir.iterdir()) == sorted(
            p.name for p in (local_dir / run_dir.name).iterdir()
        )
    # JOBS defaults to one run per node, each with the CPUs of its node
    assert "RAY     2 nodes, 2 CPUs, 0 GPUs: 2 at a time, 1 CPU and 0 GPU each" in on_ray.stdout


def test_a_run_that_segfaults_on_ray_fails_alone(sweep, ray_cluster):
    sweep.generate("1|24|3|4")
    result = sweep.run(*RAY, "--jobs", "2", env=ray_cluster.env)
    assert result.returncode == 0, result.stderr
    assert sweep.statuses() == {"001": "completed", "002": "failed", "003": "completed", "004": "completed"}
    crashed = records(sweep.dirs()[0])["config_002_lenet5_adamw"]
    assert crashed["error"] == "killed by signal SIGSEGV" and "about to segfault" in crashed["log_tail"]


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


def test_a_killed_driver_resumed_on_ray_redoes_no_completed_run(sweep, ray_cluster):
    sweep.generate("1|2|3|4|5|6")
    driver = sweep.popen(*RAY, "--jobs", "2", env={**ray_cluster.env, "TINY_SLEEP": "1.5"})
    sweep_dir, done = kill_driver_after_two_completed(sweep, driver)
    # Ray ends a dead driver's actors, and their fork servers the runs they held.
    wait_for(lambda: all(runs_of(node) == 0 for node in ray_cluster.nodes), 60)
    resume = ("--resume", "--output-dir", sweep.results, *RAY)
    resumed = run_script("run_test_matrix.py", *resume, env=ray_cluster.env, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{6 - len(done)} to do" in resumed.stdout
    assert set(sweep.statuses().values()) == {"completed"}
    untouched(sweep_dir, done)


def test_ctrl_c_on_ray_interrupts_the_clusters_runs_and_leaves_none_running(sweep, ray_cluster):
    sweep.generate("1|2|3|4")
    driver = sweep.popen(*RAY, "--jobs", "2", env={**ray_cluster.env, "TINY_HANG_FROM": "1"})
    sweep_dir = wait_for(lambda: sweep.dirs(), 60) and sweep.dirs()[0]
    wait_for(lambda: running(sweep_dir, 2), 60)
    assert all(runs_of(node) == 1 for node in ray_cluster.nodes)  # one run on each node
    driver.send_signal(signal.SIGINT)
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    assert set(sweep.statuses().values()) == {"interrupted"}  # running and waiting alike
    wait_for(lambda: all(runs_of(node) == 0 for node in ray_cluster.nodes), 30)


def test_run_timeout_on_ray_kills_the_hung_run_on_its_node(sweep, ray_cluster):
    sweep.generate("1|14|3")
    result = sweep.run(*RAY, "--jobs", "2", "--run-timeout", "3", env=ray_cluster.env)
    assert result.returncode == 0, result.stderr
    assert sweep.statuses() == {"001": "completed", "002": "timeout", "003": "completed"}
    assert records(sweep.dirs()[0])["config_002_lenet5_adamw"]["error"] == "killed after RUN_TIMEOUT=3 s"


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
