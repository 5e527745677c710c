#!/usr/bin/env python3
"""BACKEND=slurm cost: sweeps of the tiny trainer on a real local Slurm, against the local runner.

Starts a single-node Slurm (scripts/local_slurm.sh, through tests/slurm_cluster.py), then
times `scripts/run_test_matrix.py` end to end (plan, runs, summary, analysis) for a sweep
of SMALL and of LARGE instant runs (tests/data/tiny_trainer.py), on Slurm and locally,
the median of --repeat sweeps each, after one warm-up sweep on Slurm. JOBS is unset
(Slurm: every CPU of the node; locally: one run at a time). From the two sizes: the
marginal cost per run (the slope) and the fixed cost of a sweep (the intercept); on
Slurm the fixed cost is that of one job array (submission, first scheduling, the
runner's squeue, the check at close) on top of the runner's own.

    .venv/bin/python bench/bench_slurm.py [--small 6] [--large 12] [--repeat 3]
    .venv/bin/python bench/bench_slurm.py --quick      # seconds: small sizes, so it cannot rot

Prints `skipped: why` where no local Slurm can start (not root, no Slurm packages).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slurm_cluster import SlurmUnavailable, local_slurm  # noqa: E402

TINY = f"{sys.executable} {ROOT / 'tests/data/tiny_trainer.py'}"


def configs(n: int, tmp: Path) -> Path:
    out = tmp / f"configs_{n}"
    (tmp / f"range_{n}").write_text(f"CONFIG_SEED=1:1:{n}\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\n")
    script = ROOT / "scripts/generate_config_combinations.py"
    subprocess.run(
        [sys.executable, str(script), str(tmp / f"range_{n}"), str(out)], check=True, capture_output=True
    )
    return out


def sweep_seconds(config_dir: Path, results: Path, env: dict, *extra: str) -> float:
    argv = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--config-dir", str(config_dir)]
    argv += ["--output-dir", str(results), "--train-command", TINY, "--no-progress", *extra]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"error: the sweep failed: {done.stderr.strip()}")
    return seconds


def median(values) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=6)
    parser.add_argument("--large", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3, help="sweeps per size; the median counts")
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the script runs")
    args = parser.parse_args()
    if args.quick:
        args.small, args.large, args.repeat = 2, 4, 1
    try:
        with local_slurm() as cluster, tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            sweep_seconds(configs(1, tmp), tmp / "warm-up", cluster.env, "--backend", "slurm")
            rows = []
            for label, extra in (("slurm", ("--backend", "slurm")), ("local", ())):
                small, large = (
                    median(
                        sweep_seconds(configs(n, tmp), tmp / f"{label}_{n}_{i}", cluster.env, *extra)
                        for i in range(args.repeat)
                    )
                    for n in (args.small, args.large)
                )
                marginal = (large - small) / (args.large - args.small)
                rows.append((label, small, large, marginal, small - marginal * args.small))
    except SlurmUnavailable as err:
        print(f"skipped: {err}")
        return
    cpus = os.cpu_count()
    print(f"tiny trainer, instant runs; Slurm: one node, {cpus} CPUs, 1 CPU per run; local: JOBS=1")
    print(f"{'backend':8} {args.small:>4} runs {args.large:>5} runs {'per run':>9} {'fixed':>8}")
    for label, small, large, marginal, fixed in rows:
        print(f"{label:8} {small:8.2f} s {large:8.2f} s {marginal:7.3f} s {fixed:6.2f} s")
    extra = rows[0][4] - rows[1][4]
    print(f"one job array adds {extra:.2f} s fixed, {rows[0][3] - rows[1][3]:+.3f} s per run (wall)")


if __name__ == "__main__":
    main()
