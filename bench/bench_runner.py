#!/usr/bin/env python3
"""Runner-overhead benchmark: 1-epoch MLP/digits runs through the runner vs a plain loop.

Measured in one run of this script:
  * the runner (fork server, process group per run, status, summary after every run,
    analysis at the end) at two sweep sizes, SMALL and LARGE runs;
  * a plain loop that starts `python -m models.train` per config (a fresh interpreter each).

Overhead = wall time minus the trainer's own train_seconds. From the two sizes: the
runner's fixed start-up cost and its MARGINAL overhead per run (the slope). Target:
marginal overhead at most 0.05 s per run, with process isolation kept.

Then the same cost against the sweep's size: one sweep of --scale runs (5,000) of a
no-torch contract trainer (bench/contract_trainer.sh, which writes a record at once),
JOBS=1. The time between one run's settled record and the next is the trainer's start
plus the runner's per-run work (settle, summary, progress); its median over runs
50-150 against the last 100 shows whether that work grows with the sweep (target:
they differ by less than 0.01 s).

    .venv/bin/python bench/bench_runner.py [--small 4] [--large 24] [--plain 4] [--scale 5000]
    .venv/bin/python bench/bench_runner.py --quick      # seconds: small sizes, so it cannot rot
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RANGE = (
    "CONFIG_MODEL_SELECT_MLP=y\nCONFIG_DATASET_SELECT_DIGITS=y\nCONFIG_NUM_EPOCHS=1\nCONFIG_SEED=1:1:{n}\n"
)
CONTRACT_TRAINER = ROOT / "bench/contract_trainer.sh"


def make_configs(n: int, out: Path) -> Path:
    """sweep_configs/ for n seeds, made as a user makes them (the generator's CLI)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    range_file = out.parent / f"range_{n}"
    range_file.write_text(RANGE.format(n=n))
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/generate_config_combinations.py"), str(range_file), str(out)]
        + ["--max-configs", str(max(n, 1000))],
        check=True,
        capture_output=True,
    )
    return out


def train_seconds(metrics_files) -> float:
    return sum(json.loads(p.read_text())["final"]["train_seconds"] for p in metrics_files)


def run_sweep(configs: Path, results: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--config-dir", str(configs)]
        + ["--output-dir", str(results), "--no-progress", *extra],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def time_runner(n: int, tmp: Path) -> tuple[float, float]:
    results = tmp / f"results_{n}"
    wall = run_sweep(make_configs(n, tmp / f"configs_{n}"), results)
    return wall, train_seconds(results.glob("sweep_*/config_*/training_metrics.json"))


def per_run_intervals(n: int, tmp: Path) -> list[float]:
    """Seconds between consecutive runs' settled records in one JOBS=1 sweep of n contract runs."""
    results = tmp / f"scale_{n}"
    run_sweep(make_configs(n, tmp / f"scale_configs_{n}"), results, "--train-command", str(CONTRACT_TRAINER))
    stamps = sorted(p.stat().st_mtime_ns for p in results.glob("sweep_*/config_*/training_metrics.json"))
    return [(b - a) / 1e9 for a, b in zip(stamps, stamps[1:], strict=False)]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def time_plain_loop(n: int, tmp: Path) -> tuple[float, float]:
    configs = make_configs(n, tmp / "configs_plain")
    outputs = []
    start = time.perf_counter()
    for config in sorted(configs.glob("config_*")):
        out = tmp / "plain" / config.name
        out.mkdir(parents=True)
        subprocess.run(
            [sys.executable, "-m", "models.train", "--config", str(config), "--output-dir", str(out)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        outputs.append(out / "training_metrics.json")
    return time.perf_counter() - start, train_seconds(outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=4)
    parser.add_argument("--large", type=int, default=24)
    parser.add_argument("--plain", type=int, default=4)
    parser.add_argument("--scale", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the script runs")
    args = parser.parse_args()
    if args.quick:
        args.small, args.large, args.plain, args.scale = 1, 3, 1, 300
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small_wall, small_train = time_runner(args.small, tmp)
        large_wall, large_train = time_runner(args.large, tmp)
        plain_wall, plain_train = time_plain_loop(args.plain, tmp)
        intervals = per_run_intervals(args.scale, tmp)
    small_over, large_over = small_wall - small_train, large_wall - large_train
    marginal = (large_over - small_over) / (args.large - args.small)
    fixed = small_over - args.small * marginal
    runner_per_run = large_wall / args.large
    plain_per_run = plain_wall / args.plain
    print(f"runner, {args.small:3d} runs: wall {small_wall:6.2f} s, train_seconds {small_train:6.2f} s")
    print(f"runner, {args.large:3d} runs: wall {large_wall:6.2f} s, train_seconds {large_train:6.2f} s")
    print(
        f"plain loop, {args.plain} runs of `python -m models.train`: wall {plain_wall:.2f} s "
        f"(train_seconds {plain_train:.2f} s), {plain_per_run:.2f} s per run"
    )
    print(f"runner fixed start-up cost: {fixed:.2f} s (fork server warm-up, planning, final analysis)")
    print(f"runner marginal overhead per run: {marginal:.3f} s (target <= 0.05 s)")
    print(
        f"per run at {args.large} runs: runner {runner_per_run:.2f} s vs plain loop {plain_per_run:.2f} s "
        f"({plain_per_run / runner_per_run:.1f}x faster)"
    )
    early, late = median(intervals[49:149]), median(intervals[-100:])
    print(
        f"contract-trainer sweep of {args.scale} runs, seconds from one run's record to the next: "
        f"runs 50-150 {early:.4f} s, last 100 {late:.4f} s, difference {late - early:+.4f} s "
        "(target: under 0.01 s)"
    )


if __name__ == "__main__":
    main()
