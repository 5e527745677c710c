"""A sweep's runs grouped by config: the seeds of one config share its key, its trial and its fate.

Searchers and stoppers both see configs, never single seeds: a search proposes a config
(every seed of it is planned), is told the config's result once all its seeds have
settled, and a stopper judges a config by the mean of its seeds.
"""

from __future__ import annotations

from ksweep.contract import state
from ksweep.contract.records import config_hash, config_values, read_json, run_metric
from ksweep.folder.plan import PlannedRun
from ksweep.folder.sweep import SweepFolder


def config_key(text: str) -> str:
    """A config's identity with its seed left out: the seeds of one config share it."""
    return config_hash("\n".join(line for line in text.splitlines() if not line.startswith("CONFIG_SEED=")))


class ConfigIndex:
    """The plan's runs by config key, read as the plan grows, and the runs' settled records."""

    def __init__(self, folder: SweepFolder):
        self.folder = folder
        self.keys: dict[str, str] = {}  # run dir → its config key
        self.planned: dict[str, list[PlannedRun]] = {}  # config key → its runs
        self.planned_upto = 0  # runs of the plan already in self.planned
        self.live: set[str] = set()  # run dirs running now
        self.expected: set[str] = set()  # run dirs queued to run: an old record is not their result
        self.results: dict[str, dict] = {}  # run dir → its record, as this runner saw it settle
        self.last_epochs: dict[str, int | None] = {}  # run dir → its NUM_EPOCHS (as planned)

    def key(self, run: PlannedRun) -> str:
        if run.run_dir not in self.keys:
            self.keys[run.run_dir] = config_key(self.folder.text(run))
        return self.keys[run.run_dir]

    def configs(self) -> dict[str, list[PlannedRun]]:
        """Config key → its planned runs. The plan only grows: only its new runs are read."""
        for run in self.folder.plan[self.planned_upto :]:
            self.planned.setdefault(self.key(run), []).append(run)
        self.planned_upto = len(self.folder.plan)
        return self.planned

    def siblings(self, run: PlannedRun) -> list[PlannedRun]:
        """The runs of `run`'s config (its seeds), itself included."""
        return self.configs().get(self.key(run), [run])

    def last_epoch(self, run: PlannedRun) -> int | None:
        """The run's NUM_EPOCHS as planned (EPOCHS applied); None when its config does not say."""
        if run.run_dir not in self.last_epochs:
            value = config_values(self.folder.text(run)).get("CONFIG_NUM_EPOCHS", "")
            self.last_epochs[run.run_dir] = int(value) if value.isdigit() else None
        return self.last_epochs[run.run_dir]

    def expect(self, runs: list[PlannedRun]) -> None:
        self.expected.update(run.run_dir for run in runs)

    def started(self, run: PlannedRun) -> None:
        self.expected.discard(run.run_dir)
        self.live.add(run.run_dir)
        self.results.pop(run.run_dir, None)  # a rerun: its earlier record is not its result

    def finished(self, run: PlannedRun, metrics: dict) -> None:
        self.expected.discard(run.run_dir)
        self.live.discard(run.run_dir)
        self.results[run.run_dir] = metrics

    def record(self, run_dir: str) -> dict | None:
        """A run's settled record: as this runner saw it end, else as an earlier runner left it;
        None while it runs or is still to run."""
        if run_dir in self.results:
            return self.results[run_dir]
        if run_dir in self.live or run_dir in self.expected:
            return None  # running now, or queued (a retry): an old record on disk is not its result
        return settled(read_json(self.folder.paths.run(run_dir).metrics))

    def settled(self, run: PlannedRun) -> list[dict] | None:
        """The records of all `run`'s seeds once every one has settled, else None."""
        records = [self.record(r.run_dir) for r in self.siblings(run)]
        return None if any(r is None for r in records) else records


def settled(record) -> dict | None:
    return record if isinstance(record, dict) and record.get("status") in state.FINISHED else None


def completed_means(records: list[dict], metrics: list[str]) -> list[float] | None:
    """The mean of each metric over the completed records; None when no completed record has
    them all."""
    rows = [[run_metric(r, m) for m in metrics] for r in records if r.get("status") == state.COMPLETED]
    rows = [row for row in rows if all(v is not None for v in row)]
    if not rows:
        return None
    return [sum(column) / len(rows) for column in zip(*rows, strict=True)]
