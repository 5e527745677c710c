"""Across sweeps: a leaderboard of the best runs, and two sweeps side by side.

    python scripts/sweep_leaderboard.py [--results-dir DIR] [--metric M] [--mode max] [--top 10]
    python scripts/sweep_compare.py SWEEP_A SWEEP_B [--metric M] [--mode max]

leaderboard() ranks the completed runs of every sweep under the results folder by one
metric, as the report ranks one sweep, and prints the best as a table: sweep, run,
metric, test accuracy, epochs, what produced it (range file and trainer: runs of
different trainers or datasets are not comparable), its thread count, and the run's
swept symbols (each sweep's own). Under the table it says when the rows differ in
trainer or thread count.

compare() answers "did the new sweep do better?": status counts and the best run of
each, then for every symbol both sweeps swept, per value, the runs and the mean and
best of the metric in each, with the difference of the means (B - A). It warns when
the two differ in trainer command or in the runs' thread counts (env.threads): the
same config gives other metrics with another thread count.

Both return text; the scripts print it. They read run records as the report does
(ksweep.run.summary), never a possibly stale sweep_summary.json.
"""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from ksweep.analysis.analyze import DEFAULT_METRIC, load_records, parameter_effects, swept_axes, value_order
from ksweep.analysis.format import display_value, format_metric, short
from ksweep.analysis.ranking import (
    AnalyzeError,
    competition_ranks,
    finite,
    objectives_of,
    rank_key,
    rank_records,
)
from ksweep.analysis.report import status_counts
from ksweep.contract.records import read_json
from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.paths import find_sweeps
from ksweep.run.summary import collect_records, is_number, value_texts, varied_keys


def _params(record: dict, varied: list[str], texts: dict | None = None) -> str:
    texts = texts or {}
    return " ".join(f"{short(s)}={display_value(record.get(s), texts.get(s))}" for s in varied)


def train_command(sweep_dir: Path) -> str | None:
    """The sweep's TRAIN_COMMAND from sweep.json (None: the built-in trainer)."""
    return sweep_option(sweep_dir, "train_command")


def sweep_option(sweep_dir: Path, name: str) -> str | None:
    """An option the sweep kept in sweep.json (None when it was not given)."""
    manifest = read_json(SweepPaths(Path(sweep_dir)).manifest)
    options = manifest.get("options") if isinstance(manifest, dict) else None
    return (options.get(name) or None) if isinstance(options, dict) else None


def source_text(sweep_dir: Path) -> str:
    """What produced a sweep, short: its range file's name and its trainer."""
    manifest = read_json(SweepPaths(Path(sweep_dir)).manifest)
    manifest = manifest if isinstance(manifest, dict) else {}
    if manifest.get("range_file"):
        origin = Path(str(manifest["range_file"])).name
    elif manifest.get("promoted_from"):
        origin = "promoted"
    else:
        origin = "?"
    command = train_command(sweep_dir)
    return f"{origin} / {command or 'built-in'}"


def _threads(records: list[dict]) -> set:
    return {r["threads"] for r in records if is_number(r.get("threads"))}


