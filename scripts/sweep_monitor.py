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

from ksweep.paths import NotFound, display, newest_sweep
from ksweep.plan import PlanError, load_plan
from ksweep.records import read_metrics
from ksweep.status import sweep_progress

CLEAR_SCREEN = "\033[H\033[2J"


def render(sweep_dir: Path) -> str:
    progress = sweep_progress(sweep_dir)
    lines = [f"{display(sweep_dir)}: {progress.line()}"]
    for run in load_plan(sweep_dir):
        metrics = read_metrics(sweep_dir / run.run_dir)
        if metrics and metrics.get("status") == "running":
            epochs = metrics.get("epochs") or []
            last = epochs[-1] if epochs else {}
            shown = f"epoch {last.get('epoch')}, val_acc {last.get('val_acc')}" if last else "starting"
            lines.append(f"  running  {run.run_dir}: {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path)
    parser.add_argument("--results-dir", type=Path, default=Path("test_matrix_results"))
    parser.add_argument("--watch", action="store_true", help="refresh until the sweep ends (Ctrl-C to leave)")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    try:
        sweep_dir = args.sweep or newest_sweep(args.results_dir)
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
