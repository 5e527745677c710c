"""Progress of a sweep running elsewhere, counted from its plan (see ksweep/run/progress.py).

ksweep monitor [--sweep DIR]        make sweep-monitor
ksweep watch [--sweep DIR]          make sweep-watch (refreshing until the sweep ends)
python scripts/sweep_monitor.py [--sweep DIR] [--watch [--interval S]]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ksweep.cli import args as cli
from ksweep.contract import state
from ksweep.contract.project import NotFound, display
from ksweep.contract.records import config_values
from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.lock import lock_holder
from ksweep.folder.paths import find_sweep
from ksweep.folder.plan import PlanError
from ksweep.run.progress import run_states, sweep_progress

CLEAR_SCREEN = "\033[H\033[2J"


def render(sweep_dir: Path) -> str:
    progress = sweep_progress(sweep_dir)
    lines = [f"{display(sweep_dir)}: {progress.line()}"]
    for run, run_state, metrics in run_states(sweep_dir):
        if run_state == state.RUNNING:
            lines.append(f"  running   {run.run_dir}: {_last_epoch(metrics, sweep_dir / run.run_dir)}")
        elif run_state == state.INTERRUPTED and (metrics or {}).get("status") in (None, state.RUNNING):
            lines.append(
                f"  orphaned  {run.run_dir}: left running by a runner that is gone; resume reruns it"
            )
    return "\n".join(lines)


def _last_epoch(metrics: dict | None, run_dir: Path) -> str:
    epochs = (metrics or {}).get("epochs") or []
    if not epochs:
        return "starting"
    config = SweepPaths(run_dir.parent).run(run_dir.name).config
    last, total = epochs[-1], config_values(config.read_text()).get("CONFIG_NUM_EPOCHS", "?")
    acc = last.get("val_acc")
    return f"epoch {last.get('epoch')}/{total}" + (
        f", val_acc {acc:.2f}" if isinstance(acc, (int, float)) else ""
    )


def main(argv: list[str] | None = None, prog: str | None = None, command: str = "monitor") -> int:
    parser = cli.parser(__doc__, prog)
    cli.add_options(parser, command)
    if command == "monitor":
        parser.add_argument(
            "--watch", action="store_true", help="refresh until the sweep ends (Ctrl-C to leave)"
        )
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (default 2)")
    args = cli.with_defaults(parser.parse_args(argv), command)
    try:
        if command == "watch" or args.watch:
            return watch(args)
        print(render(find_sweep(args.sweep, args.output)))
        return 0
    except (NotFound, PlanError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def watch(args: argparse.Namespace) -> int:
    """Refresh until the sweep's runner is gone; without SWEEP=, first wait for a sweep with a runner."""
    sweep_dir = find_sweep(args.sweep, args.output) if args.sweep else _wait_for_runner(args)
    while True:
        text = render(sweep_dir)
        print(CLEAR_SCREEN + time.strftime("%H:%M:%S ") + text, flush=True)
        if sweep_progress(sweep_dir).runner_pid is None:
            return 0
        time.sleep(args.interval)


def _wait_for_runner(args: argparse.Namespace) -> Path:
    """The newest sweep once a runner works on it (the newest may be finished: wait for the next)."""
    said = False
    while True:
        try:
            sweep_dir = find_sweep(None, args.output)
            if lock_holder(sweep_dir) is not None:
                return sweep_dir
        except NotFound:
            sweep_dir = None
        if not said:
            newest = f"the newest, {display(sweep_dir)}, is finished; " if sweep_dir else ""
            print(f"{newest}waiting for a sweep to start (Ctrl-C to leave)", flush=True)
            said = True
        time.sleep(min(args.interval, 0.5))


if __name__ == "__main__":
    sys.exit(main())
