"""The scheduler: keeps every slot of a launcher busy until the queue is empty.

It owns what a run's life means, whatever launched it: the per-run timeout (TERM, then
KILL after a grace period), retries of failures that may pass on a second try, stop on
failure, a stop request (Ctrl-C/SIGTERM: stop the running runs as interrupted), and a
full disk (stop, keep everything finished). Each run that ends is settled
(ksweep.run.settle) and announced to the observers (ksweep.run.observers), which draw the
progress bar and rewrite the summary; the scheduler does not know which exist.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ksweep.contract import verdict
from ksweep.contract.records import new_metrics, write_atomic, write_json_atomic
from ksweep.contract.state import COMPLETED, INTERRUPTED, PRUNED
from ksweep.folder.events import Observers
from ksweep.folder.plan import PlannedRun
from ksweep.folder.sweep import SweepFolder
from ksweep.launchers.base import Ended, Handle, Job, Launcher, LauncherError
from ksweep.options import Values
from ksweep.run.logmetrics import parse_spec
from ksweep.run.settle import Outcome, settle, worth_retrying
from ksweep.search.strategy import Strategy, grid_strategy

KILL_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.25  # longest wait between checks of timeouts and stop requests
VERDICT_POLL_SECONDS = 0.01  # while a stopper judges: a trainer waits for each epoch's verdict
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@dataclass
class InFlight:
    run: PlannedRun
    handle: Handle
    slot: int
    attempt: int
    submitted: float  # a cluster may queue it; launcher.started_at says when it began
    killed_for: str | None = None
    kill_at: float | None = None  # when TERM turns into KILL
    pruned: str | None = None  # why the strategy stopped it
    epochs_seen: int = 0  # epoch rows of its record already given to the strategy
    record_seen: tuple = ()  # the record's (inode, mtime, size) when last read


@dataclass
class SweepResult:
    interrupted: bool = False
    stopped_on_failure: bool = False
    disk_full: str | None = None
    launcher_error: str | None = None


class Scheduler:
    def __init__(
        self,
        folder: SweepFolder,
        queue: list[PlannedRun],
        options: Values,
        launcher: Launcher,
        observers: Observers,
        base_env: dict[str, str],
        stop_requested: Callable[[], bool],
        strategy: Strategy | None = None,
        stop_now: Callable[[], bool] = lambda: False,
    ):
        self.strategy = strategy or grid_strategy(folder)
        self.log_metrics = parse_spec(options.log_metrics) if options.get("log_metrics") else None
        self.strategy.expect(queue)
        self.folder, self.paths, self.options, self.launcher = folder, folder.paths, options, launcher
        self.observers, self.base_env, self.stop_requested = observers, base_env, stop_requested
        self.stop_now = stop_now  # a second stop request: no grace period
        self.queue: deque[tuple[PlannedRun, int]] = deque((run, 1) for run in queue)
        self.slots = launcher.capacity()
        self.free = list(range(len(self.slots)))
        self.active: dict[Handle, InFlight] = {}
        self.result = SweepResult()
        self.proposals_done = False  # the strategy proposes nothing more
        self.stopping = False  # kill what runs (as interrupted), start nothing more
        self.draining = False  # start nothing more, let running runs finish

    def run(self) -> SweepResult:
        try:
            self._loop()
        except LauncherError as err:
            self.result.launcher_error = str(err)
            for flight in self.active.values():
                flight.killed_for = "lost"
            for handle in list(self.active):
                self._finish(self.active.pop(handle), Ended(handle, None, lost=str(err)))
        return self.result

    def _halted(self) -> bool:
        if self.stop_requested() and not self.stopping:
            self.stopping = self.result.interrupted = True
        return self.stopping or self.draining

    def _loop(self) -> None:
        while self.active or (self._has_work() and not self._halted()):
            startable = self.free and not self._halted()
            if startable and self.launcher.ready(0 if self.active else POLL_SECONDS):
                while (
                    self._has_work() and not self._halted() and (slot := self._admitting_slot()) is not None
                ):
                    self._start(*self.queue.popleft(), slot)
            self._watch_epochs()
            if self._halted() and self.stopping:
                self._stop_all()
            ended = self.launcher.poll(self._wait_seconds())
            for end in ended:
                if end.handle in self.active:
                    self._finish(self.active.pop(end.handle), end)
            if not ended:
                self.observers.idle()
            self._enforce_deadlines()

    def _has_work(self) -> bool:
        """Runs queued, or a new one the strategy proposes now (a search grows the plan)."""
        if not self.queue and not self.proposals_done:
            runs = self.strategy.propose()  # a config: each of its seeds
            self.proposals_done = not runs
            self.strategy.expect(runs)
            self.queue.extend((run, 1) for run in runs)
        return bool(self.queue)

    def _watch_epochs(self) -> None:
        """Each new epoch row of the runs in flight: told to the observers and the stopper, which
        stops the run or lets it go on (the trainer may be waiting for that verdict)."""
        for flight in self.active.values():
            if flight.killed_for is not None:
                continue
            rows = self._new_rows(flight)
            for row in rows:
                self.observers.run_epoch(flight.run, row)
                why = self.strategy.epoch(flight.run, row)
                if why:
                    self._prune(flight.run, why)
                    break
            else:
                if rows and self.strategy.watches_epochs and isinstance(rows[-1].get("epoch"), int):
                    verdict.give(self.paths.run(flight.run.run_dir).root, rows[-1]["epoch"])

    def _new_rows(self, flight: InFlight, force: bool = False) -> list[dict]:
        """The epoch rows the run's record holds that were not seen yet. A stopper's runs are read
        every time (a trainer waits on the answer: a write within one mtime tick must not be missed)."""
        path = self.paths.run(flight.run.run_dir).metrics
        try:
            stat = path.stat()
            changed = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if changed == flight.record_seen and not (force or self.strategy.watches_epochs):
                return []
            epochs = json.loads(path.read_text()).get("epochs") or []
            flight.record_seen = changed
        except (OSError, ValueError, AttributeError):
            return []  # not written yet, or being replaced
        rows, flight.epochs_seen = epochs[flight.epochs_seen :], max(flight.epochs_seen, len(epochs))
        return [row for row in rows if isinstance(row, dict)]

    def _prune(self, run: PlannedRun, why: str) -> None:
        """Stop `run` and every run that shares its fate (its config's other seeds): running
        ones are killed as pruned, queued ones are settled pruned without training."""
        fate = set(self.strategy.siblings(run)) | {run.run_dir}
        for flight in list(self.active.values()):
            if flight.run.run_dir in fate and flight.killed_for is None:
                flight.pruned = why
                self._kill(flight, "pruned")
        for queued in [item for item in self.queue if item[0].run_dir in fate]:
            self.queue.remove(queued)
            self._settle_unstarted(queued[0], why)

    def _settle_unstarted(self, run: PlannedRun, why: str) -> None:
        """A queued run stopped with its config before it trained: pruned, with the reason."""
        run_paths = self.paths.run(run.run_dir)
        run_paths.root.mkdir(exist_ok=True)
        write_atomic(run_paths.config, self.folder.text(run), durable=False)
        metrics = new_metrics()
        metrics.update(status=PRUNED, error=f"{why} (stopped with its config before it started)")
        metrics["runner"] = {
            "exit_code": None,
            "wall_seconds": 0.0,
            "attempts": 0,
            "config_hash": run.config_hash,
        }
        write_json_atomic(run_paths.metrics, metrics)
        self.strategy.finished(run, metrics)
        self.observers.run_finished(run, metrics)

    def _admitting_slot(self) -> int | None:
        """The first free slot the launcher admits a run to now (a GPU may lack the memory)."""
        return next((slot for slot in self.free if self.launcher.admits(self.slots[slot])), None)

    def _start(self, run: PlannedRun, attempt: int, slot: int) -> None:
        run_paths = self.paths.run(run.run_dir)
        try:
            run_paths.root.mkdir(exist_ok=True)
            # A copy of the plan's (durable) config: no fsync per run start, it is rebuilt on resume.
            write_atomic(run_paths.config, self.folder.text(run), durable=False)
            run_paths.metrics.unlink(missing_ok=True)  # an old attempt's status must not count
            verdict.clear(run_paths.root)  # nor an old attempt's verdict answer this one
            run_paths.invalid_metrics.unlink(missing_ok=True)
            if attempt > 1:
                with open(run_paths.log, "a") as log:
                    log.write(f"\n===== ksweep: attempt {attempt} =====\n")
        except OSError as err:
            self._fail_disk(err, run_paths.root)
            self.queue.appendleft((run, attempt))
            return
        self.free.remove(slot)
        job = Job(
            config=str(run_paths.config.absolute()),
            output_dir=str(run_paths.root.absolute()),
            log=str(run_paths.log.absolute()),
            env={**self.base_env, **self.slots[slot]},
            append_log=attempt > 1,
        )
        handle = self.launcher.start(job)
        self.active[handle] = InFlight(run, handle, slot, attempt, submitted=time.monotonic())
        self.strategy.started(run)
        self.observers.run_started(run, attempt)

    def _deadline(self, flight: InFlight) -> float | None:
        """When the run times out: RUN_TIMEOUT after it began executing (not while queued)."""
        started = self.launcher.started_at(flight.handle)
        if not self.options.run_timeout or started is None:
            return None
        return started + self.options.run_timeout

    def _wait_seconds(self) -> float:
        now = time.monotonic()
        wait = VERDICT_POLL_SECONDS if self.strategy.watches_epochs and self.active else POLL_SECONDS
        for flight in self.active.values():
            deadline = flight.kill_at if flight.kill_at is not None else self._deadline(flight)
            if deadline is not None:
                wait = min(wait, deadline - now)
        return max(0.0, wait)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for flight in self.active.values():
            if flight.kill_at is not None and now >= flight.kill_at:
                self.launcher.stop(flight.handle, hard=True)
                flight.kill_at = float("inf")
            elif flight.killed_for is None and now >= (self._deadline(flight) or float("inf")):
                self._kill(flight, "timeout")

    def _kill(self, flight: InFlight, why: str) -> None:
        flight.killed_for = why
        self.launcher.stop(flight.handle, hard=False)
        flight.kill_at = time.monotonic() + KILL_GRACE_SECONDS

    def _stop_all(self) -> None:
        now = self.stop_now()
        for flight in self.active.values():
            if flight.killed_for is None:
                self._kill(flight, "interrupted")
            if now and flight.kill_at != float("inf"):
                self.launcher.stop(flight.handle, hard=True)
                flight.kill_at = float("inf")

    def _finish(self, flight: InFlight, end: Ended) -> None:
        self.free.append(flight.slot)
        self.free.sort()
        run_paths = self.paths.run(flight.run.run_dir)
        outcome = Outcome(
            exit_code=end.code,
            wall_seconds=time.monotonic() - (self.launcher.started_at(flight.handle) or flight.submitted),
            attempts=flight.attempt,
            config_hash=flight.run.config_hash,
            killed_for=flight.killed_for,
            timeout=self.options.run_timeout,
            lost=end.lost,
            cancelled=end.cancelled,
            pruned=flight.pruned,
            peak_rss_mb=end.peak_rss_mb,
            gpu=end.gpu,
        )
        try:
            metrics = settle(run_paths, outcome, self.log_metrics)
            # Its last epochs, written as it ended (or read from its output by LOG_METRICS).
            for row in self._new_rows(flight, force=True):
                self.observers.run_epoch(flight.run, row)
            if worth_retrying(metrics) and flight.attempt <= self.options.retries and not self.stopping:
                self.queue.appendleft((flight.run, flight.attempt + 1))
                self.observers.run_retrying(flight.run, metrics, flight.attempt)
                return
            self.strategy.finished(flight.run, metrics)
            self.observers.run_finished(flight.run, metrics)
        except OSError as err:
            self._fail_disk(err, run_paths.root)
            return
        if metrics["status"] not in (COMPLETED, INTERRUPTED, PRUNED) and self.options.stop_on_failure:
            self.draining = True
            self.result.stopped_on_failure = True

    def _fail_disk(self, err: OSError, where: Path) -> None:
        if err.errno not in NO_SPACE:
            raise err
        self.result.disk_full = f"{where}: {os.strerror(err.errno)}"
        self.stopping = True
