"""Run directories → one flat record per run → `sweep_summary.json`.

This is the cheap half of the analyze stage: plain JSON reads, no pandas, because
the runner calls `write_summary` after every finished run, so a killed sweep
still has an up-to-date summary.

A sweep directory holds one directory per run; a directory is a run when it holds
`training_metrics.json` or `config.txt` (the one thing read from its name is the
`config_NNN` prefix, its identity in the summary). Each run becomes a record:

    {"config_file": "config_017", "run_dir": "config_017_resnet18_adamwprune_state_70",
     "status": "completed", "success": true,
     "val_acc": 88.9, "val_loss": 0.41, "test_acc": 88.51, "train_acc": 97.2,
     "final_sparsity": 0.7, "total_time": 1842.3, "epochs": 100, "error": null,
     "config_hash": "3f0c...", "CONFIG_ADAMWPRUNE_BETA1": 0.87, ...}

Accuracies are percentages (0-100), sparsity a fraction (0-1), times seconds; a
metric the run did not produce is null, never 0 (no test split: `test_acc: null`).
Metrics come from the run's `final` block; a run that is still `running` or was
`interrupted` has no final metrics, so it can be counted but never ranked.
Other numeric keys of `final` (say a trainer's `test_loss`) are copied as they are.

Varied symbols are the CONFIG_ symbols that take two or more values across the
runs' `config.txt` files (the manifest may be missing). A run whose config lacks a
varied symbol (its dependency is unmet there) has null for it. Numeric-looking
values become numbers, so `df.groupby("CONFIG_LEARNING_RATE")` sorts numerically.

    >>> records = write_summary("test_matrix_results/sweep_20250101_120000")
    >>> [r["config_file"] for r in records if not r["success"]]
    ['config_004']
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from ksweep.records import (
    CONFIG_FILE,
    LOG_FILE,
    METRICS_FILE,
    STATUSES,
    config_hash,
    config_values,
    read_json,
    read_tail,
    write_atomic,
)

SUMMARY_FILE = "sweep_summary.json"
ANALYSIS_FILE = "sweep_analysis.txt"
MANIFEST_FILE = "sweep.json"
PLAN_DIR = "plan"
CONFIG_PREFIX = "CONFIG_"

# The metrics every record carries (null when the run has none), in report order.
METRIC_KEYS = ("val_acc", "val_loss", "test_acc", "train_acc", "final_sparsity", "total_time", "epochs")

_RUN_ID = re.compile(r"^(config_\d+)")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_STATUS_LINE = re.compile(rf"^(status:?\s+)?({'|'.join(STATUSES)})\.?$", re.IGNORECASE)

# run dir → (file stamps, record without varied symbols, config values). The runner
# rewrites the summary after every run; re-parsing only changed runs keeps that
# linear in the runs that changed instead of in the whole sweep.
_CACHE: dict[str, tuple[tuple, dict, dict[str, str] | None]] = {}
# .config line → its (name, value), or () for a comment; see _config_values.
_LINE_CACHE: dict[str, tuple[str, str] | tuple[()]] = {}
_LINE_CACHE_MAX = 1_000_000
_CACHE_MAX = 100_000


def run_id(dir_name: str) -> str:
    """The `config_NNN` prefix of a run directory's name (the whole name when it has none)."""
    match = _RUN_ID.match(dir_name)
    return match.group(1) if match else dir_name


