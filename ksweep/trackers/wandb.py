"""TRACKER=wandb: each run a W&B run in the sweep's group, offline unless the user has logged in.

Runs are written under SWEEP/wandb (`wandb sync SWEEP/wandb/offline-run-*` uploads them),
project WANDB_PROJECT or "ksweep", group = the sweep's name, id = the sweep's name and the
run's config hash, so a run logged again is the same W&B run: its earlier offline folder
is removed first. Params are the run's CONFIG_ symbols (config), every epoch's metrics
are logged with the epoch as step (as the run trains), the final metrics and status go to the summary, and
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
        self.live: dict = {}  # run dir → its W&B run, while it trains

    def log_epoch(self, run: TrackedRun, epoch: int, row: dict[str, float]) -> None:
        session = self.live.get(run.name)
        if session is None:
            session, _ = self._init(run)
            self.live[run.name] = session
        session.log(row, step=epoch)

    def log_run(self, run: TrackedRun) -> bool:
        """The whole run: it finishes the W&B run its epochs began, else replaces any earlier one."""
        session, replaced = self.live.pop(run.name, None), False
        if session is not None:
            session.tags = (run.status,)  # it began as running
        else:
            session, replaced = self._init(run)
            for epoch, row in run.epoch_metrics():
                session.log(row, step=epoch)
        try:
            finals = {f"final_{k}": v for k, v in run.final_metrics().items()}
            session.summary.update({**finals, **run.tags()})
        finally:
            session.finish(exit_code=0 if run.status == "completed" else 1)
        return replaced

    def _init(self, run: TrackedRun):
        """A W&B run for `run` (its earlier offline folder removed first: no duplicate)."""
        identity = run_id(run.sweep, run.config_hash)
        olds = list((self.root / FOLDER).glob(f"*-{identity}"))
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
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
        return session, bool(olds)

    def close(self) -> None:
        for session in self.live.values():  # runs the sweep stopped before they ended
            session.finish(exit_code=1)
