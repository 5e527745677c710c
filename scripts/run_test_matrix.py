#!/usr/bin/env python3
"""Run a sweep: every config in sweep_configs/ trained into test_matrix_results/sweep_*/ (see ksweep/run.py).

python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir my_sweep_results
python scripts/run_test_matrix.py --resume [--sweep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import _cli  # noqa: F401 - puts the project on sys.path

from ksweep import plan as sweep_plan
from ksweep.paths import NotFound, display, find_sweep
from ksweep.records import config_hash
from ksweep.run import RunnerOptions, run_sweep, runs_to_do
from ksweep.status import format_seconds, needs_run, run_status, typical_run_seconds

EXIT_INTERRUPTED = 130
# Runner options kept in sweep.json, so a resume runs the sweep the way it was started.
PERSISTED = ("epochs", "jobs", "jobs_per_gpu", "run_timeout", "retries", "train_command")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-dir", type=Path, default=Path("sweep_configs"))
    parser.add_argument("--output-dir", type=Path, default=Path("test_matrix_results"))
    parser.add_argument(
        "--sweep", type=Path, help="an existing sweep dir: extend it (or resume it with --resume)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the newest sweep (or --sweep) from its plan"
    )
    parser.add_argument("--epochs", "--override-epochs", type=int, help="override NUM_EPOCHS for every run")
    parser.add_argument("--jobs", "--parallel", type=int, help="runs at once (default: 1, or one per GPU)")
    parser.add_argument("--jobs-per-gpu", type=int, help="runs packed onto each GPU (default 1)")
    parser.add_argument("--run-timeout", type=float, help="seconds before a run is killed and marked timeout")
    parser.add_argument("--retries", type=int, help="times a failed or timed-out run is retried (default 0)")
    parser.add_argument("--retry-failed", action="store_true", help="also rerun runs that failed before")
    parser.add_argument("--stop-on-failure", action="store_true", help="start nothing more after a failure")
    parser.add_argument("--train-command", help="run this instead of the built-in trainer")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and an estimate; run nothing")
    parser.add_argument(
        "--metric", default="val_acc", help="ranking metric for the analysis (default val_acc)"
    )
    parser.add_argument("--mode", default="max", choices=("max", "min"))
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay line by line)")
    args = parser.parse_args(argv)
    for name in ("jobs", "jobs_per_gpu", "epochs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def choose_sweep_dir(args: argparse.Namespace) -> Path | None:
    """The sweep to work on: --sweep, the newest one for --resume, or None for a new one."""
    if args.sweep is None and not args.resume:
        return None
    sweep_dir = find_sweep(args.sweep, args.output_dir)
    if not (sweep_dir / sweep_plan.PLAN).is_file():
        raise NotFound(f"{sweep_dir}: not a sweep folder made by ksweep's runner (no {sweep_plan.PLAN})")
    return sweep_dir


def runner_options(args: argparse.Namespace, saved: dict) -> tuple[RunnerOptions, dict]:
    """Options from the command line, else as the sweep was started (sweep.json)."""
    chosen = {
        name: getattr(args, name) if getattr(args, name) is not None else saved.get(name)
        for name in PERSISTED
    }
    options = RunnerOptions(
        jobs=chosen["jobs"],
        jobs_per_gpu=chosen["jobs_per_gpu"] or 1,
        run_timeout=chosen["run_timeout"],
        retries=chosen["retries"] or 0,
        retry_failed=args.retry_failed,
        stop_on_failure=args.stop_on_failure,
        train_command=chosen["train_command"],
    )
    return options, chosen


def dry_run(args: argparse.Namespace, sweep_dir: Path | None) -> int:
    """List each run, its state and what it changes from the defaults, then an estimate."""
    from ksweep.kconf import load_kconfig, non_default_values

    kconf = load_kconfig()
    if args.resume:
        plan = sweep_plan.load_plan(sweep_dir)
        paths = [sweep_dir / sweep_plan.PLAN_DIR / run.config_name for run in plan]
        source, epochs = sweep_plan.read_manifest(sweep_dir).get("range_file"), None
    else:
        plan, paths = _planned_from_config_dir(args, sweep_dir)
        source, epochs = sweep_plan.range_source(args.config_dir).get("range_file"), args.epochs
    refusal = _builtin_trainer_check() if not (args.train_command or saved_command(sweep_dir)) else None
    todo = refused = 0
    for run, path in zip(plan, paths, strict=True):
        state = run_status(sweep_dir, run) if sweep_dir and run.config_hash else "pending"
        todo += needs_run(state, args.retry_failed)
        changes = non_default_values(path, kconf) | ({"CONFIG_NUM_EPOCHS": str(epochs)} if epochs else {})
        print(f"  {run.run_dir:40} {state:11} " + " ".join(f"{k}={v}" for k, v in changes.items()))
        reason = refusal(path, epochs) if refusal and needs_run(state, args.retry_failed) else None
        if reason:
            refused += 1
            print(f"  {'':40} would be refused by the trainer: {reason}")
    if refused:
        print(f"{refused} runs would be refused at once by the trainer (see above)")
    per_run = typical_run_seconds(args.output_dir, source)
    jobs = args.jobs or 1
    estimate = (
        f"about {format_seconds(todo * per_run / jobs)} at {per_run:.1f} s per run "
        f"(the newest earlier sweep of {source})"
        if per_run
        else f"no finished earlier sweep of {source or 'these configs'} to estimate the time from"
    )
    print(f"{todo} of {len(plan)} runs to do, {jobs} at a time; {estimate}")
    return 0


def saved_command(sweep_dir: Path | None) -> str | None:
    return sweep_plan.read_manifest(sweep_dir).get("options", {}).get("train_command") if sweep_dir else None


def _builtin_trainer_check():
    """The built-in trainer's own config checks (they need its dataset sizes, so torch)."""
    import tempfile

    from models.config import ConfigError, load_train_config

    def refusal(path: Path, epochs: int | None) -> str | None:
        with tempfile.NamedTemporaryFile("w", suffix=".config") as config:
            config.write(sweep_plan.override_epochs(path.read_text(encoding="utf-8"), epochs))
            config.flush()
            try:
                load_train_config(config.name)
            except ConfigError as err:
                return str(err).replace(f"{config.name}: ", "")
        return None

    return refusal


