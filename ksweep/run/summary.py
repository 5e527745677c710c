"""Run directories → one flat record per run → `sweep_summary.json`.

This is the cheap half of the analyze stage: plain JSON reads, no pandas. The runner
keeps the summary current after every finished run through a `SummaryWriter`, whose
cost per run is flat in the sweep's size; `write_summary` rescans a whole sweep and
gives the same file (the analysis and `make sweep-analyze` use it).

A sweep directory holds one directory per run; a directory is a run when it holds
`training_metrics.json` or `config.txt` (the one thing read from its name is the
`config_NNN` prefix, its identity in the summary). Each run becomes a record:

    {"config_file": "config_017", "run_dir": "config_017_resnet18_adamwprune_state_70",
     "status": "completed", "success": true,
     "val_acc": 88.9, "val_loss": 0.41, "test_acc": 88.51, "train_acc": 97.2,
     "final_sparsity": 0.7, "total_time": 1842.3, "epochs": 100, "error": null,
     "config_hash": "3f0c...", "threads": 2, "peak_rss_mb": 812.4, "ended_at": "2026-11-24T11:14:45.120",
     "metric_warnings": null, "CONFIG_ADAMWPRUNE_BETA1": 0.87, ...}

Accuracies are percentages (0-100), sparsity a fraction (0-1), times seconds; a
metric the run did not produce is null, never 0 (no test split: `test_acc: null`).
`status` is ksweep.contract.state.run_state's answer (the monitor and the report agree): a
run with only config.txt is `pending`, a `running` record with no runner holding the
sweep's lock is `interrupted`. Metrics come from the run's `final` block; a run that
is not completed has none, so it is counted but never ranked. Other numeric keys of
`final` (say a trainer's `test_loss`) are copied as they are. `threads` is the
trainer's `env.threads` (results depend on it); `peak_rss_mb` the run's peak resident
memory as the runner saw it (its process and the children it waited for); `metric_warnings` names the metrics
a trainer wrote that are no numbers (a string, NaN).

Varied symbols are the CONFIG_ symbols that take two or more values across the runs'
`config.txt` files, plus the axes sweep.json names (an interrupted sweep still lists
every swept symbol). A run whose config lacks a varied symbol (its dependency is
unmet there) has null for it. Numeric-looking values become numbers, so
`df.groupby("CONFIG_LEARNING_RATE")` sorts numerically.

    >>> records = write_summary("test_matrix_results/sweep_20250101_120000")
    >>> [r["config_file"] for r in records if not r["success"]]
    ['config_004']

Ranking helpers that need no run (the runner checks METRIC/MODE before its first
run): `default_mode(metric)` and `check_metric(metric, mode)`. METRIC may name two
metrics, MODE one mode per metric (`METRIC=val_acc,total_time MODE=max,min`): the
analysis then adds their Pareto front, and the first metric still ranks.
`parse_objectives(metric, mode)` is the one reader of that form, `check_objectives` its
check before a sweep. One duration format for every tool: `format_duration(seconds)`.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import difflib
import json
import math
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ksweep.contract.records import config_hash, config_values, read_json, read_tail, total_time
from ksweep.contract.state import COMPLETED, RECORDED, run_state
from ksweep.contract.sweepdir import CONFIG_FILE, METRICS_FILE, SweepPaths
from ksweep.folder.lock import lock_holder

CONFIG_PREFIX = "CONFIG_"

# The metrics every record carries (null when the run has none), in report order.
GPU_KEYS = ("gpu_mem_peak_mb", "gpu_mem_mean_mb", "gpu_util_mean")  # the runner's GPU telemetry
METRIC_KEYS = ("val_acc", "val_loss", "test_acc", "train_acc", "final_sparsity", "total_time", "epochs")
# Record keys that are not metrics, though some are numbers.
NON_METRIC_KEYS = frozenset(
    {
        "config_file",
        "run_dir",
        "status",
        "success",
        "error",
        "config_hash",
        "threads",
        "started_at",
        "ended_at",
        "metric_warnings",
    }
)
DEFAULT_METRIC = "val_acc"
MODES = ("max", "min")

_RUN_ID = re.compile(r"^(config_\d+)")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_STATUS_LINE = re.compile(rf"^(status:?\s+)?({'|'.join(RECORDED)})\.?$", re.IGNORECASE)

# run dir → (file stamps, raw record, config values). A leaderboard or a second
# analysis in one process re-reads only the runs whose files changed.
_CACHE: dict[str, tuple[tuple, dict, dict[str, str] | None]] = {}
# .config line → its (name, value), or () for a comment; see _config_values.
_LINE_CACHE: dict[str, tuple[str, str] | tuple[()]] = {}
_LINE_CACHE_MAX = 1_000_000
_CACHE_MAX = 100_000


# --- values, metrics and formats shared by every analysis tool -----------------------


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


def finite_or_none(value: Any) -> float | int | None:
    """A number as a record holds it: the value when finite, None for NaN/inf, missing or non-numbers.

    The one NaN-to-None rule: json.loads accepts NaN from other trainers, pandas gives
    NaN for missing cells; neither is a metric (and neither is strict JSON).
    """
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy / pandas scalars
        with contextlib.suppress(ValueError, TypeError):
            value = value.item()
    return value if is_number(value) and math.isfinite(value) else None


def format_duration(seconds: float | None) -> str:
    """A duration for people, one format everywhere: `0:00:07`, `1:02:03`, `2 days, 3:04:05` (h:mm:ss,
    as str(datetime.timedelta) writes it, to the second); `n/a` when unknown."""
    if seconds is None or not is_number(seconds) or not math.isfinite(seconds):
        return "n/a"
    return str(dt.timedelta(seconds=round(max(0.0, seconds))))


def default_mode(metric: str) -> str:
    """The direction a metric is ranked in when MODE is not given: `min` for losses and times
    (`val_loss`, `*_loss`, `loss`, `time`, `*_time`, `*_seconds`), `max` for everything else."""
    lowered = metric.lower()
    if lowered in ("loss", "time") or lowered.endswith(("_loss", "_time", "_seconds")):
        return "min"
    return "max"


class MetricError(ValueError):
    """METRIC or MODE cannot rank a sweep; the message says why and what would."""


def check_metric(metric: str, mode: str | None, warn: Callable[[str], None] | None = None) -> str:
    """Check METRIC and MODE before any run has finished; return the mode to rank by.

    Known keys (METRIC_KEYS) pass. A CONFIG_ symbol or a record key that is no metric
    (status, run_dir, ...) is refused, and so is a near miss of a known key
    (`val_acuracy`: did you mean val_acc?): a typo must not cost a night. Any other
    lowercase name (`[a-z][a-z0-9_]*`) may be a numeric key a custom trainer writes in
    `final`, which nobody can know before its first run: it passes with a warning
    (through `warn`, default stderr). `mode` None (or "") means default_mode(metric).
    """
    mode = mode or None  # Make passes MODE= as an empty string when unset
    if mode is not None and mode not in MODES:
        raise MetricError(f"bad mode {mode!r}: use max or min")
    resolved = mode or default_mode(metric)
    if metric.startswith("test_"):
        (warn or _stderr_warning)(
            f"METRIC={metric} chooses on the test set, so the winner's test figures are optimistic; "
            "METRIC=val_acc keeps the test set out of the choice"
        )
    if metric in METRIC_KEYS:
        return resolved
    if metric.startswith(CONFIG_PREFIX):
        raise MetricError(
            f"METRIC={metric} is a Kconfig symbol, not a metric; use one of {', '.join(METRIC_KEYS)}"
        )
    if metric in NON_METRIC_KEYS:
        raise MetricError(f"METRIC={metric} is not a metric; use one of {', '.join(METRIC_KEYS)}")
    close = difflib.get_close_matches(metric, METRIC_KEYS, n=1, cutoff=0.75)
    if close:
        raise MetricError(
            f"unknown metric {metric!r} (did you mean {close[0]}?); known: {', '.join(METRIC_KEYS)}"
        )
    if not _METRIC_NAME.match(metric):
        raise MetricError(
            f"unknown metric {metric!r}: a metric is a lowercase key such as {', '.join(METRIC_KEYS)}"
        )
    (warn or _stderr_warning)(
        f"METRIC={metric} is not one of {', '.join(METRIC_KEYS)}; it must be a numeric key the trainer "
        f"writes in `final` (ranking {resolved})"
    )
    return resolved


MAX_OBJECTIVES = 2  # one metric ranks; two give a Pareto front as well


def parse_objectives(metric: str | None, mode: str | None) -> list[tuple[str, str]]:
    """METRIC and MODE as (metric, mode) pairs, the ranking metric first: `val_acc` → [("val_acc",
    "max")], `val_acc,total_time` with MODE `max,min` (or none) → [("val_acc", "max"),
    ("total_time", "min")]. A mode not given is default_mode's. MetricError, one line naming
    METRIC or MODE, for more than two metrics, one named twice, an empty name, a count of
    modes other than the metrics', or a mode other than max/min. Names are not checked here:
    check_metric does that before a sweep, the analysis against the sweep's records."""
    names = [name.strip() for name in (metric if metric is not None else DEFAULT_METRIC).split(",")]
    if len(names) > MAX_OBJECTIVES:
        raise MetricError(
            f"METRIC={metric} names {len(names)} metrics: give one, or two for a Pareto front "
            "(METRIC=val_acc,total_time)"
        )
    if len(names) == 2 and "" in names:
        raise MetricError(f"METRIC={metric} has an empty name: give two metrics separated by a comma")
    if len(names) == 2 and names[0] == names[1]:
        raise MetricError(
            f"METRIC={metric} names {names[0]} twice: a Pareto front needs two different metrics"
        )
    modes = [m.strip() for m in mode.split(",")] if mode else [None] * len(names)  # MODE= is unset
    if len(modes) == 1 and len(names) == 2:
        raise MetricError(
            f"MODE={mode} is one mode for two metrics (METRIC={metric}): give one per metric, "
            f"e.g. MODE={','.join(default_mode(name) for name in names)}"
        )
    if len(modes) != len(names):
        metrics = "one metric" if len(names) == 1 else "two metrics"
        raise MetricError(
            f"MODE={mode} has {len(modes)} modes for {metrics} (METRIC={metric}): give one per metric"
        )
    for given_mode in modes:
        if given_mode is not None and given_mode not in MODES:
            raise MetricError(f"bad mode {given_mode!r}: use max or min")
    return [(name, given_mode or default_mode(name)) for name, given_mode in zip(names, modes, strict=True)]


