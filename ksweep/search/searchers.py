"""Searchers: what runs next (SEARCH). One half of the strategy seam; stoppers are the other.

    grid            the plan as made: every config of sweep_configs/, in order; proposes nothing
    random, tpe     Optuna's RandomSampler / TPESampler, seeded by SEARCH_SEED, propose configs
                    of the range file's space (ksweep.search.space), one when a slot is free,
                    until SAMPLES configs are planned (each with all its seeds)
    nsga2           Optuna's NSGAIISampler, for two objectives (METRIC=val_acc,total_time);
                    random and tpe (multi-objective TPE) take two as well

A searcher is asked `propose()` (the runs of one new config, or none), and told
`started(run)` and `settled(run, records)` when every seed of a run's config has settled.
Optuna is asked and told (ask-and-tell); its study lives in the sweep folder
(search/optuna.journal), so a resume continues it. A proposal the plan already holds is
not run again: its trial is told that config's result. A proposal the built-in trainer
would refuse is told FAIL and not planned. A config's trial is told the mean over its
completed seeds (of each objective), or PRUNED with the means per epoch it reached; a trial whose runs did
not finish (a Ctrl-C, a killed runner) is closed as FAIL, and a rerun gets a new trial
with the same parameters: no trial is left RUNNING.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ksweep.contract import state
from ksweep.contract.records import read_json
from ksweep.folder.plan import PlannedRun, override_epochs
from ksweep.folder.sweep import SweepFolder
from ksweep.options import Values
from ksweep.search import space as search_space
from ksweep.search.configs import ConfigIndex, completed_means, config_key, settled

MAX_DUPLICATES = 20  # proposals in a row of configs already planned: then an unplanned one is chosen
MAX_REFUSED = 100  # proposals in a row the trainer refuses: then the search stops
ENUMERABLE = 100_000  # a finite space this small may be listed to find its unplanned configs
STUDY = "ksweep"


class GridSearcher:
    def propose(self) -> list[PlannedRun]:
        return []

    def started(self, run: PlannedRun) -> None: ...

    def settled(self, run: PlannedRun, records: list[dict]) -> None: ...


class OptunaSearcher:
    def __init__(
        self, index: ConfigIndex, folder: SweepFolder, settings: Values, epochs: int | None, study, optuna,
        refuses: Callable[[str], list[str]],
    ):  # fmt: skip
        self.index, self.folder, self.settings, self.epochs = index, folder, settings, epochs
        self.study, self.optuna, self.refuses = study, optuna, refuses
        self.space = search_space.load(folder.path)
        self.trial_of: dict[str, object] = {}  # config key → the trial that follows it
        self.duplicates: dict[str, list[int]] = {}  # config key → trials that proposed it again
        self.unplanned: list[list[str]] | None = None  # a small finite space's configs (_fallback)
        self.exhausted = False
        close_unfinished_trials(study, optuna, folder, self._tell_number)

    # -- proposing -------------------------------------------------------------------------

    def propose(self) -> list[PlannedRun]:
        planned = self.index.configs()
        if self.exhausted or len(planned) >= self._samples():
            return []
        refused = 0
        for _ in range(MAX_DUPLICATES):
            trial = self.study.ask()
            texts = self.space.propose(trial)
            key = config_key(override_epochs(texts[0], self.epochs))
            if key in planned:
                self._told_as(trial, key)
                continue
            problems = self.refuses(texts[0])
            if problems:
                trial.set_user_attr("refused", problems[0])
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                refused += 1
                if refused >= MAX_REFUSED:
                    break
                continue
            return self._plan(trial, texts)
        return self._fallback(planned)

    def _samples(self) -> int:
        """Configs in all: SAMPLES, at most the space's size."""
        count = self.space.count
        return min(self.settings.samples or count, count) if count is not None else self.settings.samples

    def _fallback(self, planned: dict) -> list[PlannedRun]:
        """Proposals keep repeating planned configs: a small finite space is listed and an
        unplanned config of it chosen (seeded); a large one is nearly exhausted, or the sampler
        has converged: the search ends."""
        if self.space.count is None or self.space.count > ENUMERABLE:
            self.exhausted = True
            return []
        if self.unplanned is None:
            self.unplanned = self.space.configs()
        left = [t for t in self.unplanned if config_key(override_epochs(t[0], self.epochs)) not in planned]
        left = [t for t in left if not self.refuses(t[0])]
        if not left:
            self.exhausted = True
            return []
        texts = random.Random(self.settings.search_seed + len(planned)).choice(left)
        self.study.enqueue_trial(self.space.fixed_params(texts[0]))
        trial = self.study.ask()
        return self._plan(trial, self.space.propose(trial))

    def _plan(self, trial, texts: list[str]) -> list[PlannedRun]:
        """Plan every seed of the proposed config, followed by `trial`."""
        before = len(self.folder.plan)
        self.folder.extend([("proposal", text) for text in texts], self.epochs)
        runs = self.folder.plan[before:]
        trial.set_user_attr("run_dirs", [run.run_dir for run in runs])
        self.trial_of[self.index.key(runs[0])] = trial
        return runs

    def _told_as(self, trial, key: str) -> None:
        """A proposal of a config already planned: told that config's result, now or when it ends."""
        runs = self.index.configs()[key]
        trial.set_user_attr("duplicate_of", [run.run_dir for run in runs])
        records = self.index.settled(runs[0])
        if records is not None:
            self._tell_number(trial.number, records)
        else:
            self.duplicates.setdefault(key, []).append(trial.number)

    # -- following configs -------------------------------------------------------------------

    def started(self, run: PlannedRun) -> None:
        key = self.index.key(run)
        if key in self.trial_of:
            return
        # A grid config or a rerun after a resume: a new trial at its point.
        self.study.enqueue_trial(self.space.fixed_params(self.folder.text(run)))
        trial = self.study.ask()
        self.space.propose(trial)
        trial.set_user_attr("run_dirs", [r.run_dir for r in self.index.siblings(run)])
        self.trial_of[key] = trial

    def settled(self, run: PlannedRun, records: list[dict]) -> None:
        key = self.index.key(run)
        trial = self.trial_of.pop(key, None)
        if trial is not None:
            report_epoch_means(trial, records, self.settings.metric)
            self._tell_number(trial.number, records)
        for number in self.duplicates.pop(key, []):
            self._tell_number(number, records)

    def _tell_number(self, number: int, records: list[dict]) -> None:
        tell(self.study, self.optuna, number, records, [m for m, _ in objectives(self.settings)])


