"""What runs next, and whether a running run goes on: SEARCH and PRUNER (the strategy seam).

    SEARCH=grid (default)   every config of sweep_configs/, in order (the plan as made)
    SEARCH=random|tpe       Optuna's RandomSampler / TPESampler, seeded by SEARCH_SEED,
                            proposes points of the range file's grid (ksweep.search.space), one
                            when a slot is free, until the plan holds SAMPLES runs
    PRUNER=median|asha      Optuna's MedianPruner / SuccessiveHalvingPruner (ASHA) read each
                            run's per-epoch METRIC as the run writes it and stop the runs
                            that fall behind: their status is `pruned`, with the reason

The scheduler asks a strategy `propose()` for a new run when a slot is free and its
queue is empty, tells it `started`, each new `epoch` row (the answer: a reason to stop
the run, or None) and `finished`. Optuna is asked and told (ask-and-tell); its study
lives in the sweep folder (search/optuna.journal, Optuna's journal file), so a resume
continues it. A proposal that resolves to a run the plan already holds is not run again:
its trial is told that run's result. A trial whose run did not finish (a Ctrl-C, a
killed runner) is closed as FAIL, and the run, when rerun, gets a new trial with the same
parameters: no trial is left RUNNING.
"""

from __future__ import annotations

import gzip
import json
import random
import statistics
from dataclasses import asdict
from pathlib import Path

from ksweep.contract import state
from ksweep.contract.records import config_hash, config_values, read_json, write_atomic
from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.plan import PlannedRun, override_epochs
from ksweep.folder.sweep import SweepFolder
from ksweep.options import Values
from ksweep.search import space as search_space

MAX_DUPLICATES = 20  # proposals in a row of runs already planned: then an unplanned point is enqueued
STUDY = "ksweep"
EPOCH_METRICS = ("val_acc", "val_loss", "train_acc", "train_loss")  # what a pruner can follow


class StrategyError(ValueError):
    """SEARCH/PRUNER cannot run as asked; the message says why."""


def uses_optuna(options: Values) -> bool:
    """Whether the sweep needs Optuna: a search other than the grid, or a pruner."""
    return options.search != "grid" or options.pruner != "none"


class GridStrategy:
    """The plan as it is, every run to its end."""

    watches_epochs = False

    def propose(self) -> PlannedRun | None:
        return None

    def started(self, run: PlannedRun) -> None: ...

    def epoch(self, run: PlannedRun, row: dict) -> str | None:
        return None

    def finished(self, run: PlannedRun, metrics: dict) -> None: ...


def make_strategy(folder: SweepFolder, options: Values, epochs: int | None):
    return OptunaStrategy(folder, options, epochs) if uses_optuna(options) else GridStrategy()


def write_space(sweep_dir: Path, params: list[search_space.Param], texts: list[str]) -> None:
    """The points a search may propose, kept in the sweep folder so that a resume needs nothing else."""
    data = {"params": [asdict(p) for p in params], "points": texts}
    path = SweepPaths(sweep_dir).space
    path.parent.mkdir(exist_ok=True)
    write_atomic(path, gzip.compress(json.dumps(data).encode()))


def space_size(sweep_dir: Path) -> int:
    return len(json.loads(gzip.decompress(SweepPaths(sweep_dir).space.read_bytes()))["points"])


def read_space(sweep_dir: Path) -> tuple[list[search_space.Param], list[search_space.Point]]:
    data = json.loads(gzip.decompress(SweepPaths(sweep_dir).space.read_bytes()))
    params = [
        search_space.Param(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()})
        for p in data["params"]
    ]
    return params, [search_space.point_of(text, params) for text in data["points"]]


