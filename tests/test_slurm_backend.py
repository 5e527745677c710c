"""BACKEND=slurm against a real single-node Slurm (the session's `slurm` fixture), through the
runner's CLI as a user runs it, with the tiny trainer (tests/data/tiny_trainer.py)."""

import json
import os
import pickle
import re
import stat
import subprocess
import sys

import pytest

from ksweep.launchers.slurm import time_limit_minutes
from tests.backend_helpers import (
    records,
    status_of,
)
from tests.conftest import ROOT, run_script, wait_for

SLURM = ("--backend", "slurm")


def task_ids(sweep_dir):
    """Run folder name → its Slurm task id, from submitit's submitted pickles."""
    ids = {}
    for path in (sweep_dir / ".slurm").glob("*_submitted.pkl"):
        with open(path, "rb") as f:
            task = pickle.load(f).function
        ids[os.path.basename(task.job.output_dir)] = path.name.removesuffix("_submitted.pkl")
    return ids


def live_tasks(slurm, sweep_dir):
    names = " ".join(
        sorted({path.name.split("_")[0] for path in (sweep_dir / ".slurm").glob("*_submitted.pkl")})
    )
    if not names:
        return []
    out = slurm.command("squeue", "-h", "-r", "-j", names.replace(" ", ","), "-o", "%i %T").stdout
    return out.split()[::2]


def test_a_slurm_sweep_is_one_array_throttled_by_jobs(sweep, slurm):
    # The files, summary and ranking a Slurm sweep leaves are test_launcher_contract.py's.
    sweep.generate("1|2|3")
    result = sweep.run(*SLURM, "--jobs", "2", env=slurm.env)
    assert result.returncode == 0, result.stderr
    slurm_dir = sweep.dirs()[0]
    assert len((slurm_dir / ".slurm/jobs").read_text().split()) == 1  # one array submitted
    (script,) = (slurm_dir / ".slurm").glob("*_submission.sh")
    assert "#SBATCH --array=0-2%2" in script.read_text()  # JOBS is the array's throttle


