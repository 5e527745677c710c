#!/usr/bin/env python3
"""What random search, TPE and ASHA save against the full grid, on a sweep whose answer is known.

The sweep: defconfigs/mlp-digits-search-range (the README's worked example), MLP/digits
runs of the built-in trainer, 6 epochs each, over LEARNING_RATE (a log range) x BATCH_SIZE
x WEIGHT_DECAY x ADAM_BETA1: 120 configs, weight decay and beta1 barely mattering (a seed
axis would be repeats of each config, never searched over). In one run of this script:

  1. the full grid, every run to its end: the true best val_acc, and the grid's epochs;
  2. SEARCH=random, SEARCH=tpe, SEARCH=grid PRUNER=asha and SEARCH=tpe PRUNER=asha, the
     searches from several SEARCH_SEEDs, SAMPLES runs each, one run at a time.

For each: the epochs trained until the first run within 0.5 points of the true best
completed, as a fraction of the full grid's epochs ("-" where none did within SAMPLES),
the median over the seeds. Targets: TPE+ASHA reaches it with at most a third of the
grid's epochs (median); grid+ASHA never prunes a run that reaches the true best.

    .venv/bin/python bench/bench_search.py [--samples 120] [--seeds 3]
    .venv/bin/python bench/bench_search.py --quick      # a 12-point grid, so it cannot rot
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRID = ROOT / "defconfigs/mlp-digits-search-range"  # the README's worked example
QUICK_GRID = """CONFIG_MODEL_SELECT_MLP=y
CONFIG_DATASET_SELECT_DIGITS=y
CONFIG_OPTIMIZER_SELECT_ADAMW=y
CONFIG_NUM_EPOCHS=2
CONFIG_LEARNING_RATE=1e-4:*10:1e-2
CONFIG_BATCH_SIZE=32|128
CONFIG_SEED=1|2
"""
WITHIN = 0.5  # points of val_acc


def generate(tmp: Path, text: str) -> Path:
    (tmp / "range").write_text(text)
    out = tmp / "sweep_configs"
    script = ROOT / "scripts/generate_config_combinations.py"
    subprocess.run(
        [sys.executable, str(script), str(tmp / "range"), str(out)], check=True, capture_output=True
    )
    return out


def sweep(configs: Path, results: Path, *flags: str) -> list[dict]:
    """Run one sweep (one run at a time); its runs' records in the order they were planned."""
    argv = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--config-dir", str(configs)]
    argv += ["--output-dir", str(results), "--no-progress", "--jobs", "1", *flags]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: the sweep {' '.join(flags) or 'grid'} failed: {done.stderr.strip()}")
    (sweep_dir,) = results.glob("sweep_*")
    plan = json.loads((sweep_dir / "plan.json").read_text())
    return [
        {
            **json.loads((sweep_dir / run["run_dir"] / "training_metrics.json").read_text()),
            "hash": run["config_hash"],
        }
        for run in plan
    ]


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
    parser.add_argument("--samples", type=int, default=120, help="runs per search")
    parser.add_argument("--seeds", type=int, default=3, help="SEARCH_SEEDs per search")
    parser.add_argument(
        "--quick", action="store_true", help="a 12-point grid, 2 epochs: proves the script runs"
    )
    args = parser.parse_args()
    grid_text = QUICK_GRID if args.quick else GRID.read_text()
    if args.quick:
        args.samples, args.seeds = 6, 1
    with tempfile.TemporaryDirectory(prefix="ksbench-") as name:
        tmp = Path(name)
        configs = generate(tmp, grid_text)
        full = sweep(configs, tmp / "grid")
        best = max(r["final"]["val_acc"] for r in full if r["status"] == "completed")
        target = best - WITHIN
        grid_epochs = sum(len(r["epochs"]) for r in full)
        best_hashes = {
            r["hash"] for r in full if r["status"] == "completed" and r["final"]["val_acc"] >= target
        }
        asha = ("--pruner", "asha", "--pruner-reduction", "3")
        strategies = {
            "random": [("--search", "random", "--samples", str(args.samples))],
            "tpe": [("--search", "tpe", "--samples", str(args.samples))],
            "grid+asha": [asha],
            "tpe+asha": [("--search", "tpe", "--samples", str(args.samples), *asha)],
        }
        rows, grid_asha_pruned_best = [], None
        for label, [flags] in strategies.items():
            seeds = [0] if label == "grid+asha" else range(args.seeds)
            fractions, spent_all = [], []
            for seed in seeds:
                runs = sweep(configs, tmp / f"{label}_{seed}", *flags, "--search-seed", str(seed))
                until = epochs_until(runs, target)
                fractions.append(until / grid_epochs if until is not None else float("inf"))
                spent_all.append(sum(len(r.get("epochs") or []) for r in runs) / grid_epochs)
                if label == "grid+asha":
                    grid_asha_pruned_best = sorted(
                        r["hash"][:8] for r in runs if r["status"] == "pruned" and r["hash"] in best_hashes
                    )
            rows.append((label, statistics.median(fractions), fractions, statistics.median(spent_all)))
    print(
        f"grid: {len(full)} runs, {grid_epochs} epochs; true best val_acc {best:.2f} (target >= {target:.2f})"
    )
    print(f"{'strategy':10} {'to reach it (median)':>21} {'per seed':>24} {'all epochs spent':>17}")
    for label, median, fractions, spent in rows:
        shown = " ".join("-" if f == float("inf") else f"{f:.2f}" for f in fractions)
        median_text = "-" if median == float("inf") else f"{median:.2f}"
        print(f"{label:10} {median_text:>21} {shown:>24} {spent:>17.2f}")
    tpe_asha = next(median for label, median, _, _ in rows if label == "tpe+asha")
    print(f"TPE+ASHA reaches the best within {tpe_asha:.2f} of the grid's epochs (target <= 0.33)")
    verdict = "none" if not grid_asha_pruned_best else ", ".join(grid_asha_pruned_best)
    print(f"grid+ASHA pruned runs that reach the true best: {verdict} (target: none)")


if __name__ == "__main__":
    main()
