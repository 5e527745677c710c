"""The built-in trainer survives preemption: a run started again continues from last_epoch.pt and
ends with the metrics of a run that was never stopped, bit for bit (CPU, one thread count).

A kill is a real SIGKILL of `python -m models.train`, stopped at the start of epoch 6 by a
pause point (KSWEEP_PAUSE_AT=epoch-6). The other variants are interrupted in this process,
by a Ctrl-C (KeyboardInterrupt) that arrives as the trainer prints epoch k+1's line, after
that epoch trained and before its end-of-epoch save: what is left on disk is the same as
after a kill during epoch k+1 (last_epoch.pt of epoch k), and run() seeds and sets all
state itself, so the restart in this process is a fresh start.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys

import pytest
import torch

from models.train import run
from tests.conftest import wait_for
from tests.test_crash import stopped
from tests.trainer_helpers import (
    OFFLINE_ENV,
    ROOT,
    final_without_time,
    read_metrics,
    run_cli,
    run_quiet,
    write_config,
    write_tiny_cifar10,
)

# End to end through the commands, or real training: make test-all (not make test).
pytestmark = pytest.mark.slow

LAST_EPOCH = "last_epoch.pt"
MLP = {"MODEL_SELECT_MLP": True, "MLP_NUM_LAYERS": 1, "CPU_THREADS": 1}


class CtrlCAt(io.StringIO):
    """A stdout that raises KeyboardInterrupt once, when a line starting with `prefix` is printed."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix, self.fired = prefix, False

    def write(self, text: str) -> int:
        written = super().write(text)
        if not self.fired and text.startswith(self.prefix):
            self.fired = True
            raise KeyboardInterrupt
        return written


def interrupted_at(config, out, prefix: str) -> str:
    """run() until Ctrl-C at the line starting with `prefix`; its stdout."""
    sink = CtrlCAt(prefix)
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        code = run(config, out)
    assert sink.fired and code == 130, sink.getvalue()
    return sink.getvalue()


def restart(config, out) -> tuple[int, str, str]:
    """Start the run again as the runner does: its old training_metrics.json removed first."""
    (out / "training_metrics.json").unlink()
    return run_quiet(config, out)


def comparable(metrics: dict) -> tuple[list[dict], dict]:
    """Every epoch row and the final block, without the timing fields."""
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in metrics["epochs"]]
    return rows, final_without_time(metrics)


def epoch_numbers(stdout: str) -> list[int]:
    return [int(line.split()[1].split("/")[0]) for line in stdout.splitlines() if line.startswith("epoch ")]


def uninterrupted(config, out) -> dict:
    code, _, err = run_quiet(config, out)
    assert code == 0, err
    return read_metrics(out)


