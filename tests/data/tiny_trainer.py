#!/usr/bin/env python3
"""A tiny trainer honouring the ksweep contract, for runner tests (no torch, instant).

`--config FILE --output-dir DIR`; what it does depends on CONFIG_SEED:
    13  os.abort() after one epoch        14  hang forever
    15  exit 3 without writing anything    16  report a diverged run
    other: complete; val_acc = 90 + SEED / 10, after sleeping TINY_SLEEP seconds (env)
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path


def write(out: Path, data: dict) -> None:
    tmp = out / ".training_metrics.json.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, out / "training_metrics.json")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args()
    values = dict(
        line.split("=", 1)
        for line in Path(args.config).read_text().splitlines()
        if line.startswith("CONFIG_")
    )
    seed = int(values.get("CONFIG_SEED", "42"))
    out = Path(args.output_dir)
    print(f"tiny trainer: seed {seed}, pid {os.getpid()}", flush=True)
    epoch = {"epoch": 1, "train_loss": 0.5, "train_acc": 80.0, "val_loss": 0.4, "val_acc": 85.0}
    write(out, {"status": "running", "epochs": [epoch], "final": {}, "error": None, "env": {}})
    if seed == 13:
        print("about to abort", flush=True)
        os.abort()
    if seed == 14:
        time.sleep(3600)
    if seed == 15:
        print("giving up", file=sys.stderr)
        (out / "training_metrics.json").unlink()
        return 3
    if seed == 16:
        write(out, {"status": "diverged", "epochs": [epoch], "final": {}, "error": "loss is nan at epoch 2"})
        return 3
    time.sleep(float(os.environ.get("TINY_SLEEP", "0")))
    acc = 90 + seed / 10
    final = {"val_acc": acc, "val_loss": 1 / acc, "test_acc": acc - 1, "sparsity": 0.0, "train_seconds": 0.01}
    write(
        out, {"status": "completed", "epochs": [epoch], "final": final, "error": None, "env": {"seed": seed}}
    )
    print(f"done val_acc {acc}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