def check_objectives(metric: str | None, mode: str | None, warn: Callable[[str], None] | None = None) -> str:
    """check_metric for each metric of METRIC (parse_objectives); the modes to rank by as MODE
    writes them (`max`, or `max,min` for two metrics). The run stage's check before a sweep."""
    objectives = parse_objectives(metric, mode)
    return ",".join(check_metric(name, given_mode, warn) for name, given_mode in objectives)


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# --- reading runs ---------------------------------------------------------------------


def run_dirs(sweep_dir: Path | str) -> list[Path]:
    """The run directories of a sweep, by name; a directory counts when it holds a run's files."""
    return [Path(path) for path, _ in _scan(sweep_dir)]


def _sort_key(path: str) -> tuple[str, str]:
    name = os.path.basename(path)
    return (run_id(name), name)


def _scan(sweep_dir: Path | str) -> list[tuple[str, tuple]]:
    """(run dir, stamps of its metrics and config files) per run, sorted by run id then name."""
    found = []
    skip = SweepPaths.PLAN_DIR
    with os.scandir(sweep_dir) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name == skip or not entry.is_dir():
                continue
            stamps = _stamps(entry.path)
            if stamps != ((), ()):
                found.append((entry.path, stamps))
    return sorted(found, key=lambda item: _sort_key(item[0]))


