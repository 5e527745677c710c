"""Who hears about a sweep: the events the scheduler tells its observers.

    sweep_started(total, done)        the plan's size and how many runs were finished before
    run_started(run, attempt)
    run_epoch(run, row)               an epoch row the run's record gained (as the trainer wrote it)
    run_retrying(run, metrics, attempt)
    run_finished(run, metrics)        the settled record (ksweep.run.settle)
    idle()                            the scheduler waited and nothing ended (at least every 0.25 s)
    sweep_finished(result)

The progress bar and the summary writer are observers; a tracker is one more. An
observer implements the events it cares about; `Observers` hands each event to all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ksweep.folder.plan import PlannedRun


class Observer:
    """The events, each doing nothing: subclasses override what they need."""

    def sweep_started(self, total: int, done: int) -> None: ...
    def run_started(self, run: PlannedRun, attempt: int) -> None: ...
    def run_epoch(self, run: PlannedRun, row: dict) -> None: ...
    def run_retrying(self, run: PlannedRun, metrics: dict, attempt: int) -> None: ...
    def run_finished(self, run: PlannedRun, metrics: dict) -> None: ...
    def sweep_finished(self, result) -> None: ...
    def idle(self) -> None: ...


class Observers(Observer):
    def __init__(self, observers: list[Observer]):
        self.observers = observers

    def sweep_started(self, total: int, done: int) -> None:
        for observer in self.observers:
            observer.sweep_started(total, done)

    def run_started(self, run: PlannedRun, attempt: int) -> None:
        for observer in self.observers:
            observer.run_started(run, attempt)

    def run_epoch(self, run: PlannedRun, row: dict) -> None:
        for observer in self.observers:
            observer.run_epoch(run, row)

    def run_retrying(self, run: PlannedRun, metrics: dict, attempt: int) -> None:
        for observer in self.observers:
            observer.run_retrying(run, metrics, attempt)

    def run_finished(self, run: PlannedRun, metrics: dict) -> None:
        for observer in self.observers:
            observer.run_finished(run, metrics)

    def sweep_finished(self, result) -> None:
        for observer in self.observers:
            observer.sweep_finished(result)

    def idle(self) -> None:
        for observer in self.observers:
            observer.idle()
