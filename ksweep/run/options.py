"""The run stage's settings (ksweep.options). Those marked `kept` are written to sweep.json
when a sweep is planned, so a resume runs it the way it was started."""

from ksweep.options import Option

RUNNING = ("sweep", "run", "resume")
RANKING = ("sweep", "run", "resume", "analyze", "leaderboard", "compare", "promote")
FOUND = ("run", "resume", "analyze", "export", "monitor", "watch", "promote")

OPTIONS = (
    Option("epochs", int, at_least=1, kept=True, owner="run", commands=(*RUNNING, "promote"),
           flags=("--override-epochs",),
           help="override NUM_EPOCHS for every run (the guide's --override-epochs)"),
    Option("jobs", int, at_least=1, kept=True, owner="run", commands=RUNNING,
           help="runs at once (default: 1, or one per GPU)"),
    Option("parallel", int, at_least=1, same_as="jobs", owner="run", commands=(*RUNNING, "parallel"),
           help="the same as JOBS (the guide's sweep-parallel)"),
    Option("jobs_per_gpu", int, at_least=1, default=1, kept=True, owner="run", commands=RUNNING, metavar="k",
           help="runs packed onto each GPU (default 1)"),
    Option("run_timeout", float, above=0, kept=True, owner="run", commands=RUNNING, metavar="s",
           help="seconds before a run is killed and marked timeout"),
    Option("retries", int, at_least=0, default=0, kept=True, owner="run", commands=RUNNING,
           help="times a failed or timed-out run is retried (default 0)"),
    Option("retry_failed", bool, default=False, owner="run", commands=RUNNING,
           help="also rerun the runs that failed or timed out before"),
    Option("stop_on_failure", bool, default=False, owner="run", commands=RUNNING,
           help="start nothing more after a run fails"),
    Option("train_command", kept=True, owner="run", commands=RUNNING, metavar="'cmd'",
           help="run this instead of the built-in trainer (the trainer contract: --config, --output-dir; "
                "or placeholders: {LEARNING_RATE}, {output_dir}, {config})"),
    Option("log_metrics", kept=True, owner="run", commands=RUNNING, metavar="'name=REGEX;...'",
           help="a TRAIN_COMMAND that writes no training_metrics.json: its metrics from its output, "
                "each REGEX's one group per epoch, the last match final (val_acc=Accuracy: ([\\d.]+)%)"),
    Option("dry_run", bool, default=False, owner="run", commands=RUNNING,
           help="list the runs, their states and an estimate; write nothing"),
    Option("output", default="test_matrix_results", owner="run", metavar="dir",
           flags=("--output-dir", "--results-dir"), commands=(*RUNNING, *RANKING, *FOUND),
           help="where sweeps are written and found (default test_matrix_results)"),
    Option("sweep", owner="run", metavar="dir", commands=("run", *FOUND),
           help="one sweep folder (default: the newest); sweep-run extends it"),
    Option("metric", default="val_acc", kept=True, owner="run", metavar="name[,name]", commands=RANKING,
           help="the record key runs are ranked (and searched, pruned) by (default val_acc); "
                "two (val_acc,total_time): the first ranks, the analysis adds their Pareto front"),
    Option("mode", choices=("max", "min"), listed=True, kept=True, owner="run", commands=RANKING,
           help="max or min (default by metric: min for losses and times, else max); one per metric"),
)  # fmt: skip
