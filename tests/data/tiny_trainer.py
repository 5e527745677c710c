#!/usr/bin/env python3
"""A tiny trainer honouring the ksweep contract, for runner tests (no torch, instant).

`--config FILE --output-dir DIR`; what it does depends on CONFIG_SEED:
    13  os.abort() after one epoch        14  hang forever
    15  exit 3 without writing anything    16  report a diverged run
    17  write invalid JSON, exit 0         18  write a JSON list, exit 0
    19  write status "weird", exit 0       20  val_acc as a string
    21  accuracies as fractions (0-1)      22  val_acc NaN
    23  refuse the config: exit 2 with a failed record
    24  segfault (a real SIGSEGV, as a crashing C extension gives)
    other: complete; val_acc = 90 + SEED / 10, after sleeping TINY_SLEEP seconds (env)
Environment: TINY_SLEEP (seconds before completing), TINY_HANG_FROM=N (seeds from N on
sleep an hour instead), TINY_LINGER (seconds after writing the completed record, before
exiting), TINY_HELPER (a `sleep` command line to leave running in the background, as a
trainer's helper process would), TINY_BARRIER=DIR:N (wait, up to 60 s, until N runs
have started: proves they run at once), TINY_GATE=FILE (wait, up to 120 s, until FILE
exists: a test holds runs where they are; with TINY_GATE_AFTER=N, after writing epoch N),
TINY_IGNORE_TERM (ignore SIGTERM, as a stuck trainer may), TINY_EPOCHS=N (N epoch rows,
val_acc reaching the final one at the last, each written as the epoch ends,
TINY_EPOCH_SLEEP seconds apart: for pruners),
TINY_ALLOC_MB=N (hold N MiB resident while it trains), TINY_SCORE_FROM=CONFIG_X (score as
if the seed were CONFIG_X's value x 100: runs that differ in CONFIG_X, not in their seed,
score differently, as a search or a pruner's configs must; a seed is a repeat).
"""

import argparse
import ctypes
import json
import os
import signal
import subprocess
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
    if os.environ.get("TINY_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    values = dict(
        line.split("=", 1)
        for line in Path(args.config).read_text().splitlines()
        if line.startswith("CONFIG_")
    )
    seed = int(values.get("CONFIG_SEED", "42"))
    out = Path(args.output_dir)
    print(f"tiny trainer: seed {seed}, pid {os.getpid()}", flush=True)
    epoch = {"epoch": 1, "train_loss": 0.5, "train_acc": 80.0, "val_loss": 0.4, "val_acc": 85.0}
    first = [] if os.environ.get("TINY_EPOCHS") else [epoch]  # with TINY_EPOCHS, rows come as epochs end
    write(out, {"status": "running", "epochs": first, "final": {}, "error": None, "env": {}})
    if seed == 13:
        print("about to abort", flush=True)
        os.abort()
    if seed == 14:
        time.sleep(3600)
    if seed == 24:
        print("about to segfault", flush=True)
        ctypes.string_at(0)
    if seed == 15:
        print("giving up", file=sys.stderr)
        (out / "training_metrics.json").unlink()
        return 3
    if seed == 16:
        write(out, {"status": "diverged", "epochs": [epoch], "final": {}, "error": "loss is nan at epoch 2"})
        return 3
    if seed == 23:
        write(out, {"status": "failed", "epochs": [], "final": {}, "error": "CONFIG_SEED: 23 is refused"})
        return 2
    if os.environ.get("TINY_ALLOC_MB"):  # touch every page: resident, as a real model's weights are
        held = b"\x01" * (int(os.environ["TINY_ALLOC_MB"]) << 20)  # noqa: F841
    if os.environ.get("TINY_HELPER"):
        subprocess.Popen(os.environ["TINY_HELPER"].split(), start_new_session=False)
    hang_from = int(os.environ.get("TINY_HANG_FROM", "0"))
    time.sleep(3600 if hang_from and seed >= hang_from else float(os.environ.get("TINY_SLEEP", "0")))
    gate_after = int(os.environ.get("TINY_GATE_AFTER", "0"))
    if not gate_after:
        wait_for_gate()
    if os.environ.get("TINY_BARRIER"):
        wait_for_others(*os.environ["TINY_BARRIER"].rsplit(":", 1))
    score_from = os.environ.get("TINY_SCORE_FROM")
    score = round(float(values[score_from].strip('"')) * 100) if score_from in values else seed
    acc = 90 + score / 10
    final = {"val_acc": acc, "val_loss": 1 / acc, "test_acc": acc - 1, "sparsity": 0.0, "train_seconds": 0.01}
    if seed in MALFORMED:
        return MALFORMED[seed](out, epoch, final)
    epochs = [epoch]
    count = int(os.environ.get("TINY_EPOCHS", "1"))
    for number in range(1, count + 1):  # val_acc climbs to the final one: ranks hold at every epoch
        epochs[number - 1 :] = [{**epoch, "epoch": number, "val_acc": acc - (count - number)}]
        write(out, {"status": "running", "epochs": list(epochs), "final": {}, "error": None, "env": {}})
        print(f"epoch {number}/{count}", flush=True)
        if number == gate_after:
            wait_for_gate()
        time.sleep(float(os.environ.get("TINY_EPOCH_SLEEP", "0")))
    write(
        out, {"status": "completed", "epochs": epochs, "final": final, "error": None, "env": {"seed": seed}}
    )
    print(f"done val_acc {acc}", flush=True)
    time.sleep(float(os.environ.get("TINY_LINGER", "0")))
    return 0


def wait_for_gate() -> None:
    gate = os.environ.get("TINY_GATE")
    deadline = time.monotonic() + 120
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for_others(folder: str, count: str) -> None:
    Path(folder, str(os.getpid())).touch()
    deadline = time.time() + 60
    while len(os.listdir(folder)) < int(count):
        if time.time() > deadline:
            sys.exit(f"barrier: only {len(os.listdir(folder))} of {count} runs started together")
        time.sleep(0.02)


def _completed(out: Path, epoch: dict, final: dict, **changes) -> int:
    (out / "training_metrics.json").write_text(
        json.dumps({"status": "completed", "epochs": [epoch], "final": {**final, **changes}})
    )
    return 0


MALFORMED = {
    17: lambda out, e, f: (
        (out / "training_metrics.json").write_text('{"status": "completed", "epochs": [') and 0
    ),
    18: lambda out, e, f: (out / "training_metrics.json").write_text("[1, 2, 3]") and 0,
    19: lambda out, e, f: (
        (out / "training_metrics.json").write_text('{"status": "weird", "final": "nope"}') and 0
    ),
    20: lambda out, e, f: _completed(out, e, f, val_acc=str(f["val_acc"])),
    21: lambda out, e, f: _completed(
        out, {**e, "train_acc": 0.8, "val_acc": 0.85}, f, val_acc=0.92, test_acc=0.91
    ),
    22: lambda out, e, f: (
        (out / "training_metrics.json").write_text(
            json.dumps({"status": "completed", "epochs": [e], "final": {**f, "val_acc": float("nan")}})
        )
        and 0
    ),
}


if __name__ == "__main__":
    sys.exit(main())
