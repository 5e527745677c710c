#!/usr/bin/env python3
"""Run a sweep: every config in sweep_configs/ trained into test_matrix_results/sweep_*/ (see ksweep/run.py).

python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir my_sweep_results
python scripts/run_test_matrix.py --resume [--sweep DIR]
"""

from __future__ import annotations

import signal
import sys


def _stopped_while_starting(signum, frame) -> None:
    print("  STOP    interrupted while starting; nothing was started", file=sys.stderr)
    raise SystemExit(130)


# Until the run stage takes over its signals (ksweep.run.StopSignals), a Ctrl-C or a TERM
# lands in the imports below: say so in one line instead of a traceback.
signal.signal(signal.SIGINT, _stopped_while_starting)
signal.signal(signal.SIGTERM, _stopped_while_starting)

import argparse  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from _cli import add_ranking_args, at_least  # noqa: E402

from ksweep.backends import BACKENDS  # noqa: E402
from ksweep.run import PERSISTED, RunRequest, run_stage  # noqa: E402
from ksweep.strategy import PRUNERS, SEARCHES  # noqa: E402


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
    parser.add_argument(
        "--epochs", "--override-epochs", type=at_least(1), help="override NUM_EPOCHS for every run"
    )
    parser.add_argument(
        "--jobs", "--parallel", type=at_least(1), help="runs at once (default: 1, or one per GPU)"
    )
    parser.add_argument("--jobs-per-gpu", type=at_least(1), help="runs packed onto each GPU (default 1)")
    parser.add_argument(
        "--run-timeout", type=at_least(0, float, strict=True), help="seconds before a run is killed (timeout)"
    )
    parser.add_argument(
        "--retries", type=at_least(0), help="times a failed or timed-out run is retried (default 0)"
    )
    parser.add_argument("--retry-failed", action="store_true", help="also rerun runs that failed before")
    parser.add_argument("--stop-on-failure", action="store_true", help="start nothing more after a failure")
    parser.add_argument("--train-command", help="run this instead of the built-in trainer")
    parser.add_argument(
        "--backend", choices=BACKENDS, default="local", help="where runs execute (default: local)"
    )
    parser.add_argument("--slurm-partition", help="BACKEND=slurm: the partition (default: the cluster's)")
    parser.add_argument("--slurm-gpus", type=at_least(0), help="BACKEND=slurm: GPUs per run (default 0)")
    parser.add_argument("--slurm-cpus", type=at_least(1), help="BACKEND=slurm: CPUs per run (default 1)")
    parser.add_argument("--slurm-mem", help="BACKEND=slurm: memory per run, e.g. 4G (default: the cluster's)")
    parser.add_argument(
        "--search",
        choices=SEARCHES,
        help="grid (default): every config; random, tpe: Optuna proposes SAMPLES",
    )
    parser.add_argument("--samples", type=at_least(1), help="SEARCH=random|tpe: runs in all")
    parser.add_argument("--search-seed", type=at_least(0), help="SEARCH=random|tpe: the sampler's seed (0)")
    parser.add_argument("--pruner", choices=PRUNERS, help="stop runs that fall behind: median, asha (none)")
    parser.add_argument(
        "--pruner-min-epochs", type=at_least(1), help="epochs every run trains before it may be pruned (1)"
    )
    parser.add_argument("--pruner-reduction", type=at_least(2), help="PRUNER=asha: keep 1/N at each rung (3)")
    parser.add_argument(
        "--tracker", help="log each run as it finishes: mlflow, tensorboard, wandb, trackio (comma-separated)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the runs and an estimate; write nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay line by line)")
    add_ranking_args(parser, results_dir=False)
    return parser.parse_args(argv)


def request_from(args: argparse.Namespace) -> RunRequest:
    return RunRequest(
        config_dir=args.config_dir,
        output_dir=args.output_dir,
        sweep=args.sweep,
        resume=args.resume,
        dry_run=args.dry_run,
        metric=args.metric or "val_acc",
        mode=args.mode,
        show_progress=not args.no_progress,
        given={name: getattr(args, name) for name in PERSISTED},
        retry_failed=args.retry_failed,
        stop_on_failure=args.stop_on_failure,
        backend=args.backend,
        trackers=args.tracker,
        backend_options={
            name: value
            for name in ("slurm_partition", "slurm_gpus", "slurm_cpus", "slurm_mem")
            if (value := getattr(args, name)) is not None
        },
    )


def main(argv: list[str] | None = None) -> int:
    request = request_from(parse_args(argv))
    try:
        return run_stage(request)
    except BrokenPipeError:  # `make sweep-run DRY_RUN=1 | head` stops reading early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
