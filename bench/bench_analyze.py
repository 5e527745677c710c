#!/usr/bin/env python3
"""How long the analyze stage takes on a large sweep, against the cost of just reading it.

    python bench/bench_analyze.py [--runs 10000] [--epochs 10] [--keep DIR]

Synthesises a sweep of --runs runs (config.txt as kconfiglib writes it, with four
swept symbols; training_metrics.json with --epochs epochs; about 4% failed or
diverged, 0.5% still running) in a temp dir, then times:

    floor          reading the 2 x runs files, nothing else (what any analyzer must pay)
    analysis       write_report: records + sweep_summary.json + sweep_analysis.txt + plots,
                   in-process, cold cache, imports of pandas/matplotlib included
    cli            `python scripts/analyze_sweep.py --sweep DIR`, interpreter start included
    summary again  write_summary after one more run finished (a full rescan, warm cache)
    writer         SummaryWriter.run_finished per finished run (the runner's call), at 100
                   runs and at --runs: the difference is the per-run cost of a sweep's size

Target: analysis under 5 s for 10,000 runs on a 2-core machine. Prints figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kconfiglib  # noqa: E402

from ksweep.config.kconf import config_text, load_kconfig  # noqa: E402
from ksweep.run import summary  # noqa: E402

AXES = {
    "LEARNING_RATE": ["0.0001", "0.0003", "0.001", "0.003", "0.01"],
    "BATCH_SIZE": ["32", "64", "128", "256"],
    "WEIGHT_DECAY": ["0.0", "0.01", "0.03", "0.05", "0.1"],
    "SEED": [str(s) for s in range(100)],
}


def config_template() -> str:
    """The default .config with the swept lines turned into format fields."""
    kconf = load_kconfig()
    text = config_text(kconf)
    for name in AXES:
        value = kconf.syms[name].str_value
        quoted = f'"{value}"' if kconf.syms[name].orig_type == kconfiglib.STRING else value
        line = f"CONFIG_{name}={quoted}"
        assert line in text, f"{line} not in the default config"
        text = text.replace(line, f"CONFIG_{name}={{{name}}}")
    return text


def run_values(index: int) -> dict[str, str]:
    values = {}
    for name, choices in AXES.items():
        index, pick = divmod(index, len(choices))
        values[name] = choices[pick]
    return values


def metrics_for(values: dict[str, str], epochs: int, rng: random.Random) -> dict:
    lr = float(values["LEARNING_RATE"])
    peak = 95 - 30 * abs(lr - 0.001) ** 0.5 - 0.01 * int(values["BATCH_SIZE"]) + rng.gauss(0, 1)
    history = [
        {
            "epoch": e,
            "train_loss": 2 / e,
            "train_acc": min(99.9, peak * e / epochs + 3),
            "val_loss": 2.2 / e,
            "val_acc": peak * e / epochs,
            "lr": lr,
            "sparsity": 0.0,
            "seconds": 1.5,
        }
        for e in range(1, epochs + 1)
    ]
    roll = rng.random()
    status = (
        "failed" if roll < 0.03 else "diverged" if roll < 0.04 else "running" if roll < 0.045 else "completed"
    )
    final = (
        {
            "val_acc": peak,
            "val_loss": 2.2 / epochs,
            "test_acc": peak - 0.5,
            "sparsity": 0.0,
            "train_seconds": 1.5 * epochs,
        }
        if status == "completed"
        else {}
    )
    return {
        "status": status,
        "epochs": history if status != "failed" else history[:2],
        "final": final,
        "error": {"failed": "RuntimeError: CUDA out of memory", "diverged": "loss is NaN"}.get(status),
        "env": {"python": "3.11.7", "torch": "2.14.1", "device": "cpu", "seed": values["SEED"]},
        "runner": {"wall_seconds": 1.5 * epochs + 2, "exit_code": 0, "attempts": 1, "config_hash": "x"},
    }


def synthesise(sweep: Path, runs: int, epochs: int) -> None:
    template = config_template()
    quoted = {"LEARNING_RATE", "WEIGHT_DECAY"}
    rng = random.Random(0)
    for i in range(runs):
        values = run_values(i)
        run = sweep / f"config_{i + 1:05d}_lenet5_adamw"
        run.mkdir(parents=True)
        fields = {k: f'"{v}"' if k in quoted else v for k, v in values.items()}
        (run / "config.txt").write_text(template.format(**fields))
        metrics = metrics_for(values, epochs, rng)
        (run / "training_metrics.json").write_text(json.dumps(metrics, indent=2))
        if metrics["status"] != "completed":
            (run / "output.log").write_text(f"epoch 1 ...\n{metrics['error'] or 'epoch 2 ...'}\n")


def read_floor(sweep: Path) -> float:
    start = time.perf_counter()
    for run in sweep.iterdir():
        for name in ("config.txt", "training_metrics.json"):
            with open(run / name, "rb") as handle:
                handle.read()
    return time.perf_counter() - start


def writer_seconds(sweep: Path, calls: int = 20) -> float:
    """Mean seconds of SummaryWriter.run_finished, each after rewriting one run's metrics file."""
    writer = summary.SummaryWriter(sweep)
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())[-calls:]
    total = 0.0
    for run in runs:
        metrics = run / "training_metrics.json"
        tmp = run / ".rewrite.tmp"
        tmp.write_bytes(metrics.read_bytes())
        tmp.replace(metrics)  # as the runner's atomic write: a new inode, a changed run
        start = time.perf_counter()
        writer.run_finished(run.name)
        total += time.perf_counter() - start
    return total / len(runs)


