#!/usr/bin/env python3
"""Per-run cost of each BACKEND, and of Ray Tune with a trial per run, on one workload.

The workload: sweeps of 1-epoch MLP/digits runs of the built-in trainer (a real torch
run each, a few tenths of a second), one run at a time everywhere, each with both cores
(KSWEEP_THREADS=2), so that what differs is only how a run is started and followed:

  bare    the same runs called in this process, torch warm, nothing around them (the floor)
  local   the local fork server (the default backend)
  ray     BACKEND=ray on a real two-node Ray on 127.0.0.1 (tests/ray_cluster.py), JOBS=1
  slurm   BACKEND=slurm on a real one-node Slurm (scripts/local_slurm.sh), JOBS=1; or
          `skipped: why` where no local Slurm can start (not root, no Slurm packages)
  tune    Ray Tune on the same two-node Ray, a trial per run (a fresh trial actor each, as
          Tune isolates trials), calling the same trainer, one trial at a time

Each is timed end to end (for ksweep: plan, runs, summary, analysis; for Tune: fit) at
SMALL and LARGE runs, the median of --repeat; the slope is the wall time each extra run
costs. Less the bare run's own time, that is the backend's overhead per run (target for
ray: <= 0.1 s); the ratio column is each per-run cost against the local fork server's,
measured in this same run.

    .venv/bin/python bench/bench_backends.py [--small 4] [--large 12] [--repeat 3] [--backends local,ray]
    .venv/bin/python bench/bench_backends.py --quick      # small sizes, so it cannot rot
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ray_cluster import RayUnavailable, local_ray  # noqa: E402
from tests.slurm_cluster import SlurmUnavailable, local_slurm  # noqa: E402

RANGE = (
    "CONFIG_MODEL_SELECT_MLP=y\nCONFIG_DATASET_SELECT_DIGITS=y\nCONFIG_NUM_EPOCHS=1\nCONFIG_SEED=1:1:{n}\n"
)
THREADS = "2"  # each run gets both cores, as a local JOBS=1 run does


@dataclass
class Row:
    backend: str
    small: float
    large: float
    per_run: float  # wall seconds each extra run adds
    overhead: float  # per_run less the bare run's own seconds


def make_configs(n: int, tmp: Path) -> Path:
    out = tmp / f"configs_{n}"
    if not out.exists():
        (tmp / f"range_{n}").write_text(RANGE.format(n=n))
        script = ROOT / "scripts/generate_config_combinations.py"
        subprocess.run(
            [sys.executable, str(script), str(tmp / f"range_{n}"), str(out)], check=True, capture_output=True
        )
    return out


def ksweep_sweep(n: int, tmp: Path, env: dict, *extra: str) -> float:
    results = Path(tempfile.mkdtemp(dir=tmp, prefix="results_"))
    argv = [
        sys.executable,
        str(ROOT / "scripts/run_test_matrix.py"),
        "--config-dir",
        str(make_configs(n, tmp)),
    ]
    argv += ["--output-dir", str(results), "--no-progress", "--jobs", "1", *extra]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"error: the sweep failed ({' '.join(extra) or 'local'}): {done.stderr.strip()}")
    return wall


def tune_trial(config: dict) -> None:
    """One Ray Tune trial: one run of the built-in trainer, in the trial's own worker."""
    from ray import tune

    from models.train import run

    out = Path(config["results"]) / Path(config["config"]).name
    out.mkdir(parents=True)
    run(config["config"], out)
    tune.report({"val_acc": json.loads((out / "training_metrics.json").read_text())["final"]["val_acc"]})


def tune_sweep(n: int, tmp: Path) -> float:
    from ray import tune

    results = Path(tempfile.mkdtemp(dir=tmp, prefix="tune_"))
    configs = sorted(str(p) for p in make_configs(n, tmp).glob("config_*"))
    tuner = tune.Tuner(
        tune.with_resources(tune_trial, {"cpu": 2}),
        param_space={"config": tune.grid_search(configs), "results": str(results)},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=str(results / "tune"), verbose=0),
    )
    started = time.perf_counter()
    grid = tuner.fit()
    wall = time.perf_counter() - started
    if grid.errors:
        sys.exit(f"error: a Ray Tune trial failed: {grid.errors[0]}")
    return wall


