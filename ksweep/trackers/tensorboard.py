"""TRACKER=tensorboard: a sweep as a TensorBoard folder (SWEEP/tensorboard), a run per subfolder.

Each run's folder holds its per-epoch metrics as scalars (the epoch as step; written as
the run trains, then again whole when it ends), and one
entry of TensorBoard's HParams view: the sweep's swept symbols as hyperparameters and
the run's final metrics (at its last epoch's step, so they sit at the curves' end), status
included as text. `tensorboard --logdir SWEEP/tensorboard`
opens it. Logging a run again replaces its folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from ksweep.trackers.tracking import TrackedRun

FOLDER = "tensorboard"


class Tracker:
    name = "tensorboard"

    def __init__(self, sweep_dir: Path, manifest: dict):
        self.root = sweep_dir / FOLDER
        self.swept = [s for s, values in (manifest.get("axes") or {}).items() if len(values) > 1]
        self.live: dict[str, SummaryWriter] = {}  # run dir → its writer, while it trains

    def log_epoch(self, run: TrackedRun, epoch: int, row: dict[str, float]) -> None:
        writer = self.live.get(run.name)
        if writer is None:
            shutil.rmtree(self.root / run.name, ignore_errors=True)  # a rerun's curves start afresh
            writer = self.live[run.name] = SummaryWriter(log_dir=str(self.root / run.name))
        for key, value in row.items():
            writer.add_scalar(key, value, epoch)
        writer.flush()

    def log_run(self, run: TrackedRun) -> bool:
        """The whole run, written afresh (its live curves are replaced by the same and the rest)."""
        live = self.live.pop(run.name, None)
        if live is not None:
            live.close()
        folder = self.root / run.name
        replaced = folder.exists() and live is None
        shutil.rmtree(folder, ignore_errors=True)  # replaced: exporting again makes no duplicate
        writer = SummaryWriter(log_dir=str(folder))
        try:
            for epoch, row in run.epoch_metrics():
                for key, value in row.items():
                    writer.add_scalar(key, value, epoch)
            hparams = {s: run.params.get(s, "(no effect)") for s in self.swept} or {"run": run.name}
            hparams["status"] = run.status
            finals = {f"final/{k}": v for k, v in run.final_metrics().items()}
            writer.add_hparams(
                hparams, finals or {"final/none": 0.0}, run_name=".", global_step=last_epoch(run)
            )
            writer.add_text("status", f"{run.status}: {run.record.get('error') or ''}".strip(": "))
        finally:
            writer.close()
        return replaced

    def close(self) -> None:
        for writer in self.live.values():
            writer.close()


def last_epoch(run: TrackedRun) -> int:
    return max((epoch for epoch, _ in run.epoch_metrics()), default=0)