def _planned_from_config_dir(args: argparse.Namespace, sweep_dir: Path | None) -> tuple[list, list[Path]]:
    """The runs sweep_configs/ would give: those `sweep_dir` already has keep their name."""
    known = {run.config_hash: run for run in sweep_plan.load_plan(sweep_dir)} if sweep_dir else {}
    plan, paths = [], []
    for number, (name, text) in enumerate(sweep_plan.read_config_dir(args.config_dir), start=1):
        text = sweep_plan.override_epochs(text, args.epochs)
        fresh = sweep_plan.PlannedRun(number, sweep_plan.run_dir_name(number, text), "")
        plan.append(known.get(config_hash(text), fresh))
        paths.append(args.config_dir / name)
    return plan, paths


def prepare(args: argparse.Namespace, sweep_dir: Path, configs: list) -> tuple[list, dict, int]:
    """Extend the sweep's plan with `configs` (none on resume): (plan, saved options, added)."""
    saved = sweep_plan.read_manifest(sweep_dir).get("options", {})
    if args.resume:
        if args.epochs is not None and args.epochs != saved.get("epochs"):
            raise sweep_plan.PlanError(
                f"EPOCHS applies when a sweep is planned; {sweep_dir} was planned with "
                f"EPOCHS={saved.get('epochs') or 'unset'}: start a new sweep for other epochs"
            )
        return sweep_plan.load_plan(sweep_dir), saved, 0
    epochs = args.epochs if args.epochs is not None else saved.get("epochs")
    plan, added = sweep_plan.extend_plan(sweep_dir, configs, epochs)
    return plan, saved, added


def analyze(sweep_dir: Path, metric: str, mode: str) -> None:
    from ksweep.analyze import AnalyzeError, write_report

    try:
        result = write_report(sweep_dir, metric=metric, mode=mode)
    except AnalyzeError as err:
        print(f"  ANALYZE {display(sweep_dir)}: {err}")
        return
    best = result.best
    if best is None:
        print(f"  REPORT  {display(result.path)} (no completed run to rank)")
        return
    value = best.get(metric)
    shown = f"{metric} {value:.2f}" if isinstance(value, (int, float)) else f"{metric} {value}"
    print(f"  BEST    {best['run_dir']} ({shown}) → {display(result.path)}")


def _quiet_on_closed_pipe(action, *args) -> int:
    """`make sweep-run DRY_RUN=1 | head` stops reading early: that is not an error."""
    try:
        return action(*args)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sweep_dir = choose_sweep_dir(args)
        if args.dry_run:
            return _quiet_on_closed_pipe(dry_run, args, sweep_dir)
        configs = [] if args.resume else sweep_plan.read_config_dir(args.config_dir)
        sweep_dir = sweep_dir or sweep_plan.new_sweep_dir(args.output_dir)
        with sweep_plan.SweepLock(sweep_dir):
            plan, saved, added = prepare(args, sweep_dir, configs)
            return run_locked(args, sweep_dir, plan, saved, added)
    except (NotFound, sweep_plan.PlanError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk while planning: nothing has run yet
        print(f"error: {err}", file=sys.stderr)
        return 1


def run_locked(args, sweep_dir: Path, plan: list, saved: dict, added: int) -> int:
    options, chosen = runner_options(args, saved)
    if not args.resume:
        sweep_plan.write_manifest(sweep_dir, args.config_dir, len(plan), chosen)
    manifest = sweep_plan.read_manifest(sweep_dir)
    todo = len(runs_to_do(sweep_dir, plan, options.retry_failed))
    extended = f", {added} new" if args.sweep is not None and not args.resume else ""
    print(f"  SWEEP   {display(sweep_dir)}: {len(plan)} runs{extended}, {todo} to do")
    result = run_sweep(sweep_dir, plan, options, manifest.get("git_commit"), show=not args.no_progress)
    resume = f"make sweep-resume SWEEP={display(sweep_dir)}"
    if result.disk_full:
        print(f"error: no space left ({result.disk_full}); free some and run: {resume}", file=sys.stderr)
        return 1
    if result.launcher_error:
        print(
            f"error: {result.launcher_error}; finished runs are kept. Resume with: {resume}", file=sys.stderr
        )
        return 1
    analyze(sweep_dir, args.metric, args.mode)
    if result.interrupted:
        print(f"  STOP    interrupted; finished runs are kept. Resume with: {resume}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.stopped_on_failure:
        print(f"  STOP    a run failed and STOP_ON_FAILURE=1; resume with: {resume}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
