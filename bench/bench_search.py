#!/usr/bin/env python3
"""What random search, TPE, TPE+ASHA and TPE over a continuous space spend to find what the
full grid finds, on a space where luck does not find it.

The space (SPACE below): MLP/digits runs of the built-in trainer, 4 epochs each, over
LEARNING_RATE (a coarse log range, 1e-4 to 0.5) x BATCH_SIZE x MLP_HIDDEN_SIZE x
MLP_NUM_LAYERS: 144 configs, ranked on half of the training data held out
(VAL_FRACTION=0.5: 898 images, 0.11 points each, so 0.5 points is 5 images, not one).
The coarse steps keep the configs apart: the script counts how many of the grid's configs
lie within 0.5 points of its best (on this machine, one), and with one such config, random
search without repeats needs half the grid's epochs in the median. In one run:

  1. the full grid, every run to its end: the best val_acc, and the grid's epochs;
  2. SEARCH=random, SEARCH=tpe, SEARCH=tpe PRUNER=asha, and SEARCH=tpe over the continuous
     version of the space (LEARNING_RATE=1e-4~*0.5, BATCH_SIZE=16~256, MLP_HIDDEN_SIZE=8~128),
     each from --seeds SEARCH_SEEDs, up to SAMPLES configs, one run at a time (JOBS=1: the
     verdicts and proposals are the same on any machine).

It also times the verdict wait (ksweep/contract/verdict.py): the grid again with a stopper
that never prunes, so that every epoch waits for its verdict; the difference per epoch.

For each: the epochs trained until the first completed run within 0.5 points of the
grid's best, as a fraction of the grid's epochs ("-" where none did), the median over the
seeds. Targets: random needs >= 0.5 (the workload discriminates: with one config within
0.5 of the best, its expectation is (N+1)/2 of N configs); TPE+ASHA <= 0.33 and ahead of
random. ASHA's rungs are at epochs 2 and 4 (PRUNER_MIN_EPOCHS=2, PRUNER_REDUCTION=2): the
best config improves late, and a rung at epoch 1 that keeps a third prunes it.

    .venv/bin/python bench/bench_search.py [--seeds 5] [--workers 2]
    .venv/bin/python bench/bench_search.py --quick      # a 12-point grid, so it cannot rot
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = """CONFIG_MODEL_SELECT_MLP=y
CONFIG_DATASET_SELECT_DIGITS=y
CONFIG_OPTIMIZER_SELECT_ADAMW=y
CONFIG_VAL_FRACTION="0.5"
CONFIG_NUM_EPOCHS=4
"""
SPACE = (
    BASE
    + """CONFIG_LEARNING_RATE=1e-4:*3:0.5
CONFIG_BATCH_SIZE=16|64|256
CONFIG_MLP_HIDDEN_SIZE=8|32|128
CONFIG_MLP_NUM_LAYERS=1|2
"""
)
CONTINUOUS = (
    BASE
    + """CONFIG_LEARNING_RATE=1e-4~*0.5
CONFIG_BATCH_SIZE=16~256
CONFIG_MLP_HIDDEN_SIZE=8~128
CONFIG_MLP_NUM_LAYERS=1|2
"""
)
QUICK_SPACE = (
    BASE.replace("=4", "=2") + "CONFIG_LEARNING_RATE=1e-4:*10:1e-2\nCONFIG_BATCH_SIZE=32|64|128|256\n"
)
QUICK_CONTINUOUS = BASE.replace("=4", "=2") + "CONFIG_LEARNING_RATE=1e-4~*1e-2\nCONFIG_BATCH_SIZE=32~256\n"
WITHIN = 0.5  # points of val_acc


def sweep(tmp: Path, name: str, range_text: str, *flags: str) -> list[dict]:
    """One sweep, one run at a time; its runs' records in the order they were planned."""
    folder = tmp / name
    folder.mkdir()
    (folder / "range").write_text(range_text)
    argv = [
        sys.executable,
        str(ROOT / "scripts/sweep.py"),
        str(folder / "range"),
        "--output",
        str(folder / "out"),
    ]
    argv += ["--config-dir", str(folder / "configs"), "--no-progress", "--jobs", "1", *flags]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=folder)
    if done.returncode != 0:
        sys.exit(f"error: the sweep {name} failed: {done.stderr.strip()[-500:]}")
    (sweep_dir,) = (folder / "out").glob("sweep_*")
    plan = json.loads((sweep_dir / "plan.json").read_text())
    return [json.loads((sweep_dir / run["run_dir"] / "training_metrics.json").read_text()) for run in plan]


