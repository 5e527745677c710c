"""The epoch handshake: while a stopper (PRUNER) judges a run, the trainer waits for its verdict.

Without it, how far a run gets before the runner has read an epoch and judged it depends
on the machine's speed, and so do the pruned runs and what a search is told. With it:

    runner  → trainer   KSWEEP_VERDICTS=1 in the run's environment (only while a stopper is on)
    trainer             writes epoch e's row to training_metrics.json, then, before epoch e+1,
                        waits until `verdict.json` in its output dir says epoch e or later
    runner              judges epoch e on that row and either writes {"epoch": e} (go on) or
                        stops the run (it is waiting: it has trained exactly e epochs)

A trainer never waits after its last epoch (a run is never stopped there). A trainer
that does not know the handshake keeps the old behaviour: it trains on while it is
judged. A runner that does not answer within WAIT_SECONDS (it was killed) is not waited
for again: the run goes on as it would without a stopper.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ksweep.contract.records import write_atomic

ENV = "KSWEEP_VERDICTS"
FILE = "verdict.json"
WAIT_SECONDS = 600.0
FIRST_POLL, LAST_POLL = 0.0005, 0.005  # the trainer's waits between reads grow from, to


def wanted() -> bool:
    """Whether this trainer is asked to wait for verdicts."""
    return os.environ.get(ENV) == "1"


def give(run_dir: Path, epoch: int) -> None:
    """The runner's 'go on after `epoch`'."""
    write_atomic(run_dir / FILE, json.dumps({"epoch": epoch}), durable=False)


def clear(run_dir: Path) -> None:
    """Before a run (re)starts: an earlier attempt's verdict must not answer this one."""
    (run_dir / FILE).unlink(missing_ok=True)


def given(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / FILE).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def wait(run_dir: Path, epoch: int, timeout: float = WAIT_SECONDS) -> bool:
    """The trainer's side: block until the verdict on `epoch` lets it go on (a verdict to stop
    is the runner stopping the process). False when none came within `timeout`."""
    deadline, pause = time.monotonic() + timeout, FIRST_POLL
    while given(run_dir) < epoch:
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, LAST_POLL)
    return True
