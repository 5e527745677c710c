#!/usr/bin/env python3
"""Progress of a sweep running elsewhere, counted from its plan (see ksweep/status.py).

python scripts/sweep_monitor.py [--sweep DIR] [--watch [--interval S]]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _cli  # noqa: F401 - puts the project on sys.path

from ksweep.paths import NotFound, display, find_sweep
from ksweep.plan import PlanError, load_plan
from ksweep.records import CONFIG_FILE, config_values, read_metrics
from ksweep.status import sweep_progress

CLEAR_SCREEN = "\033[H\033[2J"


def render(sweep_dir: Path) -> str:
    progress = sweep_progress(sweep_dir)
    lines = [f"{display(sweep_dir)}: {progress.line()}"]
    label = "running " if progress.runner_pid else "orphaned"  # left `running` by a runner that is gone
    for run in load_plan(sweep_dir):
        metrics = read_metrics(sweep_dir / run.run_dir)
        if metrics and metrics.get("status") == "running":
            lines.append(f"  {label}  {run.run_dir}: {_last_epoch(metrics, sweep_dir / run.run_dir)}")
    return "\n".join(lines)


def _last_epoch(metrics: dict, run_dir: Path) -> str:
    epochs = metrics.get("epochs") or []
    if not epochs:
        return "starting"
    last, total = epochs[-1], config_values((run_dir / CONFIG_FILE).read_text()).get("CONFIG_NUM_EPOCHS", "?")
    acc = last.get("val_acc")
    return f"epoch {last.get('epoch')}/{total}" + (
        f", val_acc {acc:.2f}" if isinstance(acc, (int, float)) else ""
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path)
    parser.add_argument("--results-dir", type=Path, default=Path("test_matrix_results"))
    parser.add_argument("--watch", action="store_true", help="refresh until the sweep ends (Ctrl-C to leave)")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    try:
        sweep_dir = find_sweep(args.sweep, args.results_dir)
        if not args.watch:
            print(render(sweep_dir))
            return 0
        while True:
            text = render(sweep_dir)
            print(CLEAR_SCREEN + time.strftime("%H:%M:%S ") + text, flush=True)
            if sweep_progress(sweep_dir).runner_pid is None:
                return 0
            time.sleep(args.interval)
    except (NotFound, PlanError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