def epochs_until(runs: list[dict], target: float) -> int | None:
    """Epochs trained until the first completed run reached `target`; None if none did."""
    spent = 0
    for run in runs:
        spent += len(run.get("epochs") or [])
        if run["status"] == "completed" and run["final"]["val_acc"] >= target:
            return spent
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="SEARCH_SEEDs per search (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="sweeps at once (each JOBS=1)")
    parser.add_argument(
        "--quick", action="store_true", help="a 12-point grid, 2 epochs: proves the script runs"
    )
    args = parser.parse_args()
    space, continuous = (QUICK_SPACE, QUICK_CONTINUOUS) if args.quick else (SPACE, CONTINUOUS)
    seeds = range(1 if args.quick else args.seeds)
    with tempfile.TemporaryDirectory(prefix="ksbench-") as name:
        tmp = Path(name)
        started = time.monotonic()
        full = sweep(tmp, "grid", space)
        plain = time.monotonic() - started
        started = time.monotonic()  # the same grid, each epoch waiting for a verdict that never prunes
        waited_runs = sweep(tmp, "grid_waiting", space, "--pruner", "asha", "--pruner-min-epochs", "100")
        waited = time.monotonic() - started
        best = max(r["final"]["val_acc"] for r in full if r["status"] == "completed")
        target = best - WITHIN
        near = sum(r["status"] == "completed" and r["final"]["val_acc"] >= target for r in full)
        grid_epochs = sum(len(r["epochs"]) for r in full)
        samples = ("--samples", str(len(full)))
        # Rungs at epochs 2 (the better half goes on) and 4 (the last, never pruned): the best config
        # here improves late (8th of 144 at epoch 3, first at 4), which an epoch-1 rung keeping 1/3 prunes.
        asha = ("--pruner", "asha", "--pruner-min-epochs", "2", "--pruner-reduction", "2")
        strategies = {
            "random": (space, ("--search", "random", *samples)),
            "tpe": (space, ("--search", "tpe", *samples)),
            "tpe+asha": (space, ("--search", "tpe", *samples, *asha)),
            "tpe (cont.)": (continuous, ("--search", "tpe", *samples)),
        }
        jobs = [(label, seed) for label in strategies for seed in seeds]
        with ThreadPoolExecutor(args.workers) as pool:
            results = pool.map(
                lambda job: sweep(tmp, f"{job[0]}_{job[1]}".replace(" ", ""), strategies[job[0]][0],
                                  *strategies[job[0]][1], "--search-seed", str(job[1])),
                jobs,
            )  # fmt: skip
            runs_of = dict(zip(jobs, results, strict=True))
    print(
        f"grid: {len(full)} configs, {grid_epochs} epochs; best val_acc {best:.2f}; "
        f"{near} within {WITHIN} of it (target >= {target:.2f})"
    )
    per_epoch = (waited - plain) / grid_epochs * 1000
    same = [r["final"]["val_acc"] for r in waited_runs] == [r["final"]["val_acc"] for r in full]
    print(
        f"verdict wait: {per_epoch:+.1f} ms per epoch (the grid {plain:.1f} s, waiting for verdicts "
        f"{waited:.1f} s: {waited / plain:.2f}x); the same metrics: {same}"
    )
    print(f"{'strategy':12} {'to reach it (median)':>21} {'per seed':>34} {'all epochs spent':>17}")
    medians = {}
    for label in strategies:
        fractions, spent = [], []
        for seed in seeds:
            runs = runs_of[(label, seed)]
            until = epochs_until(runs, target)
            fractions.append(until / grid_epochs if until is not None else float("inf"))
            spent.append(sum(len(r.get("epochs") or []) for r in runs) / grid_epochs)
        medians[label] = statistics.median(fractions)
        shown = " ".join("-" if f == float("inf") else f"{f:.2f}" for f in fractions)
        median_text = "-" if medians[label] == float("inf") else f"{medians[label]:.2f}"
        print(f"{label:12} {median_text:>21} {shown:>34} {statistics.median(spent):>17.2f}")
    discriminates = "target >= 0.5: the workload discriminates"
    expected = (len(full) + 1) / (near + 1) / len(full)  # draws without replacement until one of `near`
    print(
        f"random needs {medians['random']:.2f} of the grid's epochs (expected with {near} such config: "
        f"{expected:.2f}; {discriminates})"
    )
    ahead = "ahead of" if medians["tpe+asha"] < medians["random"] else "NOT ahead of"
    print(f"TPE+ASHA needs {medians['tpe+asha']:.2f} (target <= 0.33), {ahead} random")


if __name__ == "__main__":
    main()
