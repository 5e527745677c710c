"""TRACKER=mlflow,tensorboard,wandb,trackio: a sweep where labs already look, live or exported.

    make sweep TRACKER=mlflow                      each run's epochs as it trains, the whole run as it ends
    make sweep-export TRACKER=mlflow,tensorboard   a finished (or half-finished) sweep, again or afterwards

Both go through one path: a run folder (its training_metrics.json, config.txt, output.log
and best checkpoint) becomes a `TrackedRun`, and each tracker writes it under the sweep's
parent (an MLflow parent run, a TensorBoard folder, a W&B group, a trackio project). A
run's identity there is its config hash, so logging it again replaces it: exporting
twice, or after live logging, makes no duplicates. The trackers read only what the
trainer contract writes, so a TRAIN_COMMAND sweep is tracked as the built-in trainer's is.

Live, a tracker is given each epoch as the trainer writes it (`log_epoch`: the run shows
its curves while it trains, in MLflow a child RUNNING from its first epoch), then the
whole run when it ends (`log_run`, which completes or replaces what the epochs began).
Tracking is an observer of the sweep (ksweep.run.observers), on a thread of its own: a slow
or unreachable tracker never slows or fails the sweep. A tracker whose server does not
answer says so once and steps aside; one whose package is not installed is refused before
the sweep starts (`check_installed`: one line naming the `tracking` extra).
"""

from __future__ import annotations

import difflib
import importlib
import queue
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from ksweep.contract import extras
from ksweep.contract.project import command_line
from ksweep.contract.records import config_hash, config_values, read_json
from ksweep.contract.sweepdir import SweepPaths
from ksweep.contract.text import first_line
from ksweep.folder.events import Observer
from ksweep.folder.plan import PlannedRun, load_plan, read_manifest

TRACKERS = {
    "mlflow": "ksweep.trackers.mlflow",
    "tensorboard": "ksweep.trackers.tensorboard",
    "wandb": "ksweep.trackers.wandb",
    "trackio": "ksweep.trackers.trackio",
}
# What each tracker imports (the `tracking` extra installs them all), and its name in messages.
PACKAGES = {"mlflow": ("mlflow", "MLflow"), "tensorboard": ("tensorboard", "TensorBoard"),
            "wandb": ("wandb", "W&B (wandb)"), "trackio": ("trackio", "trackio")}  # fmt: skip
DRAIN_SECONDS = 120.0  # at the sweep's end, how long the runner waits for its trackers


class TrackerError(ValueError):
    """TRACKER= names no tracker; the message says which exist."""


@dataclass
class TrackedRun:
    """What a tracker logs of one run, read from its folder."""

    sweep: str  # the sweep folder's name: the parent's name
    name: str  # the run folder's name
    folder: Path
    record: dict  # training_metrics.json
    params: dict[str, str]  # config.txt's CONFIG_ symbols, as written
    config_hash: str

    @property
    def status(self) -> str:
        return self.record.get("status") or "unknown"

    @property
    def files(self) -> list[Path]:
        paths = SweepPaths(self.folder.parent).run(self.name)
        return [p for p in (paths.config, paths.log, paths.metrics, paths.checkpoint) if p.is_file()]

    def epoch_metrics(self) -> list[tuple[int, dict[str, float]]]:
        rows = []
        for row in self.record.get("epochs") or []:
            if isinstance(row, dict) and isinstance(row.get("epoch"), int):
                rows.append((row["epoch"], _numbers(row, skip=("epoch",))))
        return rows

    def final_metrics(self) -> dict[str, float]:
        runner = self.record.get("runner") or {}
        keys = ("peak_rss_mb", "wall_seconds", "gpu_mem_peak_mb", "gpu_mem_mean_mb", "gpu_util_mean")
        extra = {key: runner.get(key) for key in keys}  # the runner's telemetry
        return _numbers({**(self.record.get("final") or {}), **extra})

    def tags(self) -> dict[str, str]:
        env = self.record.get("env") or {}
        tags = {
            f"env.{k}": str(v) for k, v in env.items() if v is not None and not isinstance(v, (dict, list))
        }
        tags.update(status=self.status, config_hash=self.config_hash, run_dir=self.name)
        if self.record.get("error"):
            tags["error"] = str(self.record["error"])[:5000]
        return tags


def _numbers(row: dict, skip: tuple = ()) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in row.items()
        if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
    }


def tracked_run(sweep_dir: Path, name: str) -> TrackedRun | None:
    paths = SweepPaths(sweep_dir).run(name)
    record = read_json(paths.metrics)
    if not isinstance(record, dict):
        return None
    try:
        text = paths.config.read_text(encoding="utf-8")
    except OSError:
        text = ""
    digest = (record.get("runner") or {}).get("config_hash") or (record.get("env") or {}).get("config_hash")
    if not digest:
        digest = config_hash(text)
    return TrackedRun(sweep_dir.name, name, paths.root, record, config_values(text), digest)


