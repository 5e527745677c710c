#!/usr/bin/env python3
"""The example project's own trainer: softmax regression on scikit-learn's digits, in numpy.

    python train.py --config CONFIG --output-dir DIR

It honours ksweep's trainer contract and knows nothing else of ksweep: it reads the config
file named by --config (`CONFIG_NAME=value` lines, this folder's Kconfig symbols) and writes
training_metrics.json into --output-dir after every epoch (status, epochs, final; accuracies
in percent), atomically. A config it cannot use exits 2 with a failed record.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits


def read_config(path: str) -> dict[str, str]:
    values = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            name, value = line.split("=", 1)
            values[name.removeprefix("CONFIG_")] = value.strip('"')
    return values


def write(out: Path, record: dict) -> None:
    tmp = out / ".training_metrics.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, out / "training_metrics.json")


def loss_and_accuracy(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    logits = x @ w
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean()), float((logits.argmax(axis=1) == y).mean() * 100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = read_config(args.config)
    record = {"status": "running", "epochs": [], "final": {}, "error": None, "env": {"seed": int(c["SEED"])}}
    if c.get("INIT", "zeros") not in ("zeros", "normal"):
        record.update(status="failed", error=f"INIT={c['INIT']}: not zeros or normal")
        write(out, record)
        return 2
    epochs, batch, lr = int(c["NUM_EPOCHS"]), int(c["BATCH_SIZE"]), float(c["LEARNING_RATE"])
    l2 = float(c["L2"])
    momentum = float(c["MOMENTUM"]) if c.get("USE_MOMENTUM") == "y" else 0.0

    digits = load_digits()
    x = np.hstack([digits.data / 16.0, np.ones((len(digits.data), 1))])  # a bias column
    y = digits.target
    order = np.random.default_rng(0).permutation(len(y))  # the same split for every config
    test, val, train = order[:360], order[360:540], order[540:]
    rng = np.random.default_rng(int(c["SEED"]))
    shape = (x.shape[1], 10)
    w = np.zeros(shape) if c.get("INIT", "zeros") == "zeros" else rng.normal(0, 0.01, shape)
    step = np.zeros_like(w)
    started = time.time()
    for epoch in range(1, epochs + 1):
        began = time.time()
        shuffled = rng.permutation(train)
        for start in range(0, len(shuffled), batch):
            rows = shuffled[start : start + batch]
            xb, yb = x[rows], y[rows]
            logits = xb @ w
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            grad = xb.T @ p / len(yb) + l2 * w
            step = momentum * step - lr * grad
            w += step
        train_loss, train_acc = loss_and_accuracy(w, x[train], y[train])
        val_loss, val_acc = loss_and_accuracy(w, x[val], y[val])
        if not np.isfinite(val_loss):
            record.update(status="diverged", error=f"loss is not finite at epoch {epoch}")
            write(out, record)
            return 1
        record["epochs"].append(
            {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
             "val_acc": val_acc, "lr": lr, "seconds": time.time() - began}
        )  # fmt: skip
        write(out, record)
        print(f"epoch {epoch}/{epochs}: val_loss {val_loss:.4f} val_acc {val_acc:.2f}", flush=True)
    _, test_acc = loss_and_accuracy(w, x[test], y[test])
    record["final"] = {"val_acc": val_acc, "val_loss": val_loss, "test_acc": test_acc,
                       "train_seconds": time.time() - started}  # fmt: skip
    record["status"] = "completed"
    write(out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
