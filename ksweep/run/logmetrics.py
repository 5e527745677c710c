r"""LOG_METRICS: the metrics of a trainer that writes no training_metrics.json, read from its output.

    LOG_METRICS='val_acc=Accuracy: \d+/\d+ \((\d+)%\);val_loss=Average loss: ([\d.]+)'

A spec is `name=REGEX` entries joined by `;` (a `;` inside a REGEX splits only where
`name=` follows it; write `\;` there). Each REGEX is a Python regular expression with
exactly one group, the number. When a run ends, its output.log is searched (re.MULTILINE,
so `^` and `$` are a line's): each match of a metric's REGEX is that metric's next epoch
(1, 2, ...), rows of different metrics are joined by index, and the last match is the
final value. The group is read as a number as printed: `99` and `99%` are 99.0 (a
percentage stays a percentage), `0.0457` is 0.0457.

The record made is an ordinary training_metrics.json (ksweep.contract.records), so the
analysis, the trackers and the summary treat the run as any other:

    >>> spec = parse_spec(r"val_acc=\((\d+)%\);val_loss=loss: ([\d.]+)")
    >>> record, missing, problem = read_output(spec, "loss: 0.31 (97%)\nloss: 0.12 (99%)\n")
    >>> record["epochs"]
    [{'epoch': 1, 'val_acc': 97.0, 'val_loss': 0.31}, {'epoch': 2, 'val_acc': 99.0, 'val_loss': 0.12}]
    >>> record["final"], missing
    ({'val_acc': 99.0, 'val_loss': 0.12}, [])

A run is completed when its command exited 0 and every named metric matched at least
once (ksweep.run.settle). A spec that cannot work is refused, in one line, before anything
starts: no `=`, a name that is no metric name or given twice, a REGEX that does not compile
(with Python's reason) or that has no group or more than one; and, beside the other
options (check_options), LOG_METRICS without a TRAIN_COMMAND (the built-in trainer writes its
own record), a METRIC it does not name (total_time and epochs every run has), a PRUNER (it
judges epochs while a run trains, and these are read when the run has ended).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ksweep.contract.records import new_metrics
from ksweep.contract.state import DIVERGED, FAILED
from ksweep.run.summary import parse_objectives

_SPLIT = re.compile(r"(?<!\\);(?=\s*[A-Za-z_][A-Za-z0-9_]*\s*=)")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ATTEMPT = re.compile(r"^===== ksweep: .* =====$\n?", re.MULTILINE)  # the runner's lines in a log
RESERVED = ("epoch",)  # the row's own key
EXAMPLE = r"val_acc=Accuracy: ([\d.]+)%"
RUNNER_METRICS = ("total_time", "epochs")  # what every record has, from the runner and the rows


class LogMetricsError(ValueError):
    """LOG_METRICS cannot be used; the message names the entry and says why."""


@dataclass(frozen=True)
class LogMetric:
    name: str
    pattern: re.Pattern


def parse_spec(text: str) -> list[LogMetric]:
    """LOG_METRICS as its metrics, in the order given; LogMetricsError, one line, when it cannot work."""
    metrics: list[LogMetric] = []
    for entry in _SPLIT.split(text):
        name, equals, regex = entry.partition("=")
        name = name.strip()
        if not equals:
            raise LogMetricsError(
                f"LOG_METRICS: {entry.strip()!r} is not name=REGEX (e.g. {EXAMPLE}); entries are joined by ;"
            )
        if not _NAME.match(name) or name in RESERVED:
            raise LogMetricsError(
                f"LOG_METRICS: {name!r} is no metric name: lower case, as the summary names metrics "
                "(val_acc, val_loss, test_acc, or a name of your own)"
            )
        if any(metric.name == name for metric in metrics):
            raise LogMetricsError(f"LOG_METRICS: {name} is given twice: one REGEX per metric")
        metrics.append(LogMetric(name, _compile(name, regex)))
    return metrics


def _compile(name: str, regex: str) -> re.Pattern:
    try:
        pattern = re.compile(regex, re.MULTILINE)
    except re.error as err:
        raise LogMetricsError(f"LOG_METRICS: {name}={regex} does not compile: {err}") from None
    if pattern.groups != 1:
        count = "no group" if pattern.groups == 0 else f"{pattern.groups} groups"
        fix = (
            "put ( ) around the number, e.g. Accuracy: ([\\d.]+)%"
            if pattern.groups == 0
            else "keep one ( ) around the number and write the others (?:...)"
        )
        raise LogMetricsError(f"LOG_METRICS: {name}={regex} has {count}; it needs exactly one: {fix}")
    return pattern


def names(text: str | None) -> list[str]:
    """The metric names LOG_METRICS gives (none when unset)."""
    return [metric.name for metric in parse_spec(text)] if text else []


@dataclass(frozen=True)
class Problem:
    """Why a run's output gives no usable metrics although its command exited 0."""

    status: str  # failed (a match that is no number) or diverged (NaN, inf)
    error: str