def _stamps(run_dir: str) -> tuple:
    # Plain strings and os.stat: pathlib costs more than the stat on 10,000 runs.
    return (_stamp(os.path.join(run_dir, METRICS_FILE)), _stamp(os.path.join(run_dir, CONFIG_FILE)))


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


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _raw_record(name: str, metrics: dict | None, text: str | None, ended_ns: int | None) -> dict:
    """The record of one run without the varied symbols (those need every run); `status` is
    still the recorded one (None when unreadable): `_settled` applies run_state."""
    metrics = metrics or {}
    final, runner, env = _dict(metrics.get("final")), _dict(metrics.get("runner")), _dict(metrics.get("env"))
    epochs = metrics.get("epochs") if isinstance(metrics.get("epochs"), list) else []
    last = epochs[-1] if epochs and isinstance(epochs[-1], dict) else {}
    run_time = total_time(runner, final, epochs)
    record = {
        "config_file": run_id(name),
        "run_dir": name,
        "status": metrics.get("status") if isinstance(metrics.get("status"), str) else None,
        "success": False,
        "val_acc": finite_or_none(final.get("val_acc")),
        "val_loss": finite_or_none(final.get("val_loss")),
        "test_acc": finite_or_none(final.get("test_acc")),
        "train_acc": finite_or_none(last.get("train_acc")),
        "final_sparsity": finite_or_none(final.get("sparsity")),
        "total_time": run_time,
        "epochs": len(epochs),
        "error": metrics.get("error"),
        "config_hash": runner.get("config_hash") or env.get("config_hash") or _hash(text),
        "threads": env.get("threads") if is_number(env.get("threads")) else None,
        "peak_rss_mb": runner.get("peak_rss_mb") if is_number(runner.get("peak_rss_mb")) else None,
        "val_size": _dict(env.get("split_sizes")).get("val"),
        **{k: runner[k] for k in GPU_KEYS if is_number(runner.get(k))},
        "started_at": None,
        "ended_at": None,
        "metric_warnings": _metric_warnings(final) or None,
    }
    if ended_ns is not None and is_number(runner.get("wall_seconds")):
        # The runner rewrites the file as a run ends: its mtime is the end, wall_seconds before it the start.
        ended = ended_ns / 1e9
        record["started_at"] = _iso(ended - runner["wall_seconds"])
        record["ended_at"] = _iso(ended)
    for key, value in final.items():
        if key not in ("sparsity", *record) and finite_or_none(value) is not None:
            record[key] = value
    return record


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).isoformat(timespec="milliseconds")


