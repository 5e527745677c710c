"""The CPUs a run may really use (ksweep.contract.cpus), and what a run's environment gets
so that a busy machine slows it by about its fair share (GOMP_SPINCOUNT=10000 by default)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from ksweep.contract.cpus import cgroup_cpu_quota, usable_cpus
from tests.conftest import ROOT


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_cgroup_v2_quota_caps_the_cpus_and_the_tightest_ancestor_wins(tmp_path):
    write(tmp_path / "slurm/job_1/cpu.max", "150000 100000\n")  # 1.5 CPUs
    write(tmp_path / "slurm/cpu.max", "400000 100000\n")
    write(tmp_path / "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(tmp_path, "0::/slurm/job_1\n") == 1.5
    assert usable_cpus(tmp_path, "0::/slurm/job_1\n") == 1  # whole CPUs, never more than the quota


def test_a_cgroup_v1_quota_counts_and_no_quota_leaves_the_affinity(tmp_path):
    write(tmp_path / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n")
    write(tmp_path / "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, "4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n") == 3.0
    write(tmp_path / "cpu/cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu/cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, "1:cpu:/\n") is None
    assert usable_cpus(tmp_path, "1:cpu:/\n") == len(os.sched_getaffinity(0))


def test_a_quota_inside_a_cgroup_namespace_is_read_at_the_root(tmp_path):
    write(tmp_path / "cpu.max", "200000 100000\n")
    assert cgroup_cpu_quota(tmp_path, "0::/\n") == 2.0


def env_trainer(tmp_path):
    trainer = tmp_path / "env_trainer.sh"
    trainer.write_text(
        "#!/bin/sh\nout=$4\n"
        'printf \'{"status": "completed", "epochs": [], "final": {"val_acc": 90.0}, '
        '"env": {"threads": "%s", "omp": "%s", "spin": "%s"}}\' '
        '"$KSWEEP_THREADS" "$OMP_WAIT_POLICY" "$GOMP_SPINCOUNT" '
        '> "$out/training_metrics.json"\n'
    )
    trainer.chmod(trainer.stat().st_mode | stat.S_IEXEC)
    return trainer


def run_env(tmp_path, prefix=(), env=None) -> dict:
    """The env record of a one-run sweep whose trainer writes its KSWEEP_THREADS and OMP_WAIT_POLICY;
    `env` adds to the runner's environment (None drops a variable)."""
    configs, results = tmp_path / "sweep_configs", tmp_path / "results"
    configs.mkdir(exist_ok=True)
    (configs / "config_001").write_text("CONFIG_SEED=1\n")
    runner = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--no-progress"]
    paths = ["--config-dir", str(configs), "--output-dir", str(results)]
    command = [*prefix, *runner, *paths, "--train-command", str(env_trainer(tmp_path))]
    full = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=full)
    assert done.returncode == 0, done.stderr
    (record,) = results.glob("sweep_*/config_001*/training_metrics.json")
    return json.loads(record.read_text())["env"]


def test_a_runs_openmp_threads_spin_briefly_then_sleep_unless_the_user_says_otherwise(tmp_path):
    assert run_env(tmp_path, env={"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None})["spin"] == "10000"
    shutil.rmtree(tmp_path / "results")
    own = run_env(tmp_path, env={"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None})
    assert own["omp"] == "ACTIVE" and own["spin"] == ""  # the user's policy, and no spin count of ours


@pytest.mark.skipif(
    shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2, reason="needs taskset, 2 CPUs"
)
def test_a_runs_thread_count_follows_the_cpus_the_runner_may_use_not_the_machines(tmp_path):
    assert run_env(tmp_path)["threads"] == str(len(os.sched_getaffinity(0)))
    shutil.rmtree(tmp_path / "results")
    assert run_env(tmp_path, prefix=("taskset", "-c", "0"))["threads"] == "1"