def last_attempt(text: str) -> str:
    """The output of a run's last attempt: what follows the runner's last `===== ksweep: ... =====`
    line (a retry's or a requeue's), where a trainer that keeps no checkpoint starts again."""
    marks = list(_ATTEMPT.finditer(text))
    return text[marks[-1].end() :] if marks else text


def read_output(metrics: list[LogMetric], text: str) -> tuple[dict, list[str], Problem | None]:
    """The run's record from its output `text`, in the `running` state (ksweep.run.settle
    decides how it ended); the names of the metrics that never matched; and the first match
    that cannot be a metric (no number: failed; NaN or infinite: diverged), or None."""
    values: dict[str, list[float]] = {}
    problem = None
    for metric in metrics:
        found = values[metric.name] = []
        for match in metric.pattern.finditer(text):
            number = _number(match.group(1))
            if number is None:
                why = f"LOG_METRICS: {metric.name} matched {match.group(1)!r}, which is no number"
                problem = problem or Problem(FAILED, why)
                continue
            found.append(number)
            if not math.isfinite(number) and problem is None:
                why = f"LOG_METRICS: {metric.name} is {match.group(1)} at epoch {len(found)}"
                problem = Problem(DIVERGED, why)
    rows = max((len(found) for found in values.values()), default=0)
    record = new_metrics()
    record["epochs"] = [
        {"epoch": index + 1, **{name: found[index] for name, found in values.items() if index < len(found)}}
        for index in range(rows)
    ]
    record["final"] = {name: found[-1] for name, found in values.items() if found}
    return record, [name for name, found in values.items() if not found], problem


def _number(text: str | None) -> float | None:
    """A matched number as printed: `99`, `99%`, `0.0457`, `1e-3`, ` 12.5 `; None when it is none."""
    if text is None:
        return None
    try:
        return float(text.strip().removesuffix("%").strip())
    except ValueError:
        return None


def check_options(options) -> None:
    """Refuse, before anything starts, LOG_METRICS that cannot work with the other options (each
    a LogMetricsError, one line): a bad spec, no TRAIN_COMMAND (the built-in trainer writes its own
    record), a METRIC it does not name, a PRUNER (it judges epochs while a run trains; LOG_METRICS
    reads them when the run ends)."""
    spec = options.get("log_metrics")
    if not spec:
        return
    given = names(spec)
    if not options.get("train_command"):
        raise LogMetricsError(
            "LOG_METRICS reads a TRAIN_COMMAND's output; the built-in trainer writes its own "
            "training_metrics.json, which would win: give TRAIN_COMMAND='...' too, or no LOG_METRICS"
        )
    wanted = [name for name, _ in parse_objectives(options.get("metric"), options.get("mode"))]
    for metric in wanted:
        if metric not in given and metric not in RUNNER_METRICS:
            raise LogMetricsError(
                f"METRIC={options.get('metric')}: {metric} is not among LOG_METRICS' names "
                f"({', '.join(given)}): add {metric}=REGEX to LOG_METRICS, or rank by one of them "
                f"(METRIC={given[0]})"
            )
    pruner = options.get("pruner")
    if pruner and pruner != "none":
        raise LogMetricsError(
            f"PRUNER={pruner} judges a run epoch by epoch while it trains; LOG_METRICS reads a run's "
            "epochs from its output when it ends: give PRUNER=none"
        )