def timed(func, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--keep", help="synthesise here and keep it (default: a temp dir, removed)")
    parser.add_argument("--quick", action="store_true", help="300 runs x 3 epochs: proves it runs")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.epochs = 300, 3
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_analyze."))
    sweep = base / "sweep_20250101_000000"
    try:
        t_make, _ = timed(synthesise, sweep, args.runs, args.epochs)
        print(f"synthesised {args.runs} runs x {args.epochs} epochs in {t_make:.1f}s ({sweep})")
        read_floor(sweep)  # warm the page cache, so both timings below read from memory
        floor = min(read_floor(sweep) for _ in range(3))
        from ksweep.analysis.analyze import write_report  # noqa: E402 (pandas/matplotlib load lazily inside)

        summary._CACHE.clear()
        t_total, result = timed(write_report, sweep)
        t_cli, _ = timed(
            subprocess.run,
            [sys.executable, str(ROOT / "scripts/analyze_sweep.py"), "--sweep", str(sweep)],
            check=True,
            capture_output=True,
        )
        t_records, records = timed(summary.collect_records, sweep)  # warm cache: stats only
        t_again, _ = timed(summary.write_summary, sweep)
        summary._CACHE.clear()
        t_cold, _ = timed(summary.collect_records, sweep)
        small = base / "sweep_20250101_000001"
        synthesise(small, 100, args.epochs)
        t_writer_small, t_writer = writer_seconds(small), writer_seconds(sweep)
        print(f"floor (read {2 * args.runs} files):      {floor:6.2f}s")
        print(f"analysis (summary+report+plots):  {t_total:6.2f}s   ratio to floor {t_total / floor:5.1f}x")
        print(f"  of which records, cold cache:   {t_cold:6.2f}s   ratio to floor {t_cold / floor:5.1f}x")
        print(f"cli analyze_sweep.py, wall:       {t_cli:6.2f}s")
        print(f"summary rewrite, warm cache:      {t_again:6.2f}s   (records only {t_records:.2f}s)")
        print(
            f"SummaryWriter per finished run:   {1000 * t_writer_small:6.1f} ms at 100 runs, "
            f"{1000 * t_writer:.1f} ms at {args.runs} (target: differ by < 10 ms)"
        )
        print(
            f"best: {result.best['config_file']} val_acc {result.best['val_acc']:.2f}; plots: "
            + ", ".join(p.name for p in result.plots)
        )
        target = "meets" if t_total < 5 else "MISSES"
        print(f"target < 5 s for the analysis: {target}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
