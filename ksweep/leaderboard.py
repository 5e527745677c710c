"""Across sweeps: a leaderboard of the best runs, and two sweeps side by side.

    python scripts/sweep_leaderboard.py [--results-dir DIR] [--metric M] [--mode max] [--top 10]
    python scripts/sweep_compare.py SWEEP_A SWEEP_B [--metric M] [--mode max]

leaderboard() ranks the completed runs of every sweep under the results folder by one
metric, as the report ranks one sweep, and prints the best as a table: sweep, run,
metric, test accuracy, and the run's swept symbols (each sweep's own).

compare() answers "did the new sweep do better?": status counts and the best run of
each, then for every symbol both sweeps swept, per value, the runs and the mean and
best of the metric in each, with the difference of the means (B - A).

Both return text; the scripts print it. They read run records as the report does
(ksweep.summary), never a possibly stale sweep_summary.json.
"""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from ksweep.analyze import (
    DEFAULT_METRIC,
    DEFAULT_MODE,
    AnalyzeError,
    check_ranking,
    load_records,
    parameter_effects,
    rank_records,
    value_order,
)
from ksweep.paths import find_sweeps
from ksweep.report import display_value, format_metric, short, status_counts
from ksweep.summary import collect_records, is_number, varied_keys


def _params(record: dict, varied: list[str]) -> str:
    return " ".join(f"{short(s)}={display_value(record.get(s))}" for s in varied)


def leaderboard(
    results_root: Path | str = "test_matrix_results",
    metric: str = DEFAULT_METRIC,
    mode: str = DEFAULT_MODE,
    top: int = 10,
) -> str:
    """The best `top` completed runs of all sweeps under `results_root`, as a text table."""
    if top < 1:
        raise AnalyzeError(f"--top must be 1 or more, not {top}")
    sweeps = {path: collect_records(path) for path in find_sweeps(results_root)}
    sweeps = {path: records for path, records in sweeps.items() if records}
    if not sweeps:
        raise AnalyzeError(f"no sweep found under {results_root}")
    check_ranking([r for records in sweeps.values() for r in records], metric, mode)
    entries = []
    for path, records in sweeps.items():
        varied = varied_keys(records)
        entries += [(path, record, varied) for record in rank_records(records, metric, mode)]
    sign = -1 if mode == "max" else 1
    entries.sort(key=lambda e: (sign * e[1][metric], e[0].name, e[1]["config_file"]))
    shown = [m for m in ("val_acc", "test_acc") if m != metric]
    # Epochs beside the metric: sweeps of 3 and of 25 epochs are not comparable as they stand.
    headers = ["#", "sweep", "config", metric, *shown, "epochs", "total_time", "swept symbols"]
    rows = [
        [i, path.name, r["config_file"], format_metric(metric, r[metric], unit=False)]
        + [format_metric(m, r.get(m), unit=False) for m in shown]
        + [r.get("epochs") if r.get("epochs") is not None else "-"]
        + [format_metric("total_time", r.get("total_time"), unit=False), _params(r, varied)]
        for i, (path, r, varied) in enumerate(entries[:top], 1)
    ]
    title = (
        f"Leaderboard: top {len(rows)} of {len(entries)} ranked runs in {len(sweeps)} sweep(s) "
        f"under {results_root}, by {metric} ({mode}); accuracies in %, time in s"
    )
    align = ("right", "left", "left", *["right"] * (len(shown) + 3), "left")
    table = (
        tabulate(rows, headers, colalign=align, disable_numparse=True)
        if rows
        else "No completed run to rank."
    )
    return f"{title}\n\n{table}\n"


def _side(records: list[dict], metric: str, mode: str) -> list[str]:
    """One sweep's column of the comparison: counts, then its best run."""
    ranked = rank_records(records, metric, mode)
    best = ranked[0] if ranked else None
    counts = ", ".join(f"{status} {n}" for status, n in status_counts(records).items())
    if best is None:
        return [str(len(records)), counts, "n/a", "n/a", "n/a", ""]
    return [
        str(len(records)),
        counts,
        best["config_file"],
        format_metric(metric, best[metric]),
        format_metric("test_acc", best.get("test_acc")),
        _params(best, varied_keys(records)),
    ]


def _effects_table(symbol: str, effects_a, effects_b, metric: str) -> str:
    by_value: dict[str, list] = {}
    for column, table in ((1, effects_a), (2, effects_b)):
        for value, row in table.iterrows():
            by_value.setdefault(display_value(value), [value, None, None])[column] = row
    headers = ["value", "A runs", "A mean", "A best", "B runs", "B mean", "B best", "B-A mean"]
    rows = []
    for text, (_value, a, b) in sorted(by_value.items(), key=lambda item: value_order(item[1][0])):
        cells = [text]
        for row in (a, b):
            cells += (
                ["0", "n/a", "n/a"]
                if row is None
                else [str(int(row["runs"]))]
                + [format_metric(metric, _number(row[c]), unit=False) for c in ("mean", "best")]
            )
        means = [_number(row["mean"]) if row is not None else None for row in (a, b)]
        delta = means[1] - means[0] if None not in means else None
        rows.append(cells + [_signed(metric, delta)])
    align = ("left", *["right"] * 7)
    return f"{symbol}\n" + tabulate(rows, headers, colalign=align, disable_numparse=True)


def _signed(metric: str, delta: float | None) -> str:
    if delta is None:
        return "n/a"
    return ("-" if delta < 0 else "+") + format_metric(metric, abs(delta), unit=False)


def _number(value) -> float | None:
    return float(value) if value is not None and value == value else None


def compare(
    sweep_a: Path | str, sweep_b: Path | str, metric: str = DEFAULT_METRIC, mode: str = DEFAULT_MODE
) -> str:
    """Two sweeps side by side: counts, best of each, and per shared swept symbol value the metric."""
    records_a, records_b = load_records(sweep_a), load_records(sweep_b)
    check_ranking(records_a + records_b, metric, mode)
    labels = ["runs", "by status", "best run", f"best {metric}", "its test_acc", "its swept symbols"]
    columns = zip(labels, _side(records_a, metric, mode), _side(records_b, metric, mode), strict=True)
    lines = [
        f"Sweep comparison by {metric} ({mode}); accuracies in %",
        f"A: {sweep_a}",
        f"B: {sweep_b}",
        "",
        tabulate(list(columns), ["", "A", "B"], disable_numparse=True),
        "",
    ]
    varied_a, varied_b = varied_keys(records_a), varied_keys(records_b)
    shared = [s for s in varied_a if s in varied_b]
    only = sorted(set(varied_a) ^ set(varied_b))
    if shared:
        effects_a = parameter_effects(records_a, metric, mode)
        effects_b = parameter_effects(records_b, metric, mode)
        lines.append(f"Per value of the symbols both sweeps swept ({metric} over completed runs):")
        for symbol in shared:
            lines += ["", _effects_table(symbol, effects_a[symbol], effects_b[symbol], metric)]
    else:
        lines.append("The sweeps share no swept symbol.")
    if only:
        lines += ["", "Swept in one sweep only: " + ", ".join(only)]
    if not any(is_number(r.get(metric)) for r in records_a + records_b):
        lines += ["", f"No run of either sweep has {metric}."]
    return "\n".join(lines) + "\n"