def test_a_task_scancelled_mid_run_is_interrupted_and_resume_reruns_it(sweep, slurm):
    sweep.generate("1|2|30")
    driver = sweep.popen(*SLURM, env={**slurm.env, "TINY_HANG_FROM": "30"})
    sweep_dir = wait_for(lambda: sweep.dirs(), 60) and sweep.dirs()[0]
    wait_for(lambda: status_of(sweep_dir, "config_003") == "running", 60)
    wait_for(
        lambda: status_of(sweep_dir, "config_001") == status_of(sweep_dir, "config_002") == "completed", 60
    )
    task = task_ids(sweep_dir)["config_003_lenet5_adamw"]
    assert re.fullmatch(r"\d+_2", task)  # one array: the third run is its task 2
    assert slurm.command("scancel", task).returncode == 0
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 0, err
    assert sweep.statuses() == {"001": "completed", "002": "completed", "003": "interrupted"}
    cancelled = records(sweep_dir)["config_003_lenet5_adamw"]
    assert cancelled["error"] == "cancelled by Slurm (scancel); rerun to resume"
    resumed = run_script(
        "run_test_matrix.py", "--resume", "--output-dir", sweep.results, *SLURM, env=slurm.env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "1 to do" in resumed.stdout and set(sweep.statuses().values()) == {"completed"}


def test_run_timeout_on_slurm_counts_from_when_the_run_began_running(sweep, slurm):
    # One run at a time: the fifth waits in Slurm's queue for four runs of 1.5 s (6 s or
    # more), longer than RUN_TIMEOUT: counted from submission, it would time out too.
    sweep.generate("1|2|3|4|5|14")
    env = {**slurm.env, "TINY_SLEEP": "1.5"}
    result = sweep.run(*SLURM, "--jobs", "1", "--run-timeout", "5", env=env)
    assert result.returncode == 0, result.stderr
    assert sweep.statuses() == {f"00{i}": "completed" for i in range(1, 6)} | {"006": "timeout"}
    hung = records(sweep.dirs()[0])["config_006_lenet5_adamw"]
    assert hung["error"] == "killed after RUN_TIMEOUT=5 s"
    (script,) = (sweep.dirs()[0] / ".slurm").glob("*_submission.sh")
    assert "#SBATCH --time=2\n" in script.read_text()  # 5 s: one minute, rounded up, plus one
    assert live_tasks(slurm, sweep.dirs()[0]) == []


def test_a_preempted_task_is_requeued_by_submitit_and_its_run_completes(sweep, slurm):
    sweep.generate("1")
    driver = sweep.popen(*SLURM, env={**slurm.env, "TINY_SLEEP": "3"})
    sweep_dir = wait_for(lambda: sweep.dirs(), 60) and sweep.dirs()[0]
    wait_for(lambda: status_of(sweep_dir, "config_001") == "running", 60)
    (task,) = task_ids(sweep_dir).values()
    # What Slurm sends a task it preempts (submitit's convention: USR2).
    assert slurm.command("scancel", "--signal=USR2", task).returncode == 0
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 0, err
    assert sweep.statuses() == {"001": "completed"}
    log = (sweep_dir / "config_001_lenet5_adamw/output.log").read_text()
    assert "preempted by Slurm, requeued" in log and log.count("tiny trainer: seed 1") == 2


def test_slurm_cpus_reach_the_run_as_its_allocation_and_thread_count(sweep, slurm, tmp_path):
    trainer = tmp_path / "env_trainer.sh"
    trainer.write_text(
        "#!/bin/sh\nout=$4\n"
        'printf \'{"status": "completed", "epochs": [], "final": {"val_acc": 90.0}, '
        '"env": {"threads": "%s", "cpus": "%s"}}\' "$KSWEEP_THREADS" "$SLURM_CPUS_PER_TASK" '
        '> "$out/training_metrics.json"\n'
    )
    trainer.chmod(trainer.stat().st_mode | stat.S_IEXEC)
    sweep.generate("1")
    result = sweep.run(*SLURM, "--slurm-cpus", "2", "--train-command", str(trainer), env=slurm.env)
    assert result.returncode == 0, result.stderr
    (record,) = records(sweep.dirs()[0]).values()
    assert record["env"] == {"threads": "2", "cpus": "2"}


def test_an_unreachable_slurm_controller_is_one_clear_line_before_any_sweep_folder(sweep, slurm, tmp_path):
    conf = tmp_path / "slurm.conf"  # the cluster's, pointing at a port where nothing listens
    sweep.generate("1|2")
    with socket_on_free_port() as port:
        conf.write_text(re.sub(r"SlurmctldPort=\d+", f"SlurmctldPort={port}", slurm.conf.read_text()))
        result = sweep.run(*SLURM, env={"SLURM_CONF": str(conf)}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: BACKEND=slurm: the Slurm controller does not answer: sinfo: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not sweep.results.exists() or not list(sweep.results.glob("sweep_*"))


def test_slurm_commands_missing_is_one_clear_line(sweep, tmp_path):
    sweep.generate("1")
    result = sweep.run(*SLURM, env={"PATH": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: BACKEND=slurm: sbatch, squeue, scancel, sinfo, srun not found on PATH"
    )
    assert not sweep.results.exists() or not list(sweep.results.glob("sweep_*"))


def test_the_slurm_time_limit_is_run_timeout_in_whole_minutes_plus_one():
    assert time_limit_minutes(None) is None
    assert [time_limit_minutes(s) for s in (1, 59.5, 60, 61, 3600)] == [2, 2, 2, 3, 61]


class socket_on_free_port:
    """A port nothing listens on (bound, never listened to, released on exit)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_local_slurm_script_prints_the_env_line(tmp_path):
    out = subprocess.run(
        [str(ROOT / "scripts/local_slurm.sh"), "env", str(tmp_path)], capture_output=True, text=True
    )
    assert out.stdout == f"export SLURM_CONF={tmp_path}/slurm.conf\n"


@pytest.mark.parametrize("args", [[], ["start"], ["restart", "/tmp/x"]])
def test_local_slurm_script_refuses_bad_usage(args):
    out = subprocess.run([str(ROOT / "scripts/local_slurm.sh"), *args], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("usage:")


def test_a_request_slurm_refuses_stops_the_sweep_with_sbatchs_reason(sweep, slurm):
    sweep.generate("1|2")
    result = sweep.run(*SLURM, "--slurm-gpus", "1", env=slurm.env)  # the local cluster has no GPU
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: Slurm refused the runs: sbatch: error: ") and "make sweep-resume" in line
    assert set(sweep.statuses().values()) == {"interrupted"}


def epochs_done(sweep_dir, run_prefix) -> int:
    found = list(sweep_dir.glob(f"{run_prefix}_*/training_metrics.json"))
    try:
        return len(json.loads(found[0].read_text()).get("epochs") or []) if found else 0
    except ValueError:
        return 0


@pytest.mark.slow
def test_a_scancelled_builtin_run_resumes_from_its_last_epoch_checkpoint(sweep, slurm):
    sweep.generate("1", extra="CONFIG_NUM_EPOCHS=20\n")
    builtin = ["--config-dir", sweep.configs, "--output-dir", sweep.results, *SLURM]
    driver = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), *map(str, builtin)],
        cwd=sweep.results.parent,
        env={**os.environ, **slurm.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sweep_dir = wait_for(lambda: sweep.dirs(), 60) and sweep.dirs()[0]
    wait_for(lambda: epochs_done(sweep_dir, "config_001") >= 2, 120)
    (task,) = task_ids(sweep_dir).values()
    assert slurm.command("scancel", task).returncode == 0
    out, err = driver.communicate(timeout=120)
    assert sweep.statuses() == {"001": "interrupted"}, err
    run_dir = sweep_dir / "config_001_lenet5_adamw"
    assert (run_dir / "last_epoch.pt").exists()
    resumed = run_script(
        "run_test_matrix.py", "--resume", "--output-dir", sweep.results, *SLURM, env=slurm.env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert sweep.statuses() == {"001": "completed"}
    log = (run_dir / "output.log").read_text()
    resumed_from = int(re.search(r"resumed from epoch (\d+)", log).group(1))
    assert resumed_from >= 2
    assert len(records(sweep_dir)["config_001_lenet5_adamw"]["epochs"]) == 20


def test_a_slurm_commands_complaint_is_quoted_once_not_named_twice(tmp_path, monkeypatch):
    from ksweep.launchers.base import LauncherError
    from ksweep.launchers.slurm import _slurm

    fake = tmp_path / "sinfo"
    complaint = "sinfo: fatal: Could not establish a configuration source"
    fake.write_text(f"#!/bin/sh\necho '{complaint}' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(LauncherError) as raised:
        _slurm(["sinfo", "-h"])
    assert str(raised.value) == complaint
