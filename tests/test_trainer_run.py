"""The trainer end to end: real training on the digits set, through the CLI and through run()."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

from ksweep.contract.records import EPOCH_KEYS, FINAL_KEYS
from tests.trainer_helpers import (
    ROOT,
    SEED_GUIDE,
    final_without_time,
    read_metrics,
    run_cli,
    run_quiet,
    write_config,
)

EPOCH_LINE = re.compile(
    r"^epoch (\d+)/(\d+) train_loss \d+\.\d{4} train_acc \d+\.\d{2} val_loss \d+\.\d{4} "
    r"val_acc \d+\.\d{2} lr \S+ sparsity \d\.\d{3} time \d+\.\d{2}s$"
)


@pytest.fixture(scope="module")
def lenet_cli(tmp_path_factory):
    """The default config (LeNet-5, digits, AdamW lr 0.001, batch 64, 5 epochs) through the CLI."""
    tmp = tmp_path_factory.mktemp("lenet")
    config = write_config(tmp / "config")
    return config, tmp / "run", run_cli(config, tmp / "run", env={"KSWEEP_GIT_COMMIT": "abc123"})


@pytest.mark.slow
def test_lenet5_on_digits_reaches_95_percent_in_5_epochs(lenet_cli):
    _, out, proc = lenet_cli
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(out)
    assert metrics["status"] == "completed" and metrics["error"] is None
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2, 3, 4, 5]
    assert all(set(EPOCH_KEYS) <= set(row) for row in metrics["epochs"])
    assert set(FINAL_KEYS) <= set(metrics["final"])
    assert metrics["final"]["val_acc"] >= 95.0
    assert 0 <= metrics["final"]["test_acc"] <= 100


@pytest.mark.slow
def test_one_line_per_epoch_on_stdout(lenet_cli):
    _, _, proc = lenet_cli
    epochs = [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 5 and all(EPOCH_LINE.match(line) for line in epochs), proc.stdout
    assert proc.stdout.splitlines()[-1] == "status completed"


@pytest.mark.slow
def test_env_records_where_and_what_ran(lenet_cli):
    _, out, _ = lenet_cli
    env = read_metrics(out)["env"]
    assert env["git_commit"] == "abc123" and env["seed"] == 42 and env["cuda"] is None
    assert env["device"].startswith("cpu") and len(env["config_hash"]) == 16
    assert env["python"] and env["torch"] == torch.__version__ and env["hostname"]


@pytest.mark.slow
def test_same_config_gives_identical_metrics_fresh_and_twice_in_one_process(lenet_cli, tmp_path):
    config, out, _ = lenet_cli
    fresh = read_metrics(out)
    for i in range(2):
        code, _, _ = run_quiet(config, tmp_path / f"again{i}")
        again = read_metrics(tmp_path / f"again{i}")
        assert code == 0
        assert final_without_time(again) == final_without_time(fresh)
        assert [r["val_loss"] for r in again["epochs"]] == [r["val_loss"] for r in fresh["epochs"]]


@pytest.mark.slow
def test_bad_value_exits_2_with_one_line_reason_and_failed_record(tmp_path):
    proc = run_cli(write_config(tmp_path / "config", LEARNING_RATE="fast"), tmp_path / "run")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "CONFIG_LEARNING_RATE: fast is not a number" in proc.stderr
    metrics = read_metrics(tmp_path / "run")
    assert metrics["status"] == "failed" and "fast is not a number" in metrics["error"]
    assert metrics["epochs"] == []


@pytest.mark.slow
def test_seed_guide_state_pruning_config_stops_at_once_with_the_reason(tmp_path):
    proc = run_cli(write_config(tmp_path / "config", **SEED_GUIDE), tmp_path / "run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "PRUNING_WARMUP=7800 steps lies at or beyond the run's last step" in proc.stderr
    metrics = read_metrics(tmp_path / "run")
    assert metrics["status"] == "failed" and "PRUNING_WARMUP=7800" in metrics["error"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "symbols",
    [
        {"PRUNING_METHOD": "magnitude"},
        {"OPTIMIZER_SELECT_ADAMWPRUNE": True, "PRUNING_METHOD": "state", "PRUNING_WARMUP": 10},
        {"OPTIMIZER_SELECT_ADAM": True, "PRUNING_METHOD": "state", "PRUNING_FREQUENCY": 7},
    ],
    ids=["magnitude", "state-adamwprune", "state-adam"],
)
def test_pruning_to_half_ends_at_half_measured_sparsity(tmp_path, symbols):
    config = write_config(tmp_path / "config", TARGET_SPARSITY="0.5", NUM_EPOCHS=4, **symbols)
    code, _, err = run_quiet(config, tmp_path / "run")
    assert code == 0, err
    metrics = read_metrics(tmp_path / "run")
    sparsity = [row["sparsity"] for row in metrics["epochs"]]
    assert sparsity == sorted(sparsity)  # pruned weights stay pruned
    assert abs(metrics["final"]["sparsity"] - 0.5) <= 0.02
    assert metrics["final"]["val_acc"] >= 90.0


def test_huge_learning_rate_ends_diverged_without_nan_in_the_record(tmp_path):
    config = write_config(
        tmp_path / "config", MODEL_SELECT_MLP=True, OPTIMIZER_SELECT_SGD=True, LEARNING_RATE="100"
    )
    code, out, err = run_quiet(config, tmp_path / "run")
    assert code == 3
    metrics = read_metrics(tmp_path / "run")  # refuses NaN
    assert metrics["status"] == "diverged"
    assert re.search(r"non-finite loss .* at epoch \d+, step \d+", metrics["error"])
    assert "non-finite loss" in err and out.splitlines()[-1] == "status diverged"


@pytest.mark.parametrize("optimizer", ["SGD", "ADAM", "ADAMW", "ADAMWPRUNE"])
@pytest.mark.parametrize("scheduler", ["NONE", "STEP", "COSINE", "PLATEAU"])
def test_every_optimizer_and_scheduler_trains_the_mlp(tmp_path, optimizer, scheduler):
    config = write_config(
        tmp_path / "config",
        MODEL_SELECT_MLP=True,
        MLP_NUM_LAYERS=1,
        NUM_EPOCHS=2,
        WARMUP_EPOCHS=1,
        LEARNING_RATE="0.01",
        **{f"OPTIMIZER_SELECT_{optimizer}": True, f"SCHEDULER_SELECT_{scheduler}": True},
    )
    code, _, err = run_quiet(config, tmp_path / "run")
    assert code == 0, err
    metrics = read_metrics(tmp_path / "run")
    assert metrics["epochs"][0]["lr"] == pytest.approx(0.01)  # the warmup's last step reaches the peak
    assert metrics["final"]["val_acc"] > 50.0


def test_save_checkpoint_keeps_the_best_epochs_model(tmp_path):
    config = write_config(tmp_path / "config", MODEL_SELECT_MLP=True, NUM_EPOCHS=3, SAVE_CHECKPOINT=True)
    assert run_quiet(config, tmp_path / "run")[0] == 0
    checkpoint = torch.load(tmp_path / "run" / "best_model.pt", weights_only=False)
    best = max(read_metrics(tmp_path / "run")["epochs"], key=lambda row: row["val_acc"])
    assert checkpoint["epoch"] == best["epoch"] and checkpoint["val_acc"] == best["val_acc"]
    assert "0.weight" not in checkpoint["model"] and "1.weight" in checkpoint["model"]


def _weights_sparsity(state: dict) -> float:
    weights = [v for k, v in state.items() if k.endswith("weight") and v.dim() > 1]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def test_pruning_runs_best_model_is_a_pruned_model_and_the_record_says_which_epoch(tmp_path):
    config = write_config(
        tmp_path / "config",
        NUM_EPOCHS=4,
        PRUNING_METHOD="magnitude",
        TARGET_SPARSITY="0.9",
        PRUNING_WARMUP=20,
        PRUNING_RAMP_END_EPOCH=3,
        SAVE_CHECKPOINT=True,
    )
    code, _, err = run_quiet(config, tmp_path / "run")
    assert code == 0, err
    metrics = read_metrics(tmp_path / "run")
    assert metrics["epochs"][0]["sparsity"] < 0.5  # the dense epochs exist, and may score best
    checkpoint = torch.load(tmp_path / "run" / "best_model.pt", weights_only=False)
    final = metrics["final"]
    assert _weights_sparsity(checkpoint["model"]) == pytest.approx(0.9, abs=0.01)
    assert final["checkpoint_epoch"] == checkpoint["epoch"] >= 3
    assert final["checkpoint_sparsity"] == pytest.approx(_weights_sparsity(checkpoint["model"]), abs=1e-3)
    row = metrics["epochs"][checkpoint["epoch"] - 1]
    assert final["checkpoint_val_acc"] == row["val_acc"] == checkpoint["val_acc"]
    assert final["sparsity"] == metrics["epochs"][-1]["sparsity"]  # final: the last epoch's model
    assert final["checkpoint_test_acc"] is not None and final["test_acc"] is not None


def test_dense_epoch_never_wins_so_the_checkpoint_is_the_first_epoch_at_the_target(tmp_path):
    config = write_config(
        tmp_path / "config",
        NUM_EPOCHS=2,
        PRUNING_METHOD="magnitude",
        TARGET_SPARSITY="0.9",
        PRUNING_WARMUP=30,
        PRUNING_RAMP_END_EPOCH=2,
        SAVE_CHECKPOINT=True,
    )
    code, _, err = run_quiet(config, tmp_path / "run")
    assert code == 0, err
    metrics = read_metrics(tmp_path / "run")
    final = metrics["final"]
    # epoch 1 is dense and scores best by far; only epoch 2 has reached 90%
    assert metrics["epochs"][0]["sparsity"] == 0 and metrics["epochs"][0]["val_acc"] > final["val_acc"]
    checkpoint = torch.load(tmp_path / "run" / "best_model.pt", weights_only=False)
    assert final["checkpoint_epoch"] == checkpoint["epoch"] == 2
    assert final["checkpoint_test_acc"] == final["test_acc"]  # the checkpoint is the final model


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda_is_refused(tmp_path):
    code, _, err = run_quiet(write_config(tmp_path / "config", DEVICE="cuda"), tmp_path / "run")
    assert code == 2 and "CUDA is not available" in err


def test_threads_come_from_ksweep_threads_when_cpu_threads_is_0(tmp_path, monkeypatch):
    monkeypatch.setenv("KSWEEP_THREADS", "1")
    config = write_config(tmp_path / "config", MODEL_SELECT_MLP=True, NUM_EPOCHS=1)
    assert run_quiet(config, tmp_path / "run")[0] == 0
    assert read_metrics(tmp_path / "run")["env"]["threads"] == 1
    config = write_config(tmp_path / "config", MODEL_SELECT_MLP=True, NUM_EPOCHS=1, CPU_THREADS=2)
    assert run_quiet(config, tmp_path / "run")[0] == 0
    assert read_metrics(tmp_path / "run")["env"]["threads"] == 2


@pytest.mark.slow
def test_ksweep_threads_alone_fixes_a_cpu_runs_metrics(tmp_path):
    config = write_config(tmp_path / "config", OPTIMIZER_SELECT_ADAMW=True, NUM_EPOCHS=2, DEVICE="cpu")
    finals = []
    for i, extra in enumerate(({}, {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"})):
        proc = run_cli(config, tmp_path / f"run{i}", env={"KSWEEP_THREADS": "1", **extra})
        assert proc.returncode == 0, proc.stderr
        metrics = read_metrics(tmp_path / f"run{i}")
        assert (metrics["env"]["threads"], metrics["env"]["threads_from"]) == (1, "KSWEEP_THREADS")
        finals.append(final_without_time(metrics))
    assert finals[0] == finals[1]


FORK_SERVER = """
import json, os, sys
import torch
from models import train
train.warmup()
assert not torch.cuda.is_initialized(), "warmup() initialised CUDA"
results = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        sys.stdout = open(os.devnull, "w")
        os._exit(train.run(sys.argv[1], f"{sys.argv[2]}/child{i}"))
    results.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(results))
"""


@pytest.mark.slow
def test_runs_forked_from_a_warmed_up_server_complete_with_fresh_metrics(lenet_cli, tmp_path):
    config, out, _ = lenet_cli
    proc = subprocess.run(
        [sys.executable, "-c", FORK_SERVER, str(config), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # a child that inherited a started OpenMP pool would hang here
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[0, 0]", proc.stderr
    for i in range(2):
        assert final_without_time(read_metrics(tmp_path / f"child{i}")) == final_without_time(
            read_metrics(out)
        )
