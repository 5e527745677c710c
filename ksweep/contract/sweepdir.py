"""The names of the files in a sweep folder, a run folder and sweep_configs/: one owner.

    test_matrix_results/sweep_YYYYMMDD_HHMMSS/     SweepPaths(dir)
        sweep.json          .manifest   where the sweep came from, its runner options
        plan.json           .plan       every planned run: number, run dir name, config hash
        plan/config_NNN     .plan_dir   the exact config each run trains
        .lock               .lock       held (flock) by the runner working on this sweep
        sweep_summary.json  .summary    one flat record per run
        sweep_analysis.txt  .analysis   the ranked report
        .slurm/             .slurm      BACKEND=slurm: submitit's files; .slurm/jobs: the arrays submitted
        search/             .study      SEARCH/PRUNER: Optuna's study (optuna.journal), and
                            .space      the points a search may propose (space.json.gz)
        config_NNN_.../     .run(name)  RunPaths: config.txt, output.log, training_metrics.json,
                                        best_model.pt, last_epoch.pt (an unfinished run's resume point),
                                        checkpoint_epoch_NNN.pt (KEEP_CHECKPOINTS)

    sweep_configs/                                 ConfigDirPaths(dir)
        config_NNN                      generated configs
        combinations_summary.txt        what varies, the count, each combination (for people)
        generate.json                   provenance (for the runner): range file, its text, axes

Modules ask these objects for paths instead of spelling file names, so a name lives
in one place (as submitit's JobPaths does for a job's folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

METRICS_FILE = "training_metrics.json"
CONFIG_FILE = "config.txt"
LOG_FILE = "output.log"
CHECKPOINT_FILE = "best_model.pt"
LAST_EPOCH_FILE = "last_epoch.pt"  # the built-in trainer's resume point; gone once the run completes
EPOCH_CHECKPOINT = "checkpoint_epoch_{:03d}.pt"  # KEEP_CHECKPOINTS=N: the last N epochs' models
INVALID_SUFFIX = ".invalid"  # a custom trainer's unreadable metrics file, kept for its author


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def log(self) -> Path:
        return self.root / LOG_FILE

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def invalid_metrics(self) -> Path:
        return self.root / (METRICS_FILE + INVALID_SUFFIX)

    @property
    def checkpoint(self) -> Path:
        return self.root / CHECKPOINT_FILE

    @property
    def last_epoch(self) -> Path:
        return self.root / LAST_EPOCH_FILE

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.root / EPOCH_CHECKPOINT.format(epoch)

    def epoch_checkpoints(self) -> list[Path]:
        return sorted(self.root.glob(EPOCH_CHECKPOINT.replace("{:03d}", "[0-9]*")))


@dataclass(frozen=True)
class SweepPaths:
    root: Path

    MANIFEST = "sweep.json"
    PLAN = "plan.json"
    PLAN_DIR = "plan"
    LOCK = ".lock"
    SUMMARY = "sweep_summary.json"
    ANALYSIS = "sweep_analysis.txt"
    SLURM = ".slurm"
    SLURM_JOBS = "jobs"
    SEARCH = "search"

    @property
    def manifest(self) -> Path:
        return self.root / self.MANIFEST

    @property
    def plan(self) -> Path:
        return self.root / self.PLAN

    @property
    def plan_dir(self) -> Path:
        return self.root / self.PLAN_DIR

    @property
    def lock(self) -> Path:
        return self.root / self.LOCK

    @property
    def summary(self) -> Path:
        return self.root / self.SUMMARY

    @property
    def analysis(self) -> Path:
        return self.root / self.ANALYSIS

    @property
    def slurm(self) -> Path:
        return self.root / self.SLURM

    @property
    def slurm_jobs(self) -> Path:
        return self.slurm / self.SLURM_JOBS

    @property
    def study(self) -> Path:
        return self.root / self.SEARCH / "optuna.journal"

    @property
    def space(self) -> Path:
        return self.root / self.SEARCH / "space.json.gz"

    @property
    def best_checkpoint(self) -> Path:
        return self.root / CHECKPOINT_FILE

    def run(self, name: str) -> RunPaths:
        return RunPaths(self.root / name)


@dataclass(frozen=True)
class ConfigDirPaths:
    root: Path

    COMBINATIONS = "combinations_summary.txt"
    PROVENANCE = "generate.json"

    @property
    def combinations(self) -> Path:
        return self.root / self.COMBINATIONS

    @property
    def provenance(self) -> Path:
        return self.root / self.PROVENANCE
