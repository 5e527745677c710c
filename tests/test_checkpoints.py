"""SAVE_CHECKPOINT=y KEEP_CHECKPOINTS=N: the best model and the last N epochs', each saying which it is."""

import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT, run_script

RANGE = (
    "CONFIG_MODEL_SELECT_MLP=y\nCONFIG_DATASET_SELECT_DIGITS=y\nCONFIG_NUM_EPOCHS=4\n"
    "CONFIG_SAVE_CHECKPOINT=y\nCONFIG_KEEP_CHECKPOINTS=2\n"
)


@pytest.mark.slow
def test_the_last_n_epoch_checkpoints_are_kept_with_their_metadata(tmp_path, range_file):
    configs = tmp_path / "configs"
    assert run_script("generate_config_combinations.py", range_file(RANGE), configs).returncode == 0
    out = tmp_path / "run"
    out.mkdir()
    trained = subprocess.run(
        [sys.executable, "-m", "models.train", "--config", configs / "config_001", "--output-dir", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr
    assert sorted(p.name for p in out.glob("*.pt")) == [
        "best_model.pt",
        "checkpoint_epoch_003.pt",
        "checkpoint_epoch_004.pt",
    ]  # epochs 1 and 2 were removed as 3 and 4 came
    record = json.loads((out / "training_metrics.json").read_text())
    last = torch.load(out / "checkpoint_epoch_004.pt", weights_only=False)
    assert last["epoch"] == 4 and last["metrics"] == record["epochs"][3]
    assert last["config_hash"] == record["env"]["config_hash"]
    best = torch.load(out / "best_model.pt", weights_only=False)
    assert best["epoch"] == record["final"]["checkpoint_epoch"] and best["config_hash"] == last["config_hash"]