@pytest.mark.slow
def test_run_killed_in_epoch_6_resumes_from_epoch_5_and_ends_as_if_never_killed(tmp_path):
    config = write_config(tmp_path / "config", NUM_EPOCHS=10, CPU_THREADS=1, OPTIMIZER_SELECT_ADAMW=True)
    out = tmp_path / "run"
    out.mkdir()
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(
            [sys.executable, "-m", "models.train", "--config", str(config), "--output-dir", str(out)],
            cwd=ROOT,
            env={**os.environ, **OFFLINE_ENV, "KSWEEP_PAUSE_AT": "epoch-6"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: stopped(first) or first.poll() is not None, seconds=240)
            assert first.poll() is None, (tmp_path / "first.log").read_text()
        finally:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    killed = read_metrics(out)
    assert killed["status"] == "running" and len(killed["epochs"]) == 5
    assert (out / LAST_EPOCH).is_file()  # kept: the run did not complete

    (out / "training_metrics.json").unlink()  # as the runner does before each start
    second = run_cli(config, out)
    assert second.returncode == 0, second.stderr
    assert "resumed from epoch 5" in second.stdout.splitlines()
    assert epoch_numbers(second.stdout) == [6, 7, 8, 9, 10]
    resumed = read_metrics(out)
    assert resumed["status"] == "completed" and not (out / LAST_EPOCH).exists()
    assert comparable(resumed) == comparable(uninterrupted(config, tmp_path / "whole"))


VARIANTS = {
    "adamw": {"OPTIMIZER_SELECT_ADAMW": True},
    "sgd-magnitude": {
        "OPTIMIZER_SELECT_SGD": True,
        "SGD_MOMENTUM": "0.9",
        "LEARNING_RATE": "0.02",
        "PRUNING_METHOD": "magnitude",
        "TARGET_SPARSITY": "0.6",
        "PRUNING_WARMUP": 10,
        "PRUNING_RAMP_END_EPOCH": 4,
    },
    "adamwprune-state": {
        "OPTIMIZER_SELECT_ADAMWPRUNE": True,
        "PRUNING_METHOD": "state",
        "TARGET_SPARSITY": "0.6",
        "PRUNING_WARMUP": 10,
        "PRUNING_RAMP_END_EPOCH": 4,
    },
    "plateau": {
        "OPTIMIZER_SELECT_SGD": True,
        "LEARNING_RATE": "0.5",
        "SCHEDULER_SELECT_PLATEAU": True,
        "SCHEDULER_PATIENCE": 0,
        "SCHEDULER_GAMMA": "0.5",
    },
    "save-checkpoint-pruned": {
        "PRUNING_METHOD": "magnitude",
        "TARGET_SPARSITY": "0.9",
        "PRUNING_WARMUP": 10,
        "PRUNING_RAMP_END_EPOCH": 2,
        "SAVE_CHECKPOINT": True,
    },
}


@pytest.mark.parametrize("symbols", VARIANTS.values(), ids=VARIANTS.keys())
def test_interrupted_run_resumed_has_an_uninterrupted_runs_metrics(tmp_path, symbols):
    config = write_config(tmp_path / "config", NUM_EPOCHS=6, **MLP, **symbols)
    whole = uninterrupted(config, tmp_path / "whole")
    out = tmp_path / "run"
    interrupted_at(config, out, "epoch 4/")  # epoch 4 trained, not saved
    assert read_metrics(out)["status"] == "interrupted" and (out / LAST_EPOCH).is_file()
    code, stdout, err = restart(config, out)
    assert code == 0, err
    assert "resumed from epoch 3" in stdout.splitlines() and epoch_numbers(stdout) == [4, 5, 6]
    assert comparable(read_metrics(out)) == comparable(whole)
    assert not (out / LAST_EPOCH).exists()


def test_the_variants_exercise_the_state_they_resume(tmp_path):
    """Each variant's state matters after epoch 3: the masks still change, the LR still drops,
    the best checkpoint moves; otherwise the equality above would prove little."""
    rows = {}
    for name in ("sgd-magnitude", "plateau", "save-checkpoint-pruned"):
        config = write_config(tmp_path / f"{name}.config", NUM_EPOCHS=6, **MLP, **VARIANTS[name])
        rows[name] = uninterrupted(config, tmp_path / name)
    sparsity = [row["sparsity"] for row in rows["sgd-magnitude"]["epochs"]]
    assert 0 < sparsity[2] < sparsity[3]  # pruned before the interruption, more after
    lrs = [row["lr"] for row in rows["plateau"]["epochs"]]
    assert lrs[3:] != [lrs[2]] * 3  # the plateau rule decays after the interruption
    final = rows["save-checkpoint-pruned"]["final"]
    assert final["checkpoint_epoch"] > 3 and final["checkpoint_test_acc"] is not None


def test_best_model_bookkeeping_continues_across_a_resume(tmp_path):
    config = write_config(tmp_path / "config", NUM_EPOCHS=6, **MLP, **VARIANTS["save-checkpoint-pruned"])
    uninterrupted(config, tmp_path / "whole")
    out = tmp_path / "run"
    interrupted_at(config, out, "epoch 4/")
    assert restart(config, out)[0] == 0
    best = {d: torch.load(tmp_path / d / "best_model.pt", weights_only=False) for d in ("whole", "run")}
    assert best["run"]["epoch"] == best["whole"]["epoch"]
    assert all(torch.equal(best["run"]["model"][k], v) for k, v in best["whole"]["model"].items())


def test_augmented_cifar10_run_resumed_has_an_uninterrupted_runs_metrics(tmp_path):
    """Random crops and flips draw from the same generator as the shuffling."""
    data_dir = write_tiny_cifar10(tmp_path / "data")
    config = write_config(
        tmp_path / "config", DATASET_SELECT_CIFAR10=True, DATA_DIR=str(data_dir), NUM_EPOCHS=4, **MLP
    )
    whole = uninterrupted(config, tmp_path / "whole")
    out = tmp_path / "run"
    interrupted_at(config, out, "epoch 3/")
    code, stdout, err = restart(config, out)
    assert code == 0, err
    assert epoch_numbers(stdout) == [3, 4] and comparable(read_metrics(out)) == comparable(whole)


def test_checkpoint_after_the_last_epoch_only_tests_and_finishes(tmp_path):
    config = write_config(tmp_path / "config", NUM_EPOCHS=3, **MLP)
    whole = uninterrupted(config, tmp_path / "whole")
    out = tmp_path / "run"
    interrupted_at(config, out, "final ")  # every epoch saved, the test split not yet scored
    code, stdout, err = restart(config, out)
    assert code == 0, err
    assert "resumed from epoch 3" in stdout.splitlines() and epoch_numbers(stdout) == []
    assert comparable(read_metrics(out)) == comparable(whole)


def test_checkpoint_of_another_config_is_ignored_and_the_run_starts_at_epoch_1(tmp_path):
    out = tmp_path / "run"
    interrupted_at(write_config(tmp_path / "a", NUM_EPOCHS=4, **MLP), out, "epoch 3/")
    other = write_config(tmp_path / "b", NUM_EPOCHS=4, LEARNING_RATE="0.003", **MLP)
    code, stdout, err = restart(other, out)
    assert code == 0, err
    ignored = [line for line in stdout.splitlines() if line.startswith(f"ignored {LAST_EPOCH}")]
    assert len(ignored) == 1 and "another config" in ignored[0] and "training from epoch 1" in ignored[0]
    assert "resumed" not in stdout and epoch_numbers(stdout) == [1, 2, 3, 4]
    assert comparable(read_metrics(out)) == comparable(uninterrupted(other, tmp_path / "whole"))


def test_more_epochs_planned_continue_a_run_as_if_planned_from_the_start(tmp_path):
    step = {"SCHEDULER_SELECT_STEP": True, "SCHEDULER_STEP_SIZE": 2, "SCHEDULER_GAMMA": "0.5"}
    out = tmp_path / "run"
    interrupted_at(write_config(tmp_path / "short", NUM_EPOCHS=4, **MLP, **step), out, "epoch 3/")
    longer = write_config(tmp_path / "long", NUM_EPOCHS=6, **MLP, **step)
    code, stdout, err = restart(longer, out)
    assert code == 0, err
    assert "resumed from epoch 2" in stdout.splitlines() and epoch_numbers(stdout) == [3, 4, 5, 6]
    assert comparable(read_metrics(out)) == comparable(uninterrupted(longer, tmp_path / "whole"))


def test_more_epochs_planned_under_a_cosine_schedule_start_again(tmp_path):
    out = tmp_path / "run"
    cosine = {"SCHEDULER_SELECT_COSINE": True}
    interrupted_at(write_config(tmp_path / "short", NUM_EPOCHS=4, **MLP, **cosine), out, "epoch 3/")
    code, stdout, err = restart(write_config(tmp_path / "long", NUM_EPOCHS=6, **MLP, **cosine), out)
    assert code == 0, err
    assert "the cosine schedule" in stdout and epoch_numbers(stdout) == [1, 2, 3, 4, 5, 6]


def test_run_that_fails_keeps_its_checkpoint_and_one_that_completes_removes_it(tmp_path):
    config = write_config(tmp_path / "config", NUM_EPOCHS=3, **MLP)
    out = tmp_path / "run"
    interrupted_at(config, out, "epoch 2/")
    assert (out / LAST_EPOCH).is_file()
    config.write_text(config.read_text() + "CONFIG_LEARNING_RATE=fast\n")  # refused before training
    assert restart(config, out)[0] == 2 and (out / LAST_EPOCH).is_file()
    assert run_quiet(write_config(tmp_path / "config", NUM_EPOCHS=3, **MLP), out)[0] == 0
    assert not (out / LAST_EPOCH).exists()
