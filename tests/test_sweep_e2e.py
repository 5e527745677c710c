"""Whole sweeps with the built-in trainer, as a user starts them (make, the runner's CLI)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_script

# End to end through the commands, or real training: make test-all (not make test).
pytestmark = pytest.mark.slow

MLP_DIGITS = {"CONFIG_MODEL_SELECT_MLP": "y", "CONFIG_DATASET_SELECT_DIGITS": "y", "CONFIG_NUM_EPOCHS": "1"}
HUGE_LR = {"CONFIG_OPTIMIZER_SELECT_SGD": "y", "CONFIG_LEARNING_RATE": '"100"'}
REJECTED = {"CONFIG_PRUNING_METHOD": '"magnitude"', "CONFIG_PRUNING_WARMUP": "100000"}


def write_configs(folder, *overrides):
    """sweep_configs/ by hand: config_NNN with the MLP/digits base plus each override."""
    folder.mkdir()
    for number, extra in enumerate(overrides, start=1):
        lines = [f"{k}={v}" for k, v in {**MLP_DIGITS, **extra}.items()]
        (folder / f"config_{number:03d}").write_text("\n".join(lines) + "\n")
    return folder


def statuses(results):
    out = {}
    for metrics in sorted(results.glob("sweep_*/config_*/training_metrics.json")):
        out[metrics.parent.name.split("_")[1]] = json.loads(metrics.read_text())
    return out


@pytest.mark.slow
def test_builtin_trainer_sweep_marks_diverged_and_rejected_and_completes_the_rest(tmp_path):
    configs = write_configs(
        tmp_path / "sweep_configs", {"CONFIG_SEED": "1"}, HUGE_LR, REJECTED, {"CONFIG_SEED": "2"}
    )
    result = run_script(
        "run_test_matrix.py", "--config-dir", configs, "--output-dir", tmp_path / "results", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    runs = statuses(tmp_path / "results")
    assert [runs[n]["status"] for n in ("001", "002", "003", "004")] == [
        "completed",
        "diverged",
        "failed",
        "completed",
    ]
    assert "non-finite loss" in runs["002"]["error"]
    assert "PRUNING_WARMUP" in runs["003"]["error"] and "Traceback" not in runs["003"]["error"]
    assert runs["001"]["final"]["val_acc"] > 50 and runs["001"]["env"]["config_hash"]


@pytest.mark.slow
def test_one_sweep_survives_every_kind_of_failure(tmp_path):
    configs = write_configs(
        tmp_path / "sweep_configs",
        {"CONFIG_SEED": "1"},
        HUGE_LR,
        REJECTED,
        {"CONFIG_SEED": "13"},  # os.abort()
        {"CONFIG_SEED": "14"},  # hangs
        {"CONFIG_SEED": "2"},
    )
    command = f"{sys.executable} {ROOT / 'tests/data/misbehaving_trainer.py'}"
    result = run_script(
        "run_test_matrix.py",
        *("--config-dir", configs, "--output-dir", tmp_path / "results"),
        # Generous: a fresh trainer process starts in 4 s on an idle machine, several times that
        # on a busy one; only the hanging seed may reach it.
        *("--train-command", command, "--run-timeout", "60", "--jobs", "2"),
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    runs = statuses(tmp_path / "results")
    assert {n: r["status"] for n, r in runs.items()} == {
        "001": "completed",
        "002": "diverged",
        "003": "failed",
        "004": "failed",
        "005": "timeout",
        "006": "completed",
    }
    assert "PRUNING_WARMUP" in runs["003"]["error"]
    assert "killed by signal SIGABRT" in runs["004"]["error"]
    assert "RUN_TIMEOUT=60" in runs["005"]["error"]


@pytest.mark.slow
def test_make_sweep_runs_the_quick_embedded_sweep_and_the_seed_snippet_reads_it(tmp_path):
    result = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            "sweep",
            f"OUTPUT={tmp_path / 'results'}",
            f"CONFIG_DIR={tmp_path / 'sc'}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "36 configs" in result.stdout and "BEST    " in result.stdout
    assert "mean of 3 seeds) → " in result.stdout  # the best config by its mean, not its luckiest seed
    (sweep_dir,) = (tmp_path / "results").glob("sweep_*")
    analysis = (sweep_dir / "sweep_analysis.txt").read_text()
    for heading in (
        "BEST CONFIGURATION:",
        "Config file:",
        "Test Accuracy:",
        "Hyperparameters:",
        "TOP 10 CONFIGURATIONS:",
    ):
        assert heading in analysis
    with open(sweep_dir / "sweep_summary.json") as f:  # the seed guide's snippet, as written
        results = json.load(f)
    df = pd.DataFrame(results)
    best = df.nlargest(5, "test_acc")
    assert list(best[["config_file", "test_acc", "final_sparsity"]].columns) == [
        "config_file",
        "test_acc",
        "final_sparsity",
    ]
    assert len(df) == 36 and df["success"].all() and best["test_acc"].iloc[0] > 90
    assert df["CONFIG_LEARNING_RATE"].nunique() == 3  # the swept values reached the runs
    # Three seeds per config: configs ranked by their mean, with an interval and the configs
    # that cannot be told apart from the best.
    assert "Best config over seeds: " in analysis and "(mean ± sd of 3 seeds), 95% CI [" in analysis
    assert "CONFIGS BY MEAN OVER SEEDS:" in analysis


@pytest.mark.slow
def test_dry_run_shows_which_runs_the_builtin_trainer_would_refuse(tmp_path):
    configs = write_configs(tmp_path / "sweep_configs", {"CONFIG_SEED": "1"}, REJECTED)
    result = run_script("run_test_matrix.py", "--dry-run", "--config-dir", configs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    refused = [i for i, line in enumerate(lines) if "would be refused by the trainer" in line]
    assert len(refused) == 1 and "PRUNING_WARMUP=100000" in lines[refused[0]]
    assert lines[refused[0] - 1].lstrip().startswith("config_002_")
    assert "1 run would be refused" in result.stdout and not (tmp_path / "test_matrix_results").exists()


def children_running(parent: int, needle: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and needle in cmdline:
            found.append(int(proc.name))
    return found


@pytest.mark.slow
def test_a_dead_fork_server_stops_the_sweep_cleanly_and_resume_finishes_it(tmp_path):
    configs = write_configs(
        tmp_path / "sweep_configs", *({"CONFIG_SEED": str(s), "CONFIG_NUM_EPOCHS": "30"} for s in (1, 2))
    )
    runner = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--config-dir", str(configs)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not list(tmp_path.glob("test_matrix_results/sweep_*/config_001_*/training_metrics.json")):
        assert time.time() < deadline
        time.sleep(0.1)
    (server,) = children_running(runner.pid, "ksweep.launchers.forkserver")
    os.kill(server, signal.SIGKILL)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 1 and "Traceback" not in err
    assert "fork server exited (killed by signal SIGKILL)" in err and "make sweep-resume SWEEP=" in err
    assert "see the messages above" not in err and "REPORT  " in out  # the analysis was refreshed
    assert statuses(tmp_path / "test_matrix_results")["001"]["error"] == (
        "the runs' fork server exited (killed by signal SIGKILL); rerun to resume"
    )
    assert statuses(tmp_path / "test_matrix_results")["001"]["status"] == "interrupted"
    resumed = run_script("run_test_matrix.py", "--resume", cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert {r["status"] for r in statuses(tmp_path / "test_matrix_results").values()} == {"completed"}


@pytest.mark.slow
def test_the_reproduce_line_of_a_jobs_2_sweep_gives_its_best_runs_metrics_exactly(tmp_path):
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "sweep", "JOBS=2", f"OUTPUT={tmp_path / 'results'}"]
        + [f"CONFIG_DIR={tmp_path / 'sc'}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (tmp_path / "results").glob("sweep_*")
    lines = (sweep_dir / "sweep_analysis.txt").read_text().splitlines()
    command = lines[lines.index(next(x for x in lines if x.startswith("Reproduce:"))) + 1].strip()
    assert "KSWEEP_THREADS=" in command
    best = next(x for x in lines if x.startswith("Config file:")).split()[2]
    (best_dir,) = sweep_dir.glob(f"{best}_*")
    out = Path(command.split("--output-dir ")[1].split()[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rerun = subprocess.run(command, shell=True, cwd=elsewhere, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    reported = json.loads((best_dir / "training_metrics.json").read_text())["final"]
    reproduced = json.loads((out / "training_metrics.json").read_text())["final"]
    for key in ("val_acc", "val_loss", "test_acc"):
        assert reproduced[key] == reported[key], key


@pytest.mark.slow
def test_ctrl_c_while_the_trainer_warms_up_starts_no_run(tmp_path):
    configs = write_configs(tmp_path / "sweep_configs", {"CONFIG_SEED": "1"}, {"CONFIG_SEED": "2"})
    runner = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--config-dir", str(configs)],
        cwd=tmp_path,
        env={**os.environ, "KSWEEP_PAUSE_AT": "warming-up"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while Path(f"/proc/{runner.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.time() < deadline and runner.poll() is None
        time.sleep(0.05)
    runner.send_signal(signal.SIGINT)
    runner.send_signal(signal.SIGCONT)
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 130 and "Traceback" not in err and "make sweep-resume SWEEP=" in err
    assert "RUN     " not in out and not list(tmp_path.glob("test_matrix_results/sweep_*/config_*"))
