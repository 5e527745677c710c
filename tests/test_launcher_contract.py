"""The launcher contract, one suite run against every backend: local, a real two-node Ray
(`ray_cluster`) and a real single-node Slurm (`slurm`). Whatever launched them, a sweep's
runs leave the same files, summary and ranking; a crashing run fails alone; RUN_TIMEOUT
kills a hung run; Ctrl-C interrupts every run and leaves none running; a killed driver's
sweep resumes without redoing a finished run. What only one backend has (a node killed,
a task scancelled or preempted) is in test_ray_backend.py and test_slurm_backend.py."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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

# Through the runner's command, as a user runs it: make test-all (the fast loop has test_run_parts.py).
pytestmark = pytest.mark.slow


@dataclass
class Backend:
    name: str
    flags: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)
    runs_left: Callable[[Path], int] = lambda sweep_dir: 0  # runs still executing for that sweep
    resume_says: str = "to do"  # what a resume after a killed driver prints


def local_runs_left(sweep_dir: Path) -> int:
    """Tiny-trainer processes of this sweep still alive on this machine."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read()
        except OSError:
            continue
        count += b"tiny_trainer" in command and str(sweep_dir).encode() in command
    return count


@pytest.fixture(
    params=[
        "local",
        pytest.param("ray", marks=pytest.mark.ray),
        pytest.param("slurm", marks=pytest.mark.slurm),
    ]
)
def backend(request) -> Backend:
    if request.param == "local":
        return Backend("local", runs_left=local_runs_left)
    if request.param == "ray":
        from tests.test_ray_backend import runs_of

        cluster = request.getfixturevalue("ray_cluster")
        return Backend(
            "ray", ("--backend", "ray"), cluster.env, lambda _: sum(runs_of(node) for node in cluster.nodes)
        )
    from tests.test_slurm_backend import live_tasks

    slurm = request.getfixturevalue("slurm")
    return Backend(
        "slurm", ("--backend", "slurm"), slurm.env, lambda sweep_dir: len(live_tasks(slurm, sweep_dir))
    )


def test_a_six_run_sweep_leaves_the_files_summary_and_ranking_of_a_one_at_a_time_local_sweep(sweep, backend):
    sweep.generate("1|2|3|4|5|6")
    reference = sweep.run("--output-dir", sweep.results / "reference", "--jobs", "1")
    assert reference.returncode == 0, reference.stderr
    result = sweep.run("--output-dir", sweep.results / backend.name, *backend.flags, env=backend.env)
    assert result.returncode == 0, result.stderr
    (reference_dir,) = (sweep.results / "reference").glob("sweep_*")
    (sweep_dir,) = (sweep.results / backend.name).glob("sweep_*")
    assert sorted(p.name for p in sweep_dir.glob("config_*")) == sorted(
        p.name for p in reference_dir.glob("config_*")
    )
    assert {r["status"] for r in records(sweep_dir).values()} == {"completed"}
    assert summary_rows(sweep_dir) == summary_rows(reference_dir)
    assert ranking(sweep_dir) == ranking(reference_dir) and len(ranking(sweep_dir)) == 6
    for run_dir in sweep_dir.glob("config_*"):  # a run's own files only; a backend's stay apart
        assert sorted(p.name for p in run_dir.iterdir()) == sorted(
            p.name for p in (reference_dir / run_dir.name).iterdir()
        )


def test_a_run_that_segfaults_fails_alone(sweep, backend):
    sweep.generate("1|24|3")
    result = sweep.run(*backend.flags, "--jobs", "2", env=backend.env)
    assert result.returncode == 0, result.stderr
    assert sweep.statuses() == {"001": "completed", "002": "failed", "003": "completed"}
    crashed = records(sweep.dirs()[0])["config_002_lenet5_adamw"]
    assert crashed["error"] == "killed by signal SIGSEGV" and "about to segfault" in crashed["log_tail"]


def test_run_timeout_kills_the_hung_run_and_the_others_complete(sweep, backend):
    sweep.generate("1|14|3")
    result = sweep.run(*backend.flags, "--jobs", "2", "--run-timeout", "4", env=backend.env)
    assert result.returncode == 0, result.stderr
    assert sweep.statuses() == {"001": "completed", "002": "timeout", "003": "completed"}
    assert records(sweep.dirs()[0])["config_002_lenet5_adamw"]["error"] == "killed after RUN_TIMEOUT=4 s"
    wait_for(lambda: backend.runs_left(sweep.dirs()[0]) == 0, 60)


def test_ctrl_c_interrupts_every_run_and_leaves_none_running(sweep, backend):
    sweep.generate("1|2|3|4")
    driver = sweep.popen(*backend.flags, "--jobs", "2", env={**backend.env, "TINY_HANG_FROM": "1"})
    sweep_dir = wait_for(lambda: sweep.dirs(), 60) and sweep.dirs()[0]
    wait_for(
        lambda: status_of(sweep_dir, "config_001") == status_of(sweep_dir, "config_002") == "running", 120
    )
    driver.send_signal(signal.SIGINT)
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    assert "Resume with: make sweep-resume" in err.decode()
    assert set(sweep.statuses().values()) == {"interrupted"}  # running and waiting alike
    wait_for(lambda: backend.runs_left(sweep_dir) == 0, 60)


def test_a_killed_driver_resumed_redoes_no_completed_run(sweep, backend):
    sweep.generate("1|2|3|4|5|6")
    driver = sweep.popen(*backend.flags, "--jobs", "2", env={**backend.env, "TINY_SLEEP": "1.5"})
    sweep_dir, done = kill_driver_after_two_completed(sweep, driver)
    resume = ("--resume", "--output-dir", sweep.results, *backend.flags)
    resumed = run_script("run_test_matrix.py", *resume, env=backend.env, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert backend.resume_says in resumed.stdout
    assert set(sweep.statuses().values()) == {"completed"}
    untouched(sweep_dir, done)
    wait_for(lambda: backend.runs_left(sweep_dir) == 0, 60)
