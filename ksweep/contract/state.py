"""A run's state: one definition, used by the monitor, the report and resume alike.

    pending      not started (no config.txt in its folder, or no readable record of a finished run)
    running      a runner holds the sweep's lock and the run's record says running (or the run
                 has started and written no record yet)
    completed    the trainer said so (and exited 0)
    failed | diverged | timeout    finished without a result
    pruned       stopped early by a strategy; finished, never ranked as complete
    interrupted  stopped by Ctrl-C/SIGTERM, or `running` left behind by a runner that is gone

A record whose status is `running` while no runner holds the lock is `interrupted`:
whoever asks gets the same answer for the same files.
"""

from __future__ import annotations

PENDING, RUNNING, INTERRUPTED = "pending", "running", "interrupted"
COMPLETED, FAILED, DIVERGED, TIMEOUT, PRUNED = "completed", "failed", "diverged", "timeout", "pruned"

STATES = (PENDING, RUNNING, COMPLETED, FAILED, DIVERGED, TIMEOUT, INTERRUPTED, PRUNED)
# What a trainer (or the runner) may write as `status` in training_metrics.json.
RECORDED = (RUNNING, COMPLETED, FAILED, DIVERGED, TIMEOUT, INTERRUPTED, PRUNED)
FAILURES = frozenset({FAILED, DIVERGED, TIMEOUT})
FINISHED = FAILURES | {COMPLETED, PRUNED}  # counted as done by progress and the report
UNFINISHED = frozenset({PENDING, RUNNING, INTERRUPTED})
RETRYABLE = frozenset({FAILED, TIMEOUT})  # diverged is deterministic: same config, same NaN


def run_state(metrics: dict | None, runner_alive: bool, started: bool = False) -> str:
    """The state of a run from its parsed training_metrics.json, whether a runner holds the
    sweep, and whether the run was started (its config.txt is written when it starts: a
    custom trainer may write no record until it ends)."""
    status = metrics.get("status") if isinstance(metrics, dict) else None
    if status not in RECORDED:
        if not started:
            return PENDING
        return RUNNING if runner_alive else INTERRUPTED
    if status == RUNNING and not runner_alive:
        return INTERRUPTED
    return status


def needs_run(state: str, retry_failed: bool) -> bool:
    """Finished runs are never redone (failures only when asked); the rest always."""
    if state in RETRYABLE:
        return retry_failed
    return state not in FINISHED