def _metric_warnings(final: dict) -> str:
    """What is wrong with a trainer's final metrics: strings, NaN or inf where numbers belong."""
    problems = []
    for key, value in final.items():
        if isinstance(value, str):
            problems.append(f"{key} is a string ({value[:20]!r}), not a number")
        elif is_number(value) and not math.isfinite(value):
            problems.append(f"{key} is {value}")
    return "; ".join(problems)


def _hash(text: str | None) -> str | None:
    return config_hash(text) if text is not None else None


def _read_run(run_dir: str, stamp: tuple) -> tuple[dict, dict[str, str] | None]:
    """(raw record, config values or None), re-read only when a file changed."""
    cached = _CACHE.get(run_dir)
    if cached and cached[0] == stamp:
        return cached[1], cached[2]
    if len(_CACHE) > _CACHE_MAX:  # a leaderboard over years of sweeps: start afresh
        _CACHE.clear()
    text = _read_text(os.path.join(run_dir, CONFIG_FILE)) if stamp[1] else None
    metrics = read_json(os.path.join(run_dir, METRICS_FILE)) if stamp[0] else None
    metrics = metrics if isinstance(metrics, dict) else None
    ended_ns = stamp[0][1] if stamp[0] else None
    record = _raw_record(os.path.basename(run_dir), metrics, text, ended_ns)
    record["started"] = text is not None  # the runner writes config.txt as a run starts
    values = _config_values(text) if text is not None else None
    _CACHE[run_dir] = (stamp, record, values)
    return record, values