def bare_run_seconds(tmp: Path, runs: int) -> float:
    """A run's own cost: models.train.run in this process, torch imported and warm."""
    from models.train import run

    os.environ["KSWEEP_THREADS"] = THREADS
    configs = sorted(make_configs(runs + 1, tmp).glob("config_*"))
    seconds = []
    for config in configs:
        out = Path(tempfile.mkdtemp(dir=tmp, prefix="bare_"))
        started = time.perf_counter()
        with open(out / "output.log", "w") as log, contextlib.redirect_stdout(log):
            run(config, out)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[1:])  # the first pays the warm-up


def measure(backend: str, sweep: Callable[[int], float], args, bare: float) -> Row:
    sweep(1)  # warm-up: first-time imports, the cluster's first workers
    walls = {n: statistics.median(sweep(n) for _ in range(args.repeat)) for n in (args.small, args.large)}
    per_run = (walls[args.large] - walls[args.small]) / (args.large - args.small)
    return Row(backend, walls[args.small], walls[args.large], per_run, per_run - bare)


def on_ray(args, tmp: Path, bare: float, tune: bool = True) -> list[Row | str]:
    try:
        with local_ray(nodes=2, cpus_per_node=2) as cluster:
            os.environ.update(cluster.env)
            rows: list[Row | str] = [
                measure("ray", lambda n: ksweep_sweep(n, tmp, cluster.env, "--backend", "ray"), args, bare)
            ]
            if not tune:
                return rows
            import ray

            # A trial gets what a ksweep run gets: both cores; its output stays in its worker.
            trial_env = {"PYTHONPATH": str(ROOT), "KSWEEP_THREADS": THREADS}
            ray.init(address=cluster.address, runtime_env={"env_vars": trial_env}, log_to_driver=False)
            try:
                rows.append(measure("tune", lambda n: tune_sweep(n, tmp), args, bare))
            finally:
                ray.shutdown()
            return rows
    except RayUnavailable as err:
        return [f"ray      skipped: {err}", f"tune     skipped: {err}"]


def on_slurm(args, tmp: Path, bare: float) -> Row | str:
    slurm = ("--backend", "slurm", "--slurm-cpus", THREADS)
    try:
        with local_slurm() as cluster:
            return measure("slurm", lambda n: ksweep_sweep(n, tmp, cluster.env, *slurm), args, bare)
    except SlurmUnavailable as err:
        return f"slurm    skipped: {err}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=4)
    parser.add_argument("--large", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3, help="sweeps per size; the median counts")
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the script runs")
    parser.add_argument(
        "--backends", default="local,ray,tune,slurm", help="which to measure (local always: the ratios' base)"
    )
    args = parser.parse_args()
    if args.quick:
        args.small, args.large, args.repeat = 2, 4, 1
    with tempfile.TemporaryDirectory(prefix="ksbench-") as name:
        tmp = Path(name)
        bare = bare_run_seconds(tmp, args.small)
        local = measure("local", lambda n: ksweep_sweep(n, tmp, {}), args, bare)
        wanted = set(args.backends.split(","))
        rows = [local, *on_ray(args, tmp, bare, "tune" in wanted)] if wanted & {"ray", "tune"} else [local]
        rows += [on_slurm(args, tmp, bare)] if "slurm" in wanted else []
    print(f"1-epoch MLP/digits runs of the built-in trainer, one at a time, {THREADS} threads each")
    print(f"bare run (in this process, warm): {bare:.3f} s")
    print(
        f"{'backend':8} {args.small:>4} runs {args.large:>5} runs {'per run':>9} {'overhead':>9} {'ratio':>7}"
    )
    for row in rows:
        if isinstance(row, str):
            print(row)
            continue
        print(
            f"{row.backend:8} {row.small:8.2f} s {row.large:8.2f} s {row.per_run:7.3f} s "
            f"{row.overhead:7.3f} s {row.per_run / local.per_run:6.1f}x"
        )
    print(
        "per run: wall seconds each extra run costs; overhead: that less the bare run (ray target: <= 0.1 s)"
    )


if __name__ == "__main__":
    main()