def optuna_module():
    try:
        import optuna  # optional extra: only for SEARCH/PRUNER
    except ImportError:
        raise StrategyError("SEARCH/PRUNER need Optuna: pip install -r requirements-search.txt") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class OptunaStrategy(GridStrategy):
    def __init__(self, folder: SweepFolder, settings: Values, epochs: int | None):
        optuna = optuna_module()
        from optuna.storages import JournalStorage  # optional extra, as above
        from optuna.storages.journal import JournalFileBackend

        self.optuna, self.folder, self.settings, self.epochs = optuna, folder, settings, epochs
        self.sweep_dir, paths = folder.path, folder.paths
        paths.study.parent.mkdir(exist_ok=True)
        # Optuna's journal lock is a symlink to the journal: with a relative path it dangles
        # from search/, so a lock a killed runner left is never seen as stale and the next one
        # waits forever. Absolute, and cleared: the sweep's own lock (held) rules out another runner.
        journal = paths.study.resolve()
        Path(f"{journal}.lock").unlink(missing_ok=True)
        self.study = optuna.create_study(
            storage=JournalStorage(JournalFileBackend(str(journal))),
            study_name=STUDY,
            sampler=_sampler(optuna, settings),
            pruner=_pruner(optuna, settings),
            direction="minimize" if settings.mode == "min" else "maximize",
            load_if_exists=True,
        )
        self.watches_epochs = settings.pruner != "none"
        self.params, self.points = read_space(folder.path) if settings.search != "grid" else ([], [])
        self.live: dict[str, object] = {}  # run dir → its trial
        self.last_epochs: dict[str, int | None] = {}  # run dir → its NUM_EPOCHS (as planned)
        self.duplicates: dict[str, list[int]] = {}  # run dir → trials that proposed it again
        self._close_unfinished_trials()

    # -- proposing -------------------------------------------------------------------------

    def propose(self) -> PlannedRun | None:
        plan = self.folder.plan
        if self.settings.search == "grid" or len(plan) >= self._samples():
            return None
        planned = {run.config_hash: run for run in plan}
        for _ in range(MAX_DUPLICATES):
            trial = self.study.ask()
            point = search_space.propose(trial, self.params, self.points)
            run = planned.get(self._hash(point))
            if run is None:
                return self._plan(trial, point)
            self._told_as(trial, run)
        point = self._unplanned(planned)
        if point is None:
            return None  # every point is planned
        self.study.enqueue_trial(search_space.fixed_params(point, self.params))
        trial = self.study.ask()
        return self._plan(trial, search_space.propose(trial, self.params, self.points))

    def _samples(self) -> int:
        return min(self.settings.samples or len(self.points), len(self.points))

    def _hash(self, point: search_space.Point) -> str:
        return config_hash(override_epochs(point.text, self.epochs))

    def _plan(self, trial, point: search_space.Point) -> PlannedRun:
        self.folder.extend([("proposal", point.text)], self.epochs)
        run = self.folder.plan[-1]
        trial.set_user_attr("run_dir", run.run_dir)
        self.live[run.run_dir] = trial
        return run

    def _unplanned(self, planned: dict) -> search_space.Point | None:
        left = [p for p in self.points if self._hash(p) not in planned]
        return random.Random(self.settings.search_seed + len(planned)).choice(left) if left else None

    def _told_as(self, trial, run: PlannedRun) -> None:
        """A proposal of a run already planned: tell it that run's result, now or when it ends."""
        trial.set_user_attr("duplicate_of", run.run_dir)
        metrics = read_json(SweepPaths(self.sweep_dir).run(run.run_dir).metrics)
        status = metrics.get("status") if isinstance(metrics, dict) else None
        if status in state.FINISHED:
            self._tell(trial.number, metrics)
        else:
            self.duplicates.setdefault(run.run_dir, []).append(trial.number)

    # -- following runs ----------------------------------------------------------------------

    def started(self, run: PlannedRun) -> None:
        if run.run_dir in self.live:
            return
        if self.params:  # rerun after a resume, or a retry: the same point, as a new trial
            point = search_space.point_of(self.folder.text(run), self.params)
            self.study.enqueue_trial(search_space.fixed_params(point, self.params))
        trial = self.study.ask()
        if self.params:
            search_space.propose(trial, self.params, self.points)
        trial.set_user_attr("run_dir", run.run_dir)
        self.live[run.run_dir] = trial

    def epoch(self, run: PlannedRun, row: dict) -> str | None:
        trial = self.live.get(run.run_dir)
        value, step = row.get(self.settings.metric), row.get("epoch")
        if trial is None or not self.watches_epochs or not isinstance(value, (int, float)):
            return None
        if not isinstance(step, int):
            return None
        trial.report(float(value), step)
        last = self._last_epoch(run)
        if last is not None and step >= last:
            return None  # it has trained every epoch: it completes and is ranked, never pruned
        if not trial.should_prune():
            return None
        return self._prune_reason(trial, value, step)

    def _last_epoch(self, run: PlannedRun) -> int | None:
        """The run's NUM_EPOCHS as planned (EPOCHS applied); None when its config does not say."""
        if run.run_dir not in self.last_epochs:
            value = config_values(self.folder.text(run)).get("CONFIG_NUM_EPOCHS", "")
            self.last_epochs[run.run_dir] = int(value) if value.isdigit() else None
        return self.last_epochs[run.run_dir]

    def _prune_reason(self, trial, value: float, step: int) -> str:
        others = [
            t.intermediate_values[step]
            for t in self.study.get_trials(deepcopy=False)
            if t.number != trial.number and step in t.intermediate_values
        ]
        metric = self.settings.metric
        where = f"{metric} {value:.2f} at epoch {step}"
        if self.settings.pruner == "median" and others:
            median = statistics.median(others)
            return f"PRUNER=median: {where}, behind the median {median:.2f} of {len(others)} runs there"
        best = f"the best 1/{self.settings.pruner_reduction} of the {len(others) + 1} runs there"
        return f"PRUNER=asha: {where}, not in {best}"

    def finished(self, run: PlannedRun, metrics: dict) -> None:
        trial = self.live.pop(run.run_dir, None)
        if trial is not None:
            self._tell(trial.number, metrics)
        for number in self.duplicates.pop(run.run_dir, []):
            self._tell(number, metrics)

    def _tell(self, number: int, metrics: dict) -> None:
        TrialState = self.optuna.trial.TrialState
        status = metrics.get("status")
        value = (metrics.get("final") or {}).get(self.settings.metric)
        if status == state.COMPLETED and isinstance(value, (int, float)):
            self.study.tell(number, float(value), skip_if_finished=True)
        elif status == state.PRUNED:
            self.study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
        else:
            self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)

    def _close_unfinished_trials(self) -> None:
        """Trials a stopped runner left RUNNING: told what their run became, or FAIL."""
        TrialState = self.optuna.trial.TrialState
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            run_dir = trial.user_attrs.get("duplicate_of") or trial.user_attrs.get("run_dir")
            metrics = read_json(SweepPaths(self.sweep_dir).run(run_dir).metrics) if run_dir else None
            if isinstance(metrics, dict) and metrics.get("status") in state.FINISHED:
                self._tell(trial.number, metrics)
            else:
                self.study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def _sampler(optuna, settings: Values):
    if settings.search == "tpe":
        return optuna.samplers.TPESampler(seed=settings.search_seed, constant_liar=True)
    return optuna.samplers.RandomSampler(seed=settings.search_seed)


def _pruner(optuna, settings: Values):
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=settings.pruner_min_epochs - 1)
    if settings.pruner == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=settings.pruner_min_epochs, reduction_factor=settings.pruner_reduction
        )
    return optuna.pruners.NopPruner()
