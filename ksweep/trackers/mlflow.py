"""TRACKER=mlflow: a sweep as an MLflow parent run, each run a child run under it.

The store is MLFLOW_TRACKING_URI when set, else a SQLite file beside the sweeps
(`test_matrix_results/mlflow.db`, artifacts in `test_matrix_results/mlflow-artifacts`;
`mlflow ui --backend-store-uri sqlite:///...` opens it), experiment "ksweep". A child
exists, RUNNING, from a run's first epoch (live), and
holds the run's CONFIG_ symbols as params, every epoch's metrics with the epoch as step,
its final metrics as `final_*`, its status, error and env as tags, and config.txt,
output.log, training_metrics.json and best_model.pt as artifacts. Its status: FINISHED
(completed), FAILED (failed, diverged, timeout), KILLED (interrupted, pruned). Logging a
run again deletes its earlier child (tag config_hash).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from ksweep.trackers.tracking import TrackedRun

for _noisy in ("mlflow", "alembic"):  # a new store's migrations log at INFO: not the sweep's news
    logging.getLogger(_noisy).setLevel(logging.WARNING)

EXPERIMENT = "ksweep"
REACH_SECONDS = 3
STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "pruned": "KILLED"}  # the rest: FAILED
BATCH = 100  # params per log_batch call (MLflow's limit); metrics go 1000 at a time


def tracking_uri(sweep_dir: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(sweep_dir.parent / 'mlflow.db').absolute()}"


def artifact_root(uri: str) -> str | None:
    """Beside a SQLite store (test_matrix_results/mlflow-artifacts for the default one); a
    server's own elsewhere. MLflow's default is ./mlruns of whatever directory the runner is in."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "mlflow-artifacts").absolute().as_uri()


def check_reachable(uri: str) -> None:
    """An http(s) store that does not answer: refused in seconds (MLflow retries for minutes)."""
    url = urlparse(uri)
    if url.scheme not in ("http", "https"):
        return
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=REACH_SECONDS).close()
    except OSError as err:
        raise ConnectionError(f"cannot reach MLflow at {uri}: {err.strerror or err}") from None


class Tracker:
    name = "mlflow"

    def __init__(self, sweep_dir: Path, manifest: dict):
        self.uri = tracking_uri(sweep_dir)
        check_reachable(self.uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            self.experiment = self.client.create_experiment(
                EXPERIMENT, artifact_location=artifact_root(self.uri)
            )
        else:
            self.experiment = experiment.experiment_id
        self.parent = self._parent(sweep_dir.name, manifest)
        self.logged: dict[str, TrackedRun] = {}  # config hash -> the run, for the parent's figures
        self.live: dict[str, str] = {}  # run dir -> its child, while it trains

    def _parent(self, sweep: str, manifest: dict) -> str:
        found = self.client.search_runs(
            [self.experiment], filter_string=f"tags.ksweep_sweep = '{sweep}' and tags.ksweep_role = 'sweep'"
        )
        if found:
            return found[0].info.run_id
        tags = {"ksweep_sweep": sweep, "ksweep_role": "sweep"}
        for key in ("range_file", "git_commit", "created"):
            if manifest.get(key):
                tags[key] = str(manifest[key])
        return self.client.create_run(self.experiment, run_name=sweep, tags=tags).info.run_id

    def log_epoch(self, run: TrackedRun, epoch: int, row: dict[str, float]) -> None:
        """A running run's epoch: its child is made (RUNNING, with its params) at the first."""
        child = self.live.get(run.name)
        if child is None:
            child, _ = self._child(run)
            self.live[run.name] = child
        now = int(time.time() * 1000)
        self.client.log_batch(child, metrics=[Metric(k, v, now, epoch) for k, v in row.items()])

    def log_run(self, run: TrackedRun) -> bool:
        """The whole run: it completes the child its epochs began, else replaces any earlier one."""
        now = int(time.time() * 1000)
        child, replaced = self.live.pop(run.name, None), False
        if child is None:
            child, replaced = self._child(run)
            epochs = [Metric(k, v, now, epoch) for epoch, row in run.epoch_metrics() for k, v in row.items()]
            self._log_metrics(child, epochs)
        self.client.log_batch(child, tags=[RunTag(k, v) for k, v in run.tags().items()])
        last = max((epoch for epoch, _ in run.epoch_metrics()), default=0)
        self._log_metrics(child, [Metric(f"final_{k}", v, now, last) for k, v in run.final_metrics().items()])
        for path in run.files:
            self.client.log_artifact(child, str(path))
        self.client.set_terminated(child, STATUS.get(run.status, "FAILED"))
        self._note_on_parent(run)
        return replaced

    def _child(self, run: TrackedRun) -> tuple[str, bool]:
        """A new child for `run`, with its params; an earlier one of its config is deleted first
        (exporting again makes no duplicate). Returns its id and whether one was replaced."""
        olds = self.client.search_runs(
            [self.experiment],
            filter_string=f"tags.ksweep_parent = '{self.parent}' and tags.config_hash = '{run.config_hash}'",
        )
        for old in olds:
            self.client.delete_run(old.info.run_id)
        tags = {**run.tags(), "mlflow.parentRunId": self.parent, "ksweep_parent": self.parent}
        child = self.client.create_run(self.experiment, run_name=run.name, tags=tags).info.run_id
        params = [Param(k, v[:6000]) for k, v in run.params.items()]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(child, params=params[i : i + BATCH])
        return child, bool(olds)

    def _log_metrics(self, child: str, metrics: list[Metric]) -> None:
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(child, metrics=metrics[i : i + 1000])

    def _note_on_parent(self, run: TrackedRun) -> None:
        """The sweep's run shows what a list of sweeps needs: runs logged, completed, the best val_acc."""
        self.logged[run.config_hash] = run
        runs = list(self.logged.values())
        now = int(time.time() * 1000)
        metrics = [
            Metric("runs", len(runs), now, 0),
            Metric("completed", sum(r.status == "completed" for r in runs), now, 0),
        ]
        best = [r.final_metrics().get("val_acc") for r in runs if r.status == "completed"]
        best = [value for value in best if value is not None]
        if best:
            metrics.append(Metric("best_val_acc", max(best), now, 0))
        self.client.log_batch(self.parent, metrics=metrics)

    def close(self) -> None:
        self.client.set_terminated(self.parent, "FINISHED")
