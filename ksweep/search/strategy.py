"""The strategy seam: a searcher (what runs next: ksweep.search.searchers) and a stopper
(whether a running run goes on: ksweep.search.stoppers), as the scheduler sees them.

The scheduler asks `propose()` for a new config's runs when a slot is free and its queue
is empty, tells `expect(runs)` of what it queued, `started`, each new `epoch` row (the
answer: a reason to stop the run, or None) and `finished`; `siblings(run)` are the runs
that share its fate (its config's seeds). Both halves see configs, not seeds
(ksweep.search.configs): a config is settled when all its seeds are. Optuna is needed only
for a search other than the grid or a stopper; both studies live in the sweep folder's
journal (search/optuna.journal), so a resume continues them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ksweep.contract import extras
from ksweep.folder.plan import PlannedRun
from ksweep.folder.sweep import SweepFolder
from ksweep.options import Values
from ksweep.search import searchers, stoppers
from ksweep.search import space as search_space
from ksweep.search.configs import ConfigIndex


class StrategyError(ValueError):
    """SEARCH/PRUNER cannot run as asked; the message says why."""


def uses_optuna(options: Values) -> bool:
    """Whether the sweep needs Optuna: a search other than the grid, or a pruner."""
    return options.search != "grid" or options.pruner != "none"


def check_installed(options: Values) -> None:
    """Optuna is there when SEARCH or PRUNER needs it: else one line naming the extra."""
    if uses_optuna(options):
        setting = f"SEARCH={options.search}" if options.search != "grid" else f"PRUNER={options.pruner}"
        problem = extras.missing(setting, "optuna", "Optuna", "search")
        if problem:
            raise StrategyError(problem)


def optuna_module():
    try:
        import optuna  # optional extra: only for SEARCH/PRUNER
    except ImportError:
        raise StrategyError(f"SEARCH/PRUNER need Optuna: {extras.install_command('search')}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def check_settings(options: Values, new_sweep: bool) -> None:
    """SEARCH and PRUNER as given can run: Optuna installed, SAMPLES for a new search, a
    stopper's METRIC written every epoch. One line, before anything is written."""
    if not uses_optuna(options):
        return
    check_installed(options)  # installed, or one line saying how
    optuna_module()
    two = len(searchers.objectives(options)) == 2
    if options.pruner != "none" and two:
        raise StrategyError(
            f"PRUNER={options.pruner} follows one metric epoch by epoch: METRIC={options.metric} names two "
            "(a Pareto front); give one METRIC, or PRUNER=none"
        )
    if options.search == "nsga2" and not two:
        raise StrategyError(
            f"SEARCH=nsga2 searches two objectives: METRIC={options.metric} names one; give two "
            "(METRIC=val_acc,total_time), or SEARCH=tpe for one"
        )
    if options.search != "grid" and not options.samples and new_sweep:
        raise StrategyError(f"SEARCH={options.search} needs SAMPLES=N (the number of configs to propose)")
    if options.pruner != "none" and options.metric not in stoppers.EPOCH_METRICS:
        raise StrategyError(
            f"PRUNER={options.pruner} follows METRIC epoch by epoch: METRIC={options.metric} is not "
            f"in a run's per-epoch record (one of {', '.join(stoppers.EPOCH_METRICS)})"
        )


class Strategy:
    def __init__(self, index: ConfigIndex, searcher, stopper):
        self.index, self.searcher, self.stopper = index, searcher, stopper
        self.watches_epochs = stopper.watches_epochs

    def propose(self) -> list[PlannedRun]:
        return self.searcher.propose()

    def siblings(self, run: PlannedRun) -> list[str]:
        return [r.run_dir for r in self.index.siblings(run)]

    def expect(self, runs: list[PlannedRun]) -> None:
        self.index.expect(runs)

    def started(self, run: PlannedRun) -> None:
        self.index.started(run)
        self.searcher.started(run)
        self.stopper.started(run)

    def epoch(self, run: PlannedRun, row: dict) -> str | None:
        return self.stopper.epoch(run, row)

    def finished(self, run: PlannedRun, metrics: dict) -> None:
        self.index.finished(run, metrics)
        records = self.index.settled(run)
        if records is not None:
            self.searcher.settled(run, records)
            self.stopper.settled(run, records)


def grid_strategy(folder: SweepFolder) -> Strategy:
    return Strategy(ConfigIndex(folder), searchers.GridSearcher(), stoppers.NoStopper())


def make_strategy(
    folder: SweepFolder,
    options: Values,
    epochs: int | None,
    refuses: Callable[[str], list[str]] = lambda text: [],
) -> Strategy:
    """The sweep's searcher and stopper; `refuses(text)`: why the trainer would refuse a config."""
    if not uses_optuna(options):
        return grid_strategy(folder)
    optuna = optuna_module()
    index = ConfigIndex(folder)
    storage = _journal(folder, optuna)
    searcher, stopper = searchers.GridSearcher(), stoppers.NoStopper()
    directions = ["minimize" if mode == "min" else "maximize" for _, mode in searchers.objectives(options)]
    if options.search != "grid":
        study = optuna.create_study(
            storage=storage,
            study_name=searchers.STUDY,
            sampler=_sampler(optuna, options),
            directions=directions,
            load_if_exists=True,
        )
        searcher = searchers.OptunaSearcher(index, folder, options, epochs, study, optuna, refuses)
    if options.pruner != "none":
        study = optuna.create_study(
            storage=storage,
            study_name=stoppers.STUDY,
            pruner=stoppers.pruner(optuna, options),
            directions=directions,
            load_if_exists=True,
        )
        stopper = stoppers.OptunaStopper(index, folder, options, study, optuna)
    return Strategy(index, searcher, stopper)


def _journal(folder: SweepFolder, optuna):
    from optuna.storages.journal import JournalFileBackend  # optional extra, as above

    folder.paths.study.parent.mkdir(exist_ok=True)
    # Optuna's journal lock is a symlink to the journal: with a relative path it dangles
    # from search/, so a lock a killed runner left is never seen as stale and the next one
    # waits forever. Absolute, and cleared: the sweep's own lock (held) rules out another runner.
    journal = folder.paths.study.resolve()
    Path(f"{journal}.lock").unlink(missing_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(journal)))


def _sampler(optuna, settings: Values):
    if settings.search == "tpe":
        return optuna.samplers.TPESampler(seed=settings.search_seed, constant_liar=True)
    if settings.search == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=settings.search_seed)
    return optuna.samplers.RandomSampler(seed=settings.search_seed)


def space_size(sweep_dir: Path) -> tuple[int | None, int]:
    """(configs a search may propose, None when continuous; seeds each is run with)."""
    space = search_space.load(sweep_dir)
    return space.count, max(1, len(space.seeds))