def leaderboard(
    results_root: Path | str = "test_matrix_results",
    metric: str = DEFAULT_METRIC,
    mode: str | None = None,
    top: int = 10,
) -> str:
    """The best `top` completed runs of all sweeps under `results_root`, as a text table."""
    if top < 1:
        raise AnalyzeError(f"--top must be 1 or more, not {top}")
    sweeps = {path: collect_records(path) for path in find_sweeps(results_root)}
    sweeps = {path: records for path, records in sweeps.items() if records}
    if not sweeps:
        raise AnalyzeError(f"no sweep found under {results_root}")
    # With two metrics (METRIC=val_acc,total_time) the first ranks, as in each sweep's report.
    metric, mode = objectives_of([r for records in sweeps.values() for r in records], metric, mode)[0]
    entries = []
    for path, records in sweeps.items():
        texts = value_texts(path, varied_keys(records))
        records, axes = swept_axes(records)
        source = source_text(path)
        entries += [(path, record, axes, texts, source) for record in rank_records(records, metric, mode)]
    key = rank_key(metric, mode)
    entries.sort(key=lambda e: (key(e[1]), e[0].name))
    places = competition_ranks([e[1] for e in entries], metric)  # `2=`: a tie, as in the report
    shown = [m for m in ("val_acc", "test_acc") if m != metric]
    # Epochs, source and threads beside the metric: sweeps of 3 and of 25 epochs, of two
    # trainers or datasets, or of other thread counts are not comparable as they stand.
    headers = ["#", "sweep", "config", metric, *shown, "epochs", "total_time", "range file / trainer"]
    headers += ["threads", "swept symbols"]
    rows = [
        [place, path.name, r["config_file"], format_metric(metric, r[metric], unit=False)]
        + [format_metric(m, r.get(m), unit=False) for m in shown]
        + [r.get("epochs") if r.get("epochs") is not None else "-"]
        + [format_metric("total_time", r.get("total_time"), unit=False), source]
        + [r["threads"] if is_number(r.get("threads")) else "-", _params(r, axes, texts)]
        for place, (path, r, axes, texts, source) in zip(places, entries[:top], strict=False)
    ]
    title = (
        f"Leaderboard: top {len(rows)} of {len(entries)} ranked runs in {len(sweeps)} sweep(s) "
        f"under {results_root}, by {metric} ({mode}); accuracies in %, time in s"
    )
    align = ("right", "left", "left", *["right"] * (len(shown) + 3), "left", "right", "left")
    table = (
        tabulate(rows, headers, colalign=align, disable_numparse=True)
        if rows
        else "No completed run to rank."
    )
    notes = []
    if len({e[4] for e in entries[:top]}) > 1:
        notes.append("note: these rows come from different range files or trainers: compare with care")
    if len({e[1].get("threads") for e in entries[:top] if is_number(e[1].get("threads"))}) > 1:
        notes.append("note: these rows ran with different thread counts (env.threads): metrics depend on it")
    return f"{title}\n\n{table}\n" + "".join(f"{n}\n" for n in notes)


def _side(sweep_dir: Path, records: list[dict], metric: str, mode: str) -> list[str]:
    """One sweep's column of the comparison: counts, trainer, threads, then its best run."""
    texts = value_texts(sweep_dir, varied_keys(records))
    records, axes = swept_axes(records)
    ranked = rank_records(records, metric, mode)
    best = ranked[0] if ranked else None
    counts = ", ".join(f"{status} {n}" for status, n in status_counts(records).items())
    threads = ", ".join(str(t) for t in sorted(_threads(records))) or "n/a"
    head = [str(len(records)), counts, train_command(sweep_dir) or "built-in", threads]
    if best is None:
        return head + ["n/a", "n/a", "n/a", ""]
    return head + [
        best["config_file"],
        format_metric(metric, best[metric]),
        format_metric("test_acc", best.get("test_acc")),
        _params(best, axes, texts),
    ]


def _effects_table(symbol: str, effects_a, effects_b, metric: str, texts: dict | None = None) -> str:
    by_value: dict[str, list] = {}
    for column, table in ((1, effects_a), (2, effects_b)):
        for value, row in table.iterrows():
            by_value.setdefault(display_value(value, texts), [value, None, None])[column] = row
    headers = ["value", "A runs", "A mean", "A best", "B runs", "B mean", "B best", "B-A mean"]
    rows = []
    for text, (_value, a, b) in sorted(by_value.items(), key=lambda item: value_order(item[1][0])):
        cells = [text]
        for row in (a, b):
            cells += (
                ["0", "n/a", "n/a"]
                if row is None
                else [str(int(row["runs"]))]
                + [format_metric(metric, finite(row[c]), unit=False) for c in ("mean", "best")]
            )
        means = [finite(row["mean"]) if row is not None else None for row in (a, b)]
        delta = means[1] - means[0] if None not in means else None
        rows.append(cells + [_signed(metric, delta)])
    align = ("left", *["right"] * 7)
    return f"{symbol}\n" + tabulate(rows, headers, colalign=align, disable_numparse=True)