def _settled(raw: dict, runner_alive: bool) -> dict:
    """A copy of a raw record with its state decided by ksweep.contract.state.run_state."""
    record = dict(raw)
    started = record.pop("started", False)  # decides the state; not a column of the summary
    status = run_state({"status": raw["status"]}, runner_alive, started)
    record["status"], record["success"] = status, status == COMPLETED
    return record


def runner_alive(sweep_dir: Path | str) -> bool:
    """Whether a runner holds the sweep's lock now (its `running` runs are running)."""

    return lock_holder(Path(sweep_dir)) is not None


# --- varied symbols -------------------------------------------------------------------


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


def manifest_axes(sweep_dir: Path | str) -> list[str]:
    """The symbols sweep.json says were swept over two or more values (none without a manifest)."""
    manifest = read_json(SweepPaths(Path(sweep_dir)).manifest)
    axes = _dict(manifest).get("axes") if isinstance(manifest, dict) else None
    if not isinstance(axes, dict):
        return []
    return sorted(
        name
        for name, values in axes.items()
        if name.startswith(CONFIG_PREFIX) and isinstance(values, list) and len(set(map(str, values))) > 1
    )


def _with_symbols(raw: dict, values: dict[str, str] | None, varied: list[str], alive: bool) -> dict:
    record = _settled(raw, alive)
    values = values or {}
    for name in varied:
        record[name] = parse_value(values.get(name))
    return record


def collect_records(sweep_dir: Path | str, runner_alive_now: bool | None = None) -> list[dict]:
    """One flat record per run of `sweep_dir`, ordered by config_file (see the module docstring).

    `runner_alive_now` None asks the sweep's lock (ksweep.folder.lock.lock_holder)."""
    alive = runner_alive(sweep_dir) if runner_alive_now is None else runner_alive_now
    runs = [_read_run(path, stamp) for path, stamp in _scan(sweep_dir)]
    present = {name for _, values in runs if values for name in values}
    axes = [name for name in manifest_axes(sweep_dir) if name in present]
    varied = sorted({*varied_symbols([values for _, values in runs]), *axes})
    return [_with_symbols(raw, values, varied, alive) for raw, values in runs]


def varied_keys(records: list[dict]) -> list[str]:
    """The varied-symbol keys of a list of records, in name order."""
    keys = {key for record in records for key in record if key.startswith(CONFIG_PREFIX)}
    return sorted(keys)


def value_texts(sweep_dir: Path | str, symbols: list[str]) -> dict[str, dict[Any, str]]:
    """Per symbol, each parsed value → its text as config.txt writes it (`3e-4`, not 0.0003).

    Uses the records' cache, so after collect_records it reads no file."""
    texts: dict[str, dict[Any, str]] = {name: {} for name in symbols}
    for path, stamp in _scan(sweep_dir):
        values = _read_run(path, stamp)[1] or {}
        for name in symbols:
            if name in values:
                texts[name].setdefault(parse_value(values[name]), values[name])
    return texts


# --- writing the summary --------------------------------------------------------------


def record_line(record: dict) -> str:
    """One record as sweep_summary.json holds it (strict JSON on one line)."""
    return "  " + json.dumps(record, allow_nan=False)


def summary_text(records: list[dict]) -> str:
    """sweep_summary.json's text: a JSON list, one record per line.

    One line per run reads and greps well, and lets json use its C encoder
    (indent= falls back to the pure-Python one: ten times slower on 10,000 runs).
    """
    return _join([record_line(record) for record in records])


