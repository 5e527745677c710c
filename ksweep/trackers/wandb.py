"""TRACKER=wandb: each run a W&B run in the sweep's group, offline unless the user has logged in.

Runs are written under SWEEP/wandb (`wandb sync SWEEP/wandb/offline-run-*` uploads them),
project WANDB_PROJECT or "ksweep", group = the sweep's name, id = the sweep's name and the
run's config hash, so a run logged again is the same W&B run: its earlier offline folder
is removed first. Params are the run's CONFIG_ symbols (config), every epoch's metrics
are logged with the epoch as step, the final metrics and status go to the summary, and
the exit code says whether it completed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import wandb

from ksweep.trackers.tracking import TrackedRun

FOLDER = "wandb"


def run_id(sweep: str, config_hash: str) -> str:
    return f"{sweep}-{config_hash[:12]}".replace(":", "-")


class Tracker:
    name = "wandb"

    def __init__(self, sweep_dir: Path, manifest: dict):
        self.root = sweep_dir / FOLDER
        self.root.mkdir(exist_ok=True)
        self.mode = os.environ.get("WANDB_MODE") or (
            "online" if os.environ.get("WANDB_API_KEY") else "offline"
        )
        self.project = os.environ.get("WANDB_PROJECT") or "ksweep"

    def log_run(self, run: TrackedRun) -> bool:
        identity = run_id(run.sweep, run.config_hash)
        olds = list((self.root / FOLDER).glob(f"*-{identity}"))
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)  # replaced: exporting again makes no duplicate
        session = wandb.init(
            project=self.project,
            group=run.sweep,
            name=run.name,
            id=identity,
            dir=str(self.root),
            mode=self.mode,
            config=run.params,
            tags=[run.status],
            reinit="create_new",
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
        try:
            for epoch, row in run.epoch_metrics():
                session.log(row, step=epoch)
            session.summary.update(
                {**{f"final_{k}": v for k, v in run.final_metrics().items()}, **run.tags()}
            )
        finally:
            session.finish(exit_code=0 if run.status == "completed" else 1)
        return bool(olds)

    def close(self) -> None: ...