def _signed(metric: str, delta: float | None) -> str:
    if delta is None:
        return "n/a"
    return ("-" if delta < 0 else "+") + format_metric(metric, abs(delta), unit=False)


def _differences(sweep_a: Path, sweep_b: Path, records_a: list[dict], records_b: list[dict]) -> list[str]:
    """Warnings when A and B ran differently: another trainer, other thread counts."""
    lines = []
    command_a, command_b = train_command(sweep_a), train_command(sweep_b)
    if command_a != command_b:
        lines.append(
            f"warning: the sweeps ran different trainers (A: {command_a or 'built-in'}, "
            f"B: {command_b or 'built-in'}): their metrics are not comparable as they stand"
        )
    threads_a, threads_b = _threads(records_a), _threads(records_b)
    if threads_a and threads_b and (threads_a != threads_b or len(threads_a) > 1):
        shown = (", ".join(map(str, sorted(t))) for t in (threads_a, threads_b))
        lines.append(
            "warning: the runs differ in thread count (env.threads; A: {}, B: {}): the same config gives "
            "other metrics with another thread count, so part of B-A may come from JOBS".format(*shown)
        )
    return lines + [""] if lines else []


def compare(
    sweep_a: Path | str, sweep_b: Path | str, metric: str = DEFAULT_METRIC, mode: str | None = None
) -> str:
    """Two sweeps side by side: counts, best of each, and per shared swept symbol value the metric."""
    sweep_a, sweep_b = Path(sweep_a), Path(sweep_b)
    records_a, records_b = load_records(sweep_a), load_records(sweep_b)
    metric, mode = objectives_of(records_a + records_b, metric, mode)[0]  # the first of two ranks
    labels = ["runs", "by status", "trainer", "threads", "best run", f"best {metric}", "its test_acc"]
    labels.append("its swept symbols")
    side_a, side_b = _side(sweep_a, records_a, metric, mode), _side(sweep_b, records_b, metric, mode)
    columns = zip(labels, side_a, side_b, strict=True)
    lines = [
        f"Sweep comparison by {metric} ({mode}); accuracies in %",
        f"A: {sweep_a}",
        f"B: {sweep_b}",
        "",
        tabulate(list(columns), ["", "A", "B"], disable_numparse=True),
        "",
        *_differences(sweep_a, sweep_b, records_a, records_b),
    ]
    (records_a, varied_a), (records_b, varied_b) = swept_axes(records_a), swept_axes(records_b)
    shared = [s for s in varied_a if s in varied_b]
    only = sorted(set(varied_a) ^ set(varied_b))
    if shared:
        effects_a = parameter_effects(records_a, metric, mode, shared)
        effects_b = parameter_effects(records_b, metric, mode, shared)
        lines.append(f"Per value of the symbols both sweeps swept ({metric} over completed runs):")
        texts = value_texts(sweep_b, varied_keys(records_b))
        for symbol, given in value_texts(sweep_a, varied_keys(records_a)).items():
            texts[symbol] = {**texts.get(symbol, {}), **given}
        for symbol in shared:
            table = _effects_table(
                short(symbol), effects_a[symbol], effects_b[symbol], metric, texts.get(symbol)
            )
            lines += ["", table]
    else:
        lines.append("The sweeps share no swept symbol.")
    if only:
        lines += ["", "Swept in one sweep only: " + ", ".join(only)]
    if not any(is_number(r.get(metric)) for r in records_a + records_b):
        lines += ["", f"No run of either sweep has {metric}."]
    return "\n".join(lines) + "\n"