def parse_value(value: str | None) -> Any:
    """A config value as the summary holds it: int or float when it looks like one, else the text."""
    if value is None or not _NUMBER.match(value):
        return value
    return int(value) if _INTEGER.match(value) else float(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_dirs(sweep_dir: Path | str) -> list[Path]:
    """The run directories of a sweep, by name; a directory counts when it holds a run's files."""
    return [Path(path) for path, _ in _scan(sweep_dir)]


def _scan(sweep_dir: Path | str) -> list[tuple[str, tuple]]:
    """(run dir, stamps of its metrics and config files) per run, sorted by run id then name."""
    found = []
    with os.scandir(sweep_dir) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name == PLAN_DIR or not entry.is_dir():
                continue
            # Plain strings and os.stat: pathlib costs more than the stat on 10,000 runs.
            stamps = (
                _stamp(os.path.join(entry.path, METRICS_FILE)),
                _stamp(os.path.join(entry.path, CONFIG_FILE)),
            )
            if stamps != ((), ()):
                found.append((entry.path, stamps))
    return sorted(found, key=lambda item: (run_id(os.path.basename(item[0])), os.path.basename(item[0])))


def _stamp(path: str) -> tuple:
    # Atomic writes rename a new file over the old one, so the inode changes on
    # every rewrite even when size and mtime (coarse on some filesystems) do not.
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _config_values(text: str) -> dict[str, str]:
    """config_values of a .config text, each distinct line parsed once.

    The runs of a sweep share almost every line, so 10,000 configs hold a few
    hundred distinct lines; parsing those once instead of every line of every
    file is most of the records' time otherwise.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        parsed = _LINE_CACHE.get(line)
        if parsed is None:
            if len(_LINE_CACHE) > _LINE_CACHE_MAX:
                _LINE_CACHE.clear()
            pairs = list(config_values(line).items())
            parsed = _LINE_CACHE[line] = pairs[0] if pairs else ()
        if parsed:
            values[parsed[0]] = parsed[1]
    return values


def _base_record(name: str, metrics: dict | None, text: str | None) -> dict:
    """The record of one run, without the varied symbols (those need every run)."""
    metrics = metrics or {}
    final = metrics.get("final") if isinstance(metrics.get("final"), dict) else {}
    epochs = metrics.get("epochs") if isinstance(metrics.get("epochs"), list) else []
    last = epochs[-1] if epochs and isinstance(epochs[-1], dict) else {}
    runner = metrics.get("runner") if isinstance(metrics.get("runner"), dict) else {}
    env = metrics.get("env") if isinstance(metrics.get("env"), dict) else {}
    # A config.txt with no metrics yet: the trainer started but has not written an epoch.
    status = str(metrics.get("status") or "running")
    record = {
        "config_file": run_id(name),
        "run_dir": name,
        "status": status,
        "success": status == "completed",
        "val_acc": _num(final.get("val_acc")),
        "val_loss": _num(final.get("val_loss")),
        "test_acc": _num(final.get("test_acc")),
        "train_acc": _num(last.get("train_acc")),
        "final_sparsity": _num(final.get("sparsity")),
        "total_time": _total_time(runner, final, epochs),
        "epochs": len(epochs),
        "error": metrics.get("error"),
        "config_hash": runner.get("config_hash") or env.get("config_hash") or _hash(text),
    }
    for key, value in final.items():
        if key not in ("sparsity", *record) and _num(value) is not None:
            record[key] = value
    return record


def _num(value: Any) -> float | int | None:
    # json.loads accepts NaN and Infinity from other trainers; a metric that is not a
    # finite number is no metric (it would also break sorting and strict JSON).
    return value if is_number(value) and math.isfinite(value) else None


def _total_time(runner: dict, final: dict, epochs: list) -> float | None:
    # The runner's wall clock includes start-up and data loading; the trainer's own
    # figure is the fallback, and the epochs' sum is all a running run has.
    for value in (runner.get("wall_seconds"), final.get("train_seconds")):
        if _num(value) is not None:
            return float(value)
    seconds = [e.get("seconds") for e in epochs if isinstance(e, dict) and _num(e.get("seconds")) is not None]
    return float(sum(seconds)) if seconds else None


def _hash(text: str | None) -> str | None:
    return config_hash(text) if text is not None else None


def _read_run(run_dir: str, stamp: tuple) -> tuple[dict, dict[str, str] | None]:
    """(record without varied symbols, config values or None), re-read only when a file changed."""
    cached = _CACHE.get(run_dir)
    if cached and cached[0] == stamp:
        return dict(cached[1]), cached[2]
    if len(_CACHE) > _CACHE_MAX:  # a leaderboard over years of sweeps: start afresh
        _CACHE.clear()
    text = _read_text(os.path.join(run_dir, CONFIG_FILE)) if stamp[1] else None
    # read_json, not read_metrics: one path join fewer, which shows at 10,000 runs.
    metrics = read_json(os.path.join(run_dir, METRICS_FILE)) if stamp[0] else None
    record = _base_record(os.path.basename(run_dir), metrics if isinstance(metrics, dict) else None, text)
    values = _config_values(text) if text is not None else None
    _CACHE[run_dir] = (stamp, record, values)
    return dict(record), values


def varied_symbols(configs: list[dict[str, str] | None]) -> list[str]:
    """The CONFIG_ symbols that take two or more values across these configs, sorted by name."""
    configs = [values for values in configs if values]
    if not configs:
        return []
    # Runs share most lines: a C-level set difference against the first config finds
    # the few candidates; only those are checked value by value.
    base = configs[0].items()
    candidates = {name for values in configs for name, _ in values.items() - base}
    varied = []
    for name in sorted(candidates):
        distinct = {values[name] for values in configs if name in values}
        if len(distinct) > 1:
            varied.append(name)
    return varied


def collect_records(sweep_dir: Path | str) -> list[dict]:
    """One flat record per run of `sweep_dir`, ordered by config_file (see the module docstring)."""
    runs = [_read_run(path, stamp) for path, stamp in _scan(sweep_dir)]
    varied = varied_symbols([values for _, values in runs])
    records = []
    for record, values in runs:
        values = values or {}
        for name in varied:
            record[name] = parse_value(values.get(name))
        records.append(record)
    return records


def varied_keys(records: list[dict]) -> list[str]:
    """The varied-symbol keys of a list of records, in name order."""
    keys = {key for record in records for key in record if key.startswith(CONFIG_PREFIX)}
    return sorted(keys)


def summary_text(records: list[dict]) -> str:
    """sweep_summary.json's text: a JSON list, one record per line.

    One line per run reads and greps well, and lets json use its C encoder
    (indent= falls back to the pure-Python one: ten times slower on 10,000 runs).
    """
    lines = ",\n".join("  " + json.dumps(record, allow_nan=False) for record in records)
    return f"[\n{lines}\n]\n" if records else "[]\n"


def write_summary(sweep_dir: Path | str, records: list[dict] | None = None) -> list[dict]:
    """Write `sweep_summary.json` (atomically) and return its records."""
    if records is None:
        records = collect_records(sweep_dir)
    write_atomic(Path(sweep_dir) / SUMMARY_FILE, summary_text(records))
    return records


def last_log_line(run_dir: Path | str, tail_bytes: int = 8192) -> str | None:
    """The last non-empty line of a run's output.log (read from the end: logs can be large)."""
    tail = read_tail(Path(run_dir) / LOG_FILE, tail_bytes)
    if tail is None:
        return None
    # splitlines also splits on \r, so a progress bar's last redraw counts as a line.
    # A closing "status failed" only repeats the record; the line before it says why.
    lines = (line.strip() for line in reversed(tail.splitlines()))
    return next((line for line in lines if line and not _STATUS_LINE.match(line)), None)
