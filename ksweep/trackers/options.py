"""The trackers' setting (ksweep.options): which trackers hear about a sweep."""

from ksweep.options import Option

TRACKER_NAMES = ("mlflow", "tensorboard", "wandb", "trackio")

OPTIONS = (
    Option("tracker", owner="trackers", metavar=",".join(TRACKER_NAMES),
           commands=("sweep", "run", "resume", "export"),
           help="log each run as it finishes (comma-separated); sweep-export logs a finished sweep"),
)  # fmt: skip
