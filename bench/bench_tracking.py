#!/usr/bin/env python3
"""What a tracker costs a sweep: the same sweep without one, with MLflow logging live, and
with an MLflow server that does not answer (a closed port on 127.0.0.1).

Each sweep is --runs 1-epoch MLP/digits runs of the built-in trainer, one at a time; the
figures are the sweep's wall time and its median run's (as the runner records it), the
median of --repeat sweeps, and their ratios to the sweep without a tracker, measured in
the same run. Target: the unreachable tracker costs at
most 5% (it says so once and steps aside); live MLflow logs on a thread of its own.

    .venv/bin/python bench/bench_tracking.py [--runs 12] [--repeat 3]
    .venv/bin/python bench/bench_tracking.py --quick      # small sizes, so it cannot rot
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RANGE = (
    "CONFIG_MODEL_SELECT_MLP=y\nCONFIG_DATASET_SELECT_DIGITS=y\nCONFIG_NUM_EPOCHS=1\nCONFIG_SEED=1:1:{n}\n"
)


def configs(n: int, tmp: Path) -> Path:
    (tmp / "range").write_text(RANGE.format(n=n))
    out = tmp / "sweep_configs"
    script = ROOT / "scripts/generate_config_combinations.py"
    subprocess.run(
        [sys.executable, str(script), str(tmp / "range"), str(out)], check=True, capture_output=True
    )
    return out


def timed_sweep(config_dir: Path, results: Path, env: dict, *flags: str) -> tuple[float, float]:
    """(the sweep's wall seconds, the median run's wall seconds as the runner recorded it)."""
    argv = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--config-dir", str(config_dir)]
    argv += ["--output-dir", str(results), "--no-progress", *flags]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env}, cwd=results.parent)
    if done.returncode != 0:
        sys.exit(f"error: the sweep failed ({' '.join(flags)}): {done.stderr.strip()}")
    wall = time.perf_counter() - started
    records = results.glob("sweep_*/config_*/training_metrics.json")
    return wall, statistics.median(json.loads(p.read_text())["runner"]["wall_seconds"] for p in records)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the script runs")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.repeat = 3, 1
    with tempfile.TemporaryDirectory(prefix="ksbench-") as name:
        tmp = Path(name)
        config_dir = configs(args.runs, tmp)
        cases = {
            "no tracker": ({}, ()),
            "mlflow (sqlite, live)": (
                {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"},
                ("--tracker", "mlflow"),
            ),
            "mlflow unreachable": (
                {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{closed_port()}"},
                ("--tracker", "mlflow"),
            ),
        }
        figures = {}
        for label, (env, flags) in cases.items():
            timings = [
                timed_sweep(config_dir, tmp / f"{label}_{i}".replace(" ", "_"), env, *flags)
                for i in range(args.repeat)
            ]
            figures[label] = tuple(statistics.median(t[k] for t in timings) for k in (0, 1))
    sweep_base, run_base = figures["no tracker"]
    print(f"{args.runs} runs of 1-epoch MLP/digits per sweep, median of {args.repeat} sweeps")
    print(f"{'':24} {'sweep wall':>12} {'ratio':>6} {'median run':>11} {'ratio':>6}")
    for label, (sweep_wall, run_wall) in figures.items():
        print(
            f"{label:24} {sweep_wall:10.2f} s {sweep_wall / sweep_base:5.2f}x "
            f"{run_wall:9.3f} s {run_wall / run_base:5.2f}x"
        )
    slower = 100 * (figures["mlflow unreachable"][1] / run_base - 1)
    print(f"runs with an unreachable tracker: {slower:+.1f}% (target <= +5%)")


if __name__ == "__main__":
    main()