def _join(lines: list[str]) -> str:
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def _replace(path: Path, text: str | bytes | list[bytes], retire=None) -> None:
    """Temp file + rename, without fsync: a reader never sees half a file, and this derived
    file is rebuilt by `make sweep-analyze` should a power cut lose it (fsync of a
    multi-megabyte file after every run would cost more than the run's bookkeeping).
    A list of byte strings is written as they are (writev: no joined copy). `retire`, when
    given, receives a hard link to the replaced file instead of the rename freeing it."""
    parts = [text.encode("utf-8")] if isinstance(text, str) else [text] if isinstance(text, bytes) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        try:
            _write_parts(fd, parts)
        finally:
            os.close(fd)
        old = None
        if retire is not None:
            old = f"{tmp}.old"
            with contextlib.suppress(FileNotFoundError):
                os.link(path, old)
        os.replace(tmp, path)
        if old is not None and os.path.exists(old):
            retire(old)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_parts(fd: int, parts: list[bytes]) -> None:
    for start in range(0, len(parts), 512):  # below IOV_MAX (1024)
        batch = parts[start : start + 512]
        written, total = os.writev(fd, batch), sum(map(len, batch))
        if written < total:  # a short write (rare on a regular file): the rest plainly
            rest = b"".join(batch)[written:]
            while rest:
                rest = rest[os.write(fd, rest) :]


def write_summary(sweep_dir: Path | str, records: list[dict] | None = None) -> list[dict]:
    """Write `sweep_summary.json` (atomically) and return its records."""
    if records is None:
        records = collect_records(sweep_dir)
    _replace(SweepPaths(Path(sweep_dir)).summary, summary_text(records))
    return records


