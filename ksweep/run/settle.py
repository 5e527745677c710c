"""The runner's final word on a run that ended: its status in training_metrics.json.

The trainer writes the record; the runner settles it when the run's process is gone:

- a record the trainer marked `completed` stays completed, whatever signal reached the
  run after it was written (a TERM in the moment between the write and the exit must
  not throw a finished result away); a positive exit code after it is a failure;
- a run the runner killed is `timeout`, `interrupted`, or `pruned` (the strategy stopped it);
- a trainer's `failed` or `diverged` is its own word;
- anything else (a crash, a silent exit) is `failed`, with the exit code or signal in
  `error` and the log's last lines in `log_tail`.

A trainer that writes no record, run with LOG_METRICS, gets one made from its output.log
(ksweep.run.logmetrics): completed when it exited 0 and every named metric matched, else
failed (`LOG_METRICS: no match for val_acc (last lines: ...)`); a NaN or infinite value is
`diverged`. A trainer that wrote its own record keeps it: the trainer's record wins, and
the runner block says where the metrics came from (`metrics_from`: trainer or log).

A custom trainer's file that cannot be used (not JSON, not an object, an unknown status,
a metric that is a string, NaN, outside 0-100 or a fraction where percent is meant)
makes the run `failed` with the reason naming the key; the trainer's own file is kept
beside the record as `training_metrics.json.invalid`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from ksweep.contract import state
from ksweep.contract.records import new_metrics, read_tail, write_json_atomic
from ksweep.contract.sweepdir import RunPaths
from ksweep.launchers.base import describe_exit
from ksweep.run.logmetrics import LogMetric, last_attempt, read_output

LOG_TAIL_LINES = 5
REFUSED_EXIT = 2  # the trainer contract's "refused the config before training": not worth a retry


@dataclass
class Outcome:
    """How a run ended, as the runner saw it."""

    exit_code: int | None
    wall_seconds: float
    attempts: int
    config_hash: str
    killed_for: str | None = None  # "timeout", "interrupted", or "lost" (the launcher died)
    timeout: float | None = None
    lost: str | None = None  # why the launcher lost the run (its node died): failed, retryable;
    # with killed_for "lost", why the launcher itself died: the run is interrupted
    cancelled: str | None = None  # why the cluster cancelled it (scancel): interrupted
    pruned: str | None = None  # with killed_for "pruned": why the strategy stopped it
    peak_rss_mb: float | None = None  # the run's peak resident memory (the launcher's telemetry)
    gpu: dict | None = None  # its GPU memory and utilisation, sampled (ksweep.launchers.gpumem.Usage)


def log_tail(paths: RunPaths, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join((read_tail(paths.log) or "").splitlines()[-lines:])


def settle(paths: RunPaths, outcome: Outcome, log_metrics: list[LogMetric] | None = None) -> dict:
    """Settle the run's status in its training_metrics.json, add the runner's record, return it.
    With `log_metrics` (LOG_METRICS), a run that wrote no record gets one from its output."""
    from_log = bool(log_metrics) and not paths.metrics.exists()
    if from_log:
        metrics, problem = record_from_log(paths, outcome, log_metrics), None
    else:
        metrics, problem = read_trainer_record(paths)
    status = metrics.get("status")
    if problem:
        os.replace(paths.metrics, paths.invalid_metrics)
        metrics = new_metrics()
        metrics.update(status=state.FAILED, error=problem, log_tail=log_tail(paths))
    elif status == state.COMPLETED and (outcome.exit_code is None or outcome.exit_code <= 0):
        pass  # finished before any signal could matter
    elif outcome.killed_for == "timeout":
        metrics.update(status=state.TIMEOUT, error=f"killed after RUN_TIMEOUT={outcome.timeout:g} s")
    elif outcome.killed_for == "pruned":
        # Its epochs so far are kept, and its final metrics are its last epoch's (never ranked).
        metrics.update(status=state.PRUNED, error=outcome.pruned, final=last_epoch_final(metrics))
    elif outcome.killed_for == "interrupted":
        metrics.update(status=state.INTERRUPTED, error="interrupted (Ctrl-C or SIGTERM); rerun to resume")
    elif outcome.killed_for == "lost":
        why = outcome.lost or "its launcher died"
        metrics.update(status=state.INTERRUPTED, error=f"{why}; rerun to resume")
    elif outcome.cancelled:
        metrics.update(status=state.INTERRUPTED, error=f"{outcome.cancelled}; rerun to resume")
    elif outcome.lost:
        metrics.update(status=state.FAILED, error=outcome.lost, log_tail=log_tail(paths))
    elif status in (state.FAILED, state.DIVERGED):
        pass  # the trainer's own word
    else:
        why = describe_exit(outcome.exit_code)
        if status == state.COMPLETED:
            why = f"wrote a completed record but {why}"
        elif outcome.exit_code == 0:
            why += " without writing a completed training_metrics.json"
        # The reason stays one stable line (failures group by it); the log's tail beside it.
        metrics.update(status=state.FAILED, error=why, log_tail=log_tail(paths))
    metrics["runner"] = {
        "exit_code": outcome.exit_code,
        "wall_seconds": round(outcome.wall_seconds, 3),
        "attempts": outcome.attempts,
        "config_hash": outcome.config_hash,
        "peak_rss_mb": outcome.peak_rss_mb,
        **(outcome.gpu or {}),
    }
    if log_metrics:
        metrics["runner"]["metrics_from"] = "log" if from_log else "trainer"
    write_json_atomic(paths.metrics, metrics)
    return metrics


def record_from_log(paths: RunPaths, outcome: Outcome, log_metrics: list[LogMetric]) -> dict:
    """The record LOG_METRICS reads from the run's output (its last attempt's): completed, or
    failed or diverged saying why, when the command exited 0 unstopped; else `running`, for
    settle to say how it ended (a timeout, a crash), its epochs so far kept."""
    try:
        text = paths.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    metrics, missing, problem = read_output(log_metrics, last_attempt(text))
    ended_alone = outcome.killed_for is None and not (outcome.lost or outcome.cancelled)
    if not ended_alone or outcome.exit_code != 0:
        return metrics
    if problem:
        metrics.update(status=problem.status, error=problem.error, log_tail=log_tail(paths))
    elif missing:
        tail = " | ".join(line.strip() for line in log_tail(paths, 3).splitlines() if line.strip())
        error = f"LOG_METRICS: no match for {', '.join(missing)} (last lines: {tail or 'none'})"
        metrics.update(status=state.FAILED, error=error, log_tail=log_tail(paths))
    elif unusable := metric_problem(metrics):
        error = unusable.replace("training_metrics.json", "LOG_METRICS")
        metrics.update(status=state.FAILED, error=error, log_tail=log_tail(paths))
    else:
        metrics["status"] = state.COMPLETED
    return metrics


def last_epoch_final(metrics: dict) -> dict:
    """A stopped run's `final`: what the trainer wrote there, else its last epoch's metrics."""
    final = metrics.get("final") if isinstance(metrics.get("final"), dict) else {}
    epochs = [row for row in metrics.get("epochs") or [] if isinstance(row, dict)]
    if final or not epochs:
        return final
    last = epochs[-1]
    mapped = {
        "val_acc": last.get("val_acc"),
        "val_loss": last.get("val_loss"),
        "sparsity": last.get("sparsity"),
    }
    return {key: value for key, value in mapped.items() if value is not None}


def worth_retrying(metrics: dict) -> bool:
    """Failures and timeouts may pass on a second try; a refused config never does."""
    exit_code = metrics.get("runner", {}).get("exit_code")
    return metrics["status"] in state.RETRYABLE and exit_code != REFUSED_EXIT


def read_trainer_record(paths: RunPaths) -> tuple[dict, str | None]:
    """(the trainer's record, or an empty one when there is none; why it cannot be used, or None)."""
    try:
        text = paths.metrics.read_text(encoding="utf-8")
    except FileNotFoundError:
        return new_metrics(), None
    except (OSError, UnicodeDecodeError) as err:
        return {}, f"training_metrics.json cannot be read: {err}"
    try:
        data = json.loads(text)
    except ValueError as err:
        return {}, f"training_metrics.json is not valid JSON ({err})"
    if not isinstance(data, dict):
        return {}, f"training_metrics.json holds a JSON {type(data).__name__}, not an object"
    status = data.get("status")
    if status not in state.RECORDED:
        return {}, f"training_metrics.json: unknown status {status!r} (one of {', '.join(state.RECORDED)})"
    return data, (metric_problem(data) if status == state.COMPLETED else None)


def metric_problem(record: dict) -> str | None:
    """Why the metrics of a completed record cannot be ranked, naming the key; None when they can."""
    final = record.get("final")
    if not isinstance(final, dict):
        return "training_metrics.json: `final` is missing or not an object"
    rows = [("final", final)]
    epochs = record.get("epochs")
    if isinstance(epochs, list):
        rows += [(f"epochs[{i}]", row) for i, row in enumerate(epochs) if isinstance(row, dict)]
    accuracies = []
    for where, row in rows:
        for key, value in row.items():
            if value is None or key in ("epoch",) or not _is_metric_key(key):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return (
                    f"training_metrics.json: {where}.{key} is {type(value).__name__} {value!r}, not a number"
                )
            if not math.isfinite(value):
                return f"training_metrics.json: {where}.{key} is {value}, not a finite number"
            if key.endswith("_acc"):
                if not 0 <= value <= 100:
                    return f"training_metrics.json: {where}.{key} is {value}, outside 0-100 (percent)"
                accuracies.append(value)
    if accuracies and max(accuracies) <= 1 and any(0 < a < 1 for a in accuracies):
        return (
            "training_metrics.json: every accuracy is at most 1 (final.val_acc "
            f"{final.get('val_acc')}): accuracies are percentages (0-100), not fractions"
        )
    return None


def _is_metric_key(key: str) -> bool:
    return key.endswith(("_acc", "_loss")) or key in ("sparsity", "lr", "seconds", "train_seconds")
