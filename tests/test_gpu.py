"""The GPU path, on a real GPU (`make gpu-check`; skipped without CUDA, saying so): each run
pinned to its GPU, the JOBS_PER_GPU memory gate on real NVML readings, the runner's GPU
telemetry, and the trainer's DATA_ON_DEVICE, bf16, channels-last and torch.compile."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
import time

import pytest

from ksweep.launchers import gpumem
from tests.conftest import run_script, wait_for
from tests.trainer_helpers import read_metrics, run_cli, write_config


def cuda_available() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not cuda_available(), reason="no CUDA device here: run make gpu-check on a GPU machine"
    ),
]


def gpus() -> list[str]:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def env_trainer(tmp_path, hold_seconds: float = 0.0):
    """A contract trainer that records CUDA_VISIBLE_DEVICES and KSWEEP_THREADS, holding for a moment."""
    trainer = tmp_path / "env_trainer.sh"
    trainer.write_text(
        f"#!/bin/sh\nout=$4\nsleep {hold_seconds}\n"
        'printf \'{"status": "completed", "epochs": [], "final": {"val_acc": 90.0}, '
        '"env": {"gpu": "%s", "threads": "%s"}}\' "$CUDA_VISIBLE_DEVICES" "$KSWEEP_THREADS" '
        '> "$out/training_metrics.json"\n'
    )
    trainer.chmod(trainer.stat().st_mode | stat.S_IEXEC)
    return trainer


def one_seed_each(sweep, count: int) -> None:
    sweep.generate("|".join(str(i) for i in range(1, count + 1)))


def test_each_run_is_pinned_to_one_gpu_numbered_as_nvidia_smi_numbers_them(sweep, tmp_path):
    visible = gpus()
    one_seed_each(sweep, 2 * len(visible))
    trainer = env_trainer(tmp_path, hold_seconds=1)
    result = sweep.run("--train-command", str(trainer), "--jobs-per-gpu", "2")
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in sweep.dirs()[0].glob("config_*/training_metrics.json")]
    used = sorted(r["env"]["gpu"] for r in records)
    assert used == sorted(visible * 2)  # every GPU, two runs each, never two GPUs for one run


def test_nvml_reads_each_gpus_memory_and_processes():
    for gpu in gpus():
        reading = gpumem.read(gpu)
        assert reading is not None, f"NVML could not read GPU {gpu}"
        assert 0 < reading.free <= reading.total and reading.utilisation is not None


def test_the_memory_gate_holds_a_run_until_its_gpu_has_the_memory(sweep, tmp_path):
    first = gpus()[0]
    hold = (
        "import torch, time; free, total = torch.cuda.mem_get_info(); "
        "x = torch.empty(int(free * 0.9), dtype=torch.uint8, device='cuda'); print('held', flush=True); "
        "time.sleep(600)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], env={**os.environ, "CUDA_VISIBLE_DEVICES": first},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        one_seed_each(sweep, 1)
        env = {"CUDA_VISIBLE_DEVICES": first}
        runner = sweep.popen("--train-command", str(env_trainer(tmp_path)), "--jobs-per-gpu", "2", env=env)
        wait_for(lambda: sweep.dirs(), 60)
        time.sleep(3)
        assert not list(sweep.dirs()[0].glob("config_*/training_metrics.json"))  # held at the gate
        holder.kill()
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        assert f"GPU     {first}:" in out.decode() and "waiting" in out.decode()
        assert set(sweep.statuses().values()) == {"completed"}
    finally:
        holder.kill()


def test_a_builtin_gpu_runs_telemetry_reaches_its_record_and_the_summary(sweep):
    sweep.generate("1", extra="CONFIG_MODEL_SELECT_MLP=y\nCONFIG_NUM_EPOCHS=3\n")
    builtin = ["--config-dir", sweep.configs, "--output-dir", sweep.results, "--no-progress"]
    result = run_script("run_test_matrix.py", *builtin, timeout=600)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads((sweep.dirs()[0] / "sweep_summary.json").read_text())
    assert row["status"] == "completed" and row["gpu_mem_peak_mb"] > 0
    record = read_metrics(next(sweep.dirs()[0].glob("config_001*")))
    assert record["env"]["cuda"] and "cpu" not in record["env"]["device"]


@pytest.mark.parametrize(
    "options",
    [
        {"DATA_ON_DEVICE": True},
        {"DATA_ON_DEVICE": False},
        {"MIXED_PRECISION_BF16": True},
        {"CHANNELS_LAST": True},
        {"TORCH_COMPILE": True},
    ],
    ids=["data-on-device", "dataloader", "bf16", "channels-last", "torch-compile"],
)
def test_the_trainers_gpu_options_train_lenet5_to_finite_metrics(tmp_path, options):
    config = write_config(
        tmp_path / "config", MODEL_SELECT_LENET5=True, DATASET_SELECT_DIGITS=True, NUM_EPOCHS=2, **options
    )
    done = run_cli(config, tmp_path / "out")
    assert done.returncode == 0, done.stderr[-2000:]
    record = read_metrics(tmp_path / "out")
    assert record["status"] == "completed" and record["env"]["cuda"]
    assert math.isfinite(record["final"]["val_acc"]) and record["final"]["val_acc"] > 50