class SummaryWriter:
    """Keeps `sweep_summary.json` current during a sweep, at a cost per run flat in the sweep's size.

        writer = SummaryWriter(sweep_dir)      # reads the runs already there, writes the file
        writer.run_finished("config_007_lenet5_adamw")   # after each run: re-reads that run only
        writer.write_all()                     # a full rescan, as write_summary

    Each record's JSON line is kept (as bytes), and so are blocks of CHUNK joined lines:
    a finished run re-parses its own two files, re-serializes its own line and re-joins
    its own block (a new run, normally the last, only the last block). Every line is
    re-serialized only when the set of varied symbols changes (a run brings a new
    value of a symbol) or the runner's liveness flips (its `running` records change
    state). What is left per run is one write of the file (temp + rename, no fsync),
    a memcpy-speed cost. Freeing the replaced file's pages costs as much as writing them
    (milliseconds at 5,000 runs), so the old file is kept by a hard link through the rename
    and unlinked by a background thread, while the runner waits for its runs anyway.
    The output equals write_summary's for the same files.
    """

    CHUNK = 256

    def __init__(self, sweep_dir: Path | str):
        self.sweep_dir = Path(sweep_dir)
        self.paths = SweepPaths(self.sweep_dir)
        for left in self.sweep_dir.glob(f".{self.paths.summary.name}.*.old"):  # a killed writer's
            left.unlink(missing_ok=True)
        self._unlinker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="summary-unlink")
        self.write_all()

    def _retire(self, old: str) -> None:
        self._unlinker.submit(os.unlink, old)

    def write_all(self) -> list[dict]:
        """Rescan the whole sweep, rebuild every line, write the file; return the records."""
        self._alive = runner_alive(self.sweep_dir)
        self._axes = manifest_axes(self.sweep_dir)
        self._runs: dict[str, tuple[dict, dict[str, str] | None]] = {}
        self._counts: dict[str, Counter] = {}
        self._keys: list[tuple[str, str]] = []  # (run id, name), sorted: the file's order
        for path, stamp in _scan(self.sweep_dir):
            name = os.path.basename(path)
            self._runs[name] = _read_run(path, stamp)
            self._count(self._runs[name][1], +1)
            self._keys.append(_sort_key(path))
        self._varied = self._current_varied()
        records = [self._record(name) for _, name in self._keys]
        self._lines = {r["run_dir"]: record_line(r).encode() for r in records}
        self._chunks: list[bytes | None] = []
        self._write()
        return records

    def run_finished(self, run_dir_name: str, write: bool = True) -> None:
        """Re-read one run (new or changed) and rewrite the summary (`write=False`: only note
        it; `flush()` writes)."""
        path = os.path.join(self.sweep_dir, run_dir_name)
        key = _sort_key(path)
        old = self._runs.pop(run_dir_name, None)
        if old is not None:
            self._count(old[1], -1)
        stamp = _stamps(path)
        position = bisect.bisect_left(self._keys, key)
        if stamp == ((), ()):  # gone (or never there): drop it
            if old is not None:
                del self._keys[position]
                self._lines.pop(run_dir_name, None)
                del self._chunks[position // self.CHUNK :]  # later lines moved up
        else:
            self._runs[run_dir_name] = _read_run(path, stamp)
            self._count(self._runs[run_dir_name][1], +1)
            if old is None:
                self._keys.insert(position, key)
                del self._chunks[position // self.CHUNK :]  # later lines moved down
            elif position // self.CHUNK < len(self._chunks):
                self._chunks[position // self.CHUNK] = None
        alive, varied = runner_alive(self.sweep_dir), self._current_varied()
        if varied != self._varied or alive != self._alive:
            self._varied, self._alive = varied, alive
            self._lines = {name: self._line(name) for name in self._runs}
            self._chunks = []
        elif run_dir_name in self._runs:
            self._lines[run_dir_name] = self._line(run_dir_name)
        self.dirty = True
        if write:
            self.flush()

    def flush(self) -> None:
        """Write the summary if a run changed since the last write."""
        if self.dirty:
            self._write()

    def _count(self, values: dict[str, str] | None, sign: int) -> None:
        # Per symbol, how many runs hold each value: varied = two or more values held.
        for name, value in (values or {}).items():
            counter = self._counts.setdefault(name, Counter())
            counter[value] += sign
            if counter[value] <= 0:
                del counter[value]

    def _current_varied(self) -> list[str]:
        varied = {name for name, counter in self._counts.items() if len(counter) > 1}
        varied.update(name for name in self._axes if self._counts.get(name))
        return sorted(varied)

    def _record(self, name: str) -> dict:
        raw, values = self._runs[name]
        return _with_symbols(raw, values, self._varied, self._alive)

    def _line(self, name: str) -> bytes:
        return record_line(self._record(name)).encode()

    def _write(self) -> None:
        self.dirty = False
        if not self._keys:
            _replace(self.paths.summary, b"[]\n")
            return
        blocks = -(-len(self._keys) // self.CHUNK)
        chunks = self._chunks[:blocks] + [None] * (blocks - len(self._chunks))
        for k, chunk in enumerate(chunks):
            if chunk is None:
                names = (name for _, name in self._keys[k * self.CHUNK : (k + 1) * self.CHUNK])
                chunks[k] = b",\n".join(self._lines[name] for name in names)
        self._chunks = chunks
        parts = [b"[\n"]
        for chunk in chunks:
            parts += [chunk, b",\n"]
        parts[-1] = b"\n]\n"
        _replace(self.paths.summary, parts, self._retire)


# --- logs -------------------------------------------------------------------------------


def last_log_line(run_dir: Path | str, tail_bytes: int = 8192) -> str | None:
    """The last non-empty line of a run's output.log (read from the end: logs can be large)."""
    tail = read_tail(SweepPaths(Path(run_dir).parent).run(Path(run_dir).name).log, tail_bytes)
    if tail is None:
        return None
    # splitlines also splits on \r, so a progress bar's last redraw counts as a line.
    # A closing "status failed" only repeats the record; the line before it says why.
    lines = (line.strip() for line in reversed(tail.splitlines()))
    return next((line for line in lines if line and not _STATUS_LINE.match(line)), None)
