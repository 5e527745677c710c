"""Hand-made sweep directories with known metrics, for the analyzer's tests.

A run is written the way the runner leaves it: config.txt (kconfiglib format),
training_metrics.json (ksweep.contract.records schema, plus the runner's block) and output.log.
"""

from __future__ import annotations

import json
from pathlib import Path

BASE_CONFIG = {
    "CONFIG_MODEL_SELECT_LENET5": "y",
    "CONFIG_DATASET_SELECT_DIGITS": "y",
    "CONFIG_OPTIMIZER_SELECT_ADAMW": "y",
    "CONFIG_NUM_EPOCHS": "3",
    "CONFIG_BATCH_SIZE": "64",
    "CONFIG_LEARNING_RATE": '"0.001"',
    "CONFIG_WEIGHT_DECAY": '"0.0"',
    "CONFIG_SAVE_CHECKPOINT": "n",
}


def config_text(values: dict[str, str]) -> str:
    """A .config as kconfiglib writes it: strings quoted, `n` bools as `# ... is not set`."""
    lines = ["#", "# Automatically generated file; DO NOT EDIT.", "#"]
    for name, value in {**BASE_CONFIG, **values}.items():
        lines.append(f"# {name} is not set" if value == "n" else f"{name}={value}")
    return "\n".join(lines) + "\n"


def make_run(
    sweep: Path,
    number: int,
    values: dict[str, str] | None = None,
    *,
    status: str = "completed",
    val_acc: float | None = 90.0,
    val_loss: float | None = 0.3,
    test_acc: float | None = 89.0,
    train_acc: float | None = 95.0,
    sparsity: float | None = 0.0,
    epochs: int = 3,
    wall_seconds: float | None = 10.0,
    error: str | None = None,
    log: str = "epoch 3 done\n",
    suffix: str = "lenet5_adamw",
    threads: int | None = None,
) -> Path:
    """One run directory config_NNN_<suffix> with a linear learning curve ending at the given metrics."""
    run = sweep / f"config_{number:03d}_{suffix}"
    run.mkdir(parents=True)
    (run / "config.txt").write_text(config_text(values or {}))
    (run / "output.log").write_text(log)
    history = [_epoch(i, epochs, val_acc, val_loss, train_acc) for i in range(1, epochs + 1)]
    final = {}
    if status == "completed":
        final = {
            "val_acc": val_acc,
            "val_loss": val_loss,
            "test_acc": test_acc,
            "sparsity": sparsity,
            "train_seconds": 8.0,
        }
    env = {} if threads is None else {"threads": threads}
    metrics = {"status": status, "epochs": history, "final": final, "error": error, "env": env}
    if wall_seconds is not None:
        metrics["runner"] = {
            "wall_seconds": wall_seconds,
            "exit_code": 0 if status == "completed" else 1,
            "attempts": 1,
            "config_hash": f"hash{number:03d}",
        }
    (run / "training_metrics.json").write_text(json.dumps(metrics))
    return run


def _epoch(i: int, total: int, val_acc, val_loss, train_acc) -> dict:
    share = i / total
    return {
        "epoch": i,
        "train_loss": 1.0 - 0.5 * share,
        "train_acc": None if train_acc is None else train_acc * share,
        "val_loss": None if val_loss is None else val_loss / share,
        "val_acc": None if val_acc is None else val_acc * share,
        "lr": 0.001,
        "sparsity": 0.0,
        "seconds": 2.0,
    }


# Learning rate x batch size, val_acc known per run; config_005 failed, config_006 is running.
GRID = [
    # number, lr, batch, val_acc, val_loss, test_acc
    (1, "0.001", "32", 91.0, 0.30, 90.5),
    (2, "0.001", "64", 93.0, 0.25, 92.0),
    (3, "0.01", "32", 88.0, 0.40, 87.5),
    (4, "0.01", "64", 93.0, 0.20, 92.5),
    (7, "0.1", "32", 70.0, 0.90, 69.0),
    (8, "0.1", "64", 75.0, 0.80, 74.0),
]


def make_grid_sweep(root: Path, name: str = "sweep_20250101_120000") -> Path:
    """A sweep of 8 runs: 6 completed (GRID), one failed (config_005), one running (config_006)."""
    sweep = root / name
    for number, lr, batch, acc, loss, test in GRID:
        values = {"CONFIG_LEARNING_RATE": f'"{lr}"', "CONFIG_BATCH_SIZE": batch}
        make_run(sweep, number, values, val_acc=acc, val_loss=loss, test_acc=test)
    make_run(
        sweep,
        5,
        {"CONFIG_LEARNING_RATE": '"1.0"', "CONFIG_BATCH_SIZE": "32"},
        status="diverged",
        error="loss is NaN at epoch 2",
        log="epoch 1 done\nepoch 2: loss nan\n\n",
    )
    make_run(
        sweep,
        6,
        {"CONFIG_LEARNING_RATE": '"1.0"', "CONFIG_BATCH_SIZE": "64"},
        status="running",
        epochs=1,
        log="epoch 1 done\n",
    )
    return sweep
