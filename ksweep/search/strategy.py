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

Repeats compose: the runs of one config that differ only in CONFIG_SEED (REPEATS=k, or a
seed axis) are one config to the strategy. A search proposes configs (SAMPLES counts
them) and plans every seed of each; the seed is never a search dimension. One trial
follows a config: told the mean over its completed seeds. A stopper judges a config at
an epoch by the mean of its seeds that have reached it, and its verdict stops them all
(`siblings`: the scheduler stops the running ones and marks the others pruned without
training them); once one seed has completed, the config is no longer stopped. A run is
never stopped at or after its last epoch (NUM_EPOCHS): it completes and is ranked.
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


def config_key(text: str) -> str:
    """A config's identity with its seed left out: the seeds of one config share it."""
    return config_hash("\n".join(line for line in text.splitlines() if not line.startswith("CONFIG_SEED=")))


class GridStrategy:
    """The plan as it is, every run to its end."""

    watches_epochs = False

    def propose(self) -> list[PlannedRun]:
        return []

    def siblings(self, run: PlannedRun) -> list[str]:
        """The run dirs that share `run`'s fate when it is stopped (its config's other seeds)."""
        return [run.run_dir]

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


def space_size(sweep_dir: Path) -> tuple[int, int]:
    """(configs a search may propose, seeds each is run with) of the sweep's space."""
    texts = json.loads(gzip.decompress(SweepPaths(sweep_dir).space.read_bytes()))["points"]
    configs = len({config_key(text) for text in texts})
    return configs, max(1, len(texts) // max(1, configs))


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
        self.points_of: dict[str, list[search_space.Point]] = {}  # config key → its points (seeds)
        for point in self.points:
            self.points_of.setdefault(self._point_key(point), []).append(point)
        self.trial_of: dict[str, object] = {}  # config key → the trial that follows it
        self.live: dict[str, object] = {}  # run dir → its config's trial, while it runs
        self.results: dict[str, dict[str, dict]] = {}  # config key → run dir → its settled record
        self.reported: dict[str, dict[int, float]] = {}  # config key → epoch → the mean reported
        self.at_epoch: dict[str, dict[int, dict[str, float]]] = {}  # key → epoch → run dir → value
        self.last_epochs: dict[str, int | None] = {}  # run dir → its NUM_EPOCHS (as planned)
        self.keys: dict[str, str] = {}  # run dir → its config key
        self.planned: dict[str, list[PlannedRun]] = {}  # config key → its runs (see _planned)
        self.planned_upto = 0  # runs of the plan already in self.planned
        self.duplicates: dict[str, list[int]] = {}  # config key → trials that proposed it again
        self._close_unfinished_trials()

    # -- configs and their seeds -------------------------------------------------------------

    def _key(self, run: PlannedRun) -> str:
        if run.run_dir not in self.keys:
            self.keys[run.run_dir] = config_key(self.folder.text(run))
        return self.keys[run.run_dir]

    def _point_key(self, point: search_space.Point) -> str:
        return config_key(override_epochs(point.text, self.epochs))

    def _planned(self) -> dict[str, list[PlannedRun]]:
        """Config key → its planned runs. The plan only grows: only its new runs are read."""
        for run in self.folder.plan[self.planned_upto :]:
            self.planned.setdefault(self._key(run), []).append(run)
        self.planned_upto = len(self.folder.plan)
        return self.planned

    def siblings(self, run: PlannedRun) -> list[str]:
        return [r.run_dir for r in self._planned().get(self._key(run), [run])]

    # -- proposing -------------------------------------------------------------------------

    def propose(self) -> list[PlannedRun]:
        planned = self._planned()
        if self.settings.search == "grid" or len(planned) >= self._samples():
            return []
        for _ in range(MAX_DUPLICATES):
            trial = self.study.ask()
            key = self._point_key(search_space.propose(trial, self.params, self.points))
            if key not in planned:
                return self._plan(trial, key)
            self._told_as(trial, key)
        left = sorted(k for k in self.points_of if k not in planned)
        if not left:
            return []  # every config is planned
        key = random.Random(self.settings.search_seed + len(planned)).choice(left)
        self.study.enqueue_trial(search_space.fixed_params(self.points_of[key][0], self.params))
        trial = self.study.ask()
        return self._plan(trial, self._point_key(search_space.propose(trial, self.params, self.points)))

    def _samples(self) -> int:
        """Configs in all: SAMPLES, or every config of the space."""
        return min(self.settings.samples or len(self.points_of), len(self.points_of))

    def _plan(self, trial, key: str) -> list[PlannedRun]:
        """Plan every seed of the config `key`, followed by `trial`."""
        before = len(self.folder.plan)
        self.folder.extend([("proposal", point.text) for point in self.points_of[key]], self.epochs)
        runs = self.folder.plan[before:]
        trial.set_user_attr("run_dirs", [run.run_dir for run in runs])
        self.trial_of[key] = trial
        return runs

    def _told_as(self, trial, key: str) -> None:
        """A proposal of a config already planned: told that config's result, now or when it ends."""
        runs = self._planned()[key]
        trial.set_user_attr("duplicate_of", [run.run_dir for run in runs])
        records = [read_json(self.folder.paths.run(run.run_dir).metrics) for run in runs]
        if all(isinstance(r, dict) and r.get("status") in state.FINISHED for r in records):
            self._tell(trial.number, records)
        else:
            self.duplicates.setdefault(key, []).append(trial.number)

    # -- following runs ----------------------------------------------------------------------

    def started(self, run: PlannedRun) -> None:
        key = self._key(run)
        trial = self.trial_of.get(key)
        if trial is None:  # a grid config, or a rerun after a resume: a new trial, same point
            if self.params:
                point = search_space.point_of(self.folder.text(run), self.params)
                self.study.enqueue_trial(search_space.fixed_params(point, self.params))
            trial = self.study.ask()
            if self.params:
                search_space.propose(trial, self.params, self.points)
            trial.set_user_attr("run_dirs", self.siblings(run))
            self.trial_of[key] = trial
        self.live[run.run_dir] = trial

    def epoch(self, run: PlannedRun, row: dict) -> str | None:
        trial = self.live.get(run.run_dir)
        value, step = row.get(self.settings.metric), row.get("epoch")
        if trial is None or not self.watches_epochs or not isinstance(value, (int, float)):
            return None
        if not isinstance(step, int):
            return None
        key = self._key(run)
        self.at_epoch.setdefault(key, {}).setdefault(step, {})[run.run_dir] = float(value)
        last = self._last_epoch(run)
        if last is not None and step >= last:
            return None  # it has trained every epoch: it completes and is ranked, never pruned
        if any((self._record(key, r) or {}).get("status") == state.COMPLETED for r in self.siblings(run)):
            return None  # a seed of this config completed: the config is no longer stopped
        if step in self.reported.setdefault(key, {}):
            return None  # judged at this epoch already (on the seeds that had reached it)
        seen = self.at_epoch[key][step]
        mean = sum(seen.values()) / len(seen)
        self.reported[key][step] = mean
        trial.report(mean, step)
        if not trial.should_prune():
            return None
        return self._prune_reason(trial, mean, step, len(seen))

    def _last_epoch(self, run: PlannedRun) -> int | None:
        """The run's NUM_EPOCHS as planned (EPOCHS applied); None when its config does not say."""
        if run.run_dir not in self.last_epochs:
            value = config_values(self.folder.text(run)).get("CONFIG_NUM_EPOCHS", "")
            self.last_epochs[run.run_dir] = int(value) if value.isdigit() else None
        return self.last_epochs[run.run_dir]

    def _prune_reason(self, trial, value: float, step: int, seeds: int) -> str:
        others = [
            t.intermediate_values[step]
            for t in self.study.get_trials(deepcopy=False)
            if t.number != trial.number and step in t.intermediate_values
        ]
        metric = self.settings.metric
        of = f" (the mean of {seeds} seeds)" if seeds > 1 else ""
        where = f"{metric} {value:.2f}{of} at epoch {step}"
        if self.settings.pruner == "median" and others:
            median = statistics.median(others)
            return f"PRUNER=median: {where}, behind the median {median:.2f} of {len(others)} configs there"
        best = f"the best 1/{self.settings.pruner_reduction} of the {len(others) + 1} configs there"
        return f"PRUNER=asha: {where}, not in {best}"

    def _record(self, key: str, run_dir: str) -> dict | None:
        """A run's settled record: as this runner saw it end, else as an earlier runner left it."""
        if run_dir in self.results.get(key, {}):
            return self.results[key][run_dir]
        if run_dir in self.live:
            return None  # running now: an old record on disk is not its result
        record = read_json(self.folder.paths.run(run_dir).metrics)
        return record if isinstance(record, dict) and record.get("status") in state.FINISHED else None

    def finished(self, run: PlannedRun, metrics: dict) -> None:
        key = self._key(run)
        self.live.pop(run.run_dir, None)
        self.results.setdefault(key, {})[run.run_dir] = metrics
        records = [self._record(key, r) for r in self.siblings(run)]
        if any(record is None for record in records):
            return  # its other seeds are still to come
        trial = self.trial_of.pop(key, None)
        if trial is not None:
            self._tell(trial.number, records)
        for number in self.duplicates.pop(key, []):
            self._tell(number, records)

    def _tell(self, number: int, records: list[dict]) -> None:
        """A config's result: the mean of its completed seeds; pruned, or failed, when none completed."""
        TrialState = self.optuna.trial.TrialState
        values = [
            (r.get("final") or {}).get(self.settings.metric)
            for r in records
            if r.get("status") == state.COMPLETED
        ]
        values = [float(v) for v in values if isinstance(v, (int, float))]
        if values:
            self.study.tell(number, sum(values) / len(values), skip_if_finished=True)
        elif any(r.get("status") == state.PRUNED for r in records):
            self.study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
        else:
            self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)

    def _close_unfinished_trials(self) -> None:
        """Trials a stopped runner left RUNNING: told what their config's runs became, or FAIL."""
        TrialState = self.optuna.trial.TrialState
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            attrs = trial.user_attrs
            run_dirs = attrs.get("duplicate_of") or attrs.get("run_dirs") or [attrs.get("run_dir")]
            run_dirs = [run_dirs] if isinstance(run_dirs, str) else [r for r in run_dirs if r]
            records = [read_json(self.folder.paths.run(r).metrics) for r in run_dirs]
            if records and all(isinstance(r, dict) and r.get("status") in state.FINISHED for r in records):
                self._tell(trial.number, records)
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