def parse_trackers(text: str | None) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip() and n.strip() != "none"]
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(TRACKERS), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise TrackerError(
            f"TRACKER={text}: unknown {', '.join(unknown)} (one or more of {', '.join(TRACKERS)}){hint}"
        )
    return names


def check_installed(names: list[str]) -> None:
    """Each tracker's package is installed: else one line naming the extra (before any sweep folder)."""
    for name in names:
        module, title = PACKAGES[name]
        problem = extras.missing(f"TRACKER={name}", module, title, "tracking")
        if problem:
            raise TrackerError(problem)


def open_trackers(names: list[str], sweep_dir: Path, say=None) -> list:
    """The trackers that can work now; for each that cannot, one line saying why."""
    say = say or (lambda line: print(line, file=sys.stderr))
    opened = []
    for name in names:
        try:
            module = importlib.import_module(TRACKERS[name])
        except ImportError as err:
            install = extras.install_command("tracking")
            say(f"  TRACKER {name}: not installed ({err.name}): {install}; not tracking")
            continue
        try:
            opened.append(module.Tracker(sweep_dir, read_manifest(sweep_dir)))
        except Exception as err:  # a server that does not answer, a store that cannot be opened
            say(f"  TRACKER {name}: {first_line(err)}; not tracking")
    return opened


def export(sweep_dir: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    """Log every run of the sweep that has a record to each tracker that opens; per tracker,
    (runs logged, of which were there already and were replaced)."""
    trackers = open_trackers(names, sweep_dir, say=print)
    runs = [r for r in (tracked_run(sweep_dir, run.run_dir) for run in load_plan(sweep_dir)) if r]
    counts = {}
    for tracker in trackers:
        replaced = sum(bool(tracker.log_run(run)) for run in runs)
        tracker.close()
        counts[tracker.name] = (len(runs), replaced)
    return counts


class TrackingObserver(Observer):
    """Logs each run's epochs as the trainer writes them (a tracker shows its curves while it
    trains) and the whole run when it ends, on a thread of its own."""

    def __init__(self, sweep_dir: Path, names: list[str]):
        self.sweep_dir, self.names = sweep_dir, names
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="ksweep-tracking", daemon=True)
        self.thread.start()

    def run_epoch(self, run: PlannedRun, row: dict) -> None:
        self.queue.put(("epoch", run.run_dir, (row, run.config_hash)))

    def run_finished(self, run: PlannedRun, metrics: dict) -> None:
        self.queue.put(("finished", run.run_dir, None))

    def sweep_finished(self, result) -> None:
        self.queue.put(None)
        self.thread.join(DRAIN_SECONDS)
        if self.thread.is_alive():
            export = command_line("sweep-export")
            print(f"  TRACKER still logging after {DRAIN_SECONDS:.0f} s; left to `{export}`", file=sys.stderr)

    def _work(self) -> None:
        trackers = open_trackers(self.names, self.sweep_dir)
        live: dict[str, TrackedRun] = {}  # run dir → the run as it started (params, hash)
        while (event := self.queue.get()) is not None:
            kind, name, detail = event
            if kind == "epoch":
                row, digest = detail
                run = live.get(name) or live.setdefault(name, started_run(self.sweep_dir, name, digest))
                step = row.get("epoch")
                if not isinstance(step, int):
                    continue
                calls = [(t, t.log_epoch, (run, step, _numbers(row, skip=("epoch",)))) for t in trackers]
            else:
                live.pop(name, None)
                run = tracked_run(self.sweep_dir, name)
                calls = [(t, t.log_run, (run,)) for t in trackers] if run else []
            for tracker, call, args in calls:
                try:
                    call(*args)
                except Exception as err:  # the sweep goes on; this tracker stops
                    print(f"  TRACKER {tracker.name}: {first_line(err)}; not tracking", file=sys.stderr)
                    trackers.remove(tracker)
        for tracker in trackers:
            tracker.close()


def started_run(sweep_dir: Path, name: str, digest: str) -> TrackedRun:
    """A running run as a tracker first sees it: its config, a record still `running`."""
    paths = SweepPaths(sweep_dir).run(name)
    try:
        text = paths.config.read_text(encoding="utf-8")
    except OSError:
        text = ""
    record = {"status": "running", "epochs": [], "final": {}}
    return TrackedRun(sweep_dir.name, name, paths.root, record, config_values(text), digest)
