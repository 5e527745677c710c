"""A sweep folder opened once: its paths, manifest, plan, kept options and lock, in one object.

A command opens the folder when it starts (`SweepFolder(path)`) and hands the object
through its stage, instead of each step re-reading sweep.json and plan.json from a path.
What the stage writes goes through the object (`record`, `extend`), so what it holds is
what is on disk; taking the lock (`locked`) reads both again, since a runner that held
the lock before may have changed them.

    folder = SweepFolder(path)
    with folder.locked():
        added = folder.extend(configs, epochs=None)    # plan.json and plan/ grow
        folder.record(config_dir, kept_options)        # sweep.json says where they came from
        folder.plan, folder.options, folder.paths.summary
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.lock import SweepLock
from ksweep.folder.plan import PlannedRun, extend_plan, load_plan, plan_text, read_manifest, write_manifest


class SweepFolder:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.paths = SweepPaths(self.path)
        self.refresh()

    def __repr__(self) -> str:
        return f"SweepFolder({str(self.path)!r}, {len(self.plan)} planned)"

    def refresh(self) -> None:
        """Read sweep.json and plan.json again (a new folder has neither yet)."""
        self.manifest = read_manifest(self.path)
        self.plan: list[PlannedRun] = load_plan(self.path) if self.paths.plan.exists() else []

    @property
    def options(self) -> dict:
        """The options the sweep keeps for a resume (sweep.json's `options`)."""
        return self.manifest.get("options", {})

    @contextmanager
    def locked(self) -> Iterator[SweepFolder]:
        """Hold the sweep's lock (one runner per folder; ksweep.folder.lock)."""
        with SweepLock(self.path):
            self.refresh()
            yield self

    def moved_to(self, path: Path) -> None:
        """The folder was renamed (a new sweep is published under its final name)."""
        self.path, self.paths = Path(path), SweepPaths(path)

    def record(
        self, config_dir: Path | None, kept: dict, count: int | None = None, shown_as: Path | None = None
    ) -> None:
        """sweep.json: where the configs came from (named `shown_as`, when they were read from a
        private copy) and the options kept, for the plan as it is (or for `count` configs,
        before a new sweep's plan is written)."""
        count = len(self.plan) if count is None else count
        write_manifest(self.path, config_dir, count, kept, shown_as=shown_as)
        self.manifest = read_manifest(self.path)

    def extend(self, configs: list[tuple[str, str]], epochs: int | None) -> int:
        """Add the configs the plan lacks (by config hash); how many runs that added."""
        self.plan, added = extend_plan(self.path, configs, epochs)
        return added

    def text(self, run: PlannedRun) -> str:
        """The config a planned run trains (its copy in the folder's plan/)."""
        return plan_text(self.path, run)