def objectives(settings: Values) -> list[tuple[str, str]]:
    """(metric, mode) of each objective: METRIC and MODE as the run stage checked them
    (`val_acc`/`max`, or two: `val_acc,total_time`/`max,min`)."""
    return list(zip(settings.metric.split(","), (settings.mode or "max").split(","), strict=True))


def tell(study, optuna, number: int, records: list[dict], metrics: list[str]) -> None:
    """A config's result: the mean of its completed seeds (per objective); pruned, or failed,
    when none completed."""
    TrialState = optuna.trial.TrialState
    means = completed_means(records, metrics)
    if means is not None:
        study.tell(number, means if len(means) > 1 else means[0], skip_if_finished=True)
    elif any(r.get("status") == state.PRUNED for r in records):
        study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
    else:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)


def report_epoch_means(trial, records: list[dict], metric: str) -> None:
    """A pruned config's learning curve (the mean of its seeds at each epoch), so TPE ranks it
    by how far it got and how well, as Optuna does for pruned trials."""
    if any(r.get("status") == state.COMPLETED for r in records):
        return
    by_epoch: dict[int, list[float]] = {}
    for record in records:
        for row in record.get("epochs") or []:
            value = row.get(metric) if isinstance(row, dict) else None
            if isinstance(row.get("epoch"), int) and isinstance(value, (int, float)):
                by_epoch.setdefault(row["epoch"], []).append(float(value))
    for epoch, values in sorted(by_epoch.items()):
        trial.report(sum(values) / len(values), epoch)


def close_unfinished_trials(study, optuna, folder: SweepFolder, tell_number) -> None:
    """Trials a stopped runner left RUNNING: told what their config's runs became, or FAIL."""
    TrialState = optuna.trial.TrialState
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        run_dirs = attrs.get("duplicate_of") or attrs.get("run_dirs") or [attrs.get("run_dir")]
        run_dirs = [run_dirs] if isinstance(run_dirs, str) else [r for r in run_dirs if r]
        records = [settled(read_json(folder.paths.run(r).metrics)) for r in run_dirs]
        if records and all(records):
            tell_number(trial.number, records)
        else:
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
