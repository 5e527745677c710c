"""Stoppers: whether a running run goes on (PRUNER). One half of the strategy seam; searchers
are the other, and any stopper composes with any searcher (the grid included).

    median   Optuna's MedianPruner: stop a config whose METRIC at an epoch is behind the
             median of the configs that completed, once 5 have (n_startup_trials)
    asha     Optuna's SuccessiveHalvingPruner: at rungs PRUNER_MIN_EPOCHS x PRUNER_REDUCTION^k,
             keep the best 1/PRUNER_REDUCTION of the configs that reached the rung

A stopper is told `started(run)`, gives a verdict on each epoch row as the run writes it
(`epoch(run, row)`: a reason to stop, or None) and is told `settled(run, records)` when
every seed of the config has settled. It judges configs, never single seeds: a config at
an epoch by the mean of its seeds that have reached it, once; its verdict applies to
all of them (the scheduler stops the running ones and marks the others pruned without
training them), and once one seed has completed, the config is no longer stopped. A run
is never stopped at or after its last epoch (NUM_EPOCHS): it completes and is ranked.
With the built-in trainer, every epoch waits for its verdict (ksweep.contract.verdict), so
the same sweep prunes the same runs after the same epochs on any machine.

Its study is its own ("ksweep-stopper", in the sweep's Optuna journal beside the searcher's),
so a resumed sweep judges new configs against the old ones.
"""

from __future__ import annotations

import statistics

from ksweep.contract import state
from ksweep.folder.plan import PlannedRun
from ksweep.folder.sweep import SweepFolder
from ksweep.options import Values
from ksweep.search.configs import ConfigIndex
from ksweep.search.searchers import close_unfinished_trials, tell

STUDY = "ksweep-stopper"
EPOCH_METRICS = ("val_acc", "val_loss", "train_acc", "train_loss")  # what a stopper can follow


class NoStopper:
    watches_epochs = False

    def started(self, run: PlannedRun) -> None: ...

    def epoch(self, run: PlannedRun, row: dict) -> str | None:
        return None

    def settled(self, run: PlannedRun, records: list[dict]) -> None: ...


class OptunaStopper:
    watches_epochs = True

    def __init__(self, index: ConfigIndex, folder: SweepFolder, settings: Values, study, optuna):
        self.index, self.settings, self.study, self.optuna = index, settings, study, optuna
        self.trial_of: dict[str, object] = {}  # config key → its trial
        self.reported: dict[str, dict[int, float]] = {}  # config key → epoch → the mean judged
        self.at_epoch: dict[str, dict[int, dict[str, float]]] = {}  # key → epoch → run dir → value
        close_unfinished_trials(study, optuna, folder, self._tell_number)

    def started(self, run: PlannedRun) -> None:
        key = self.index.key(run)
        if key not in self.trial_of:
            trial = self.study.ask()
            trial.set_user_attr("run_dirs", [r.run_dir for r in self.index.siblings(run)])
            self.trial_of[key] = trial

    def epoch(self, run: PlannedRun, row: dict) -> str | None:
        key = self.index.key(run)
        trial = self.trial_of.get(key)
        value, step = row.get(self.settings.metric), row.get("epoch")
        if trial is None or not isinstance(value, (int, float)) or not isinstance(step, int):
            return None
        self.at_epoch.setdefault(key, {}).setdefault(step, {})[run.run_dir] = float(value)
        last = self.index.last_epoch(run)
        if last is not None and step >= last:
            return None  # it has trained every epoch: it completes and is ranked, never stopped
        siblings = self.index.siblings(run)
        if any((self.index.record(r.run_dir) or {}).get("status") == state.COMPLETED for r in siblings):
            return None  # a seed of this config completed: the config is no longer stopped
        if step in self.reported.setdefault(key, {}):
            return None  # judged at this epoch already (on the seeds that had reached it)
        seen = self.at_epoch[key][step]
        mean = sum(seen.values()) / len(seen)
        self.reported[key][step] = mean
        trial.report(mean, step)
        if not trial.should_prune():
            return None
        return self._reason(trial, mean, step, len(seen))

    def _reason(self, trial, value: float, step: int, seeds: int) -> str:
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

    def settled(self, run: PlannedRun, records: list[dict]) -> None:
        trial = self.trial_of.pop(self.index.key(run), None)
        if trial is not None:
            self._tell_number(trial.number, records)

    def _tell_number(self, number: int, records: list[dict]) -> None:
        tell(self.study, self.optuna, number, records, [self.settings.metric])


def pruner(optuna, settings: Values):
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=settings.pruner_min_epochs - 1)
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=settings.pruner_min_epochs, reduction_factor=settings.pruner_reduction
    )
