"""The text of sweep_analysis.txt, section by section, from what analyze computed.

Pure formatting: every number arrives in a ReportContext, nothing is read here
except the last line of a failed run's output.log. The seed's headings and labels
are kept exactly (`Hyperparameter Sweep Analysis`, `Total configurations tested:`,
`BEST CONFIGURATION:`, `Config file:`, `Test Accuracy:`, `Final Sparsity:`,
`Training Time:`, `Hyperparameters:`, `TOP 10 CONFIGURATIONS:`, `FAILED TESTS:`),
so what users grep for still matches; the other sections are additions:

    header                    sweep dir, range file, trainer, threads, counts by status,
                              run time (summed and wall), peak memory, SEARCH/PRUNER and the epochs they
                              saved, ranking and its tie-break, units
    WARNINGS                  metrics a trainer wrote that cannot be right (fractions, strings)
    BEST CONFIGURATION        ranking value and ties, swept then non-default symbols, rerun command;
                              with repeats, the best config's mean ± sd and 95% CI first, and
                              the configs that cannot be told apart from it
    CONFIGS BY MEAN OVER SEEDS  with repeats: configs ranked by their mean, sd, CI, p vs the best
    TOP 10 CONFIGURATIONS     a table: place (`1=` for a tie), metrics, swept axes
    PARETO FRONT              with two metrics: the runs (with repeats the configs, by their
                              means) no other beats on both, by the first (ksweep.analysis.pareto)
    PARAMETER EFFECTS         per swept axis and value: runs, mean / best / worst of the metric
    TRAIN/VAL GAP             of the best runs (a large gap is overfitting)
    FAILED TESTS              status, reason, last line of output.log
    PRUNED RUNS               stopped early by a strategy: finished, never ranked
    UNFINISHED RUNS           pending, running or interrupted: counted, never ranked
    FILES                     summary, plots, best model, the promote hint

Units: accuracies are percentages (0-100); sparsity is a fraction (0-1) in tables,
as TARGET_SPARSITY is written, and a percentage in the BEST prose; config values
are shown as config.txt writes them (`3e-4`).
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from ksweep.analysis.format import display_value, format_metric, short
from ksweep.analysis.pareto import front_text
from ksweep.analysis.ranking import finite, spread_of_means
from ksweep.config import trainer
from ksweep.contract.project import command_line
from ksweep.contract.state import FAILURES, FINISHED, PRUNED, STATES
from ksweep.contract.sweepdir import SweepPaths
from ksweep.run.summary import default_mode, format_duration, is_number, last_log_line

RULE = "=" * 60
SUBRULE = "-" * 40
TOP_N = 10
GAP_N = 5
TIES_NAMED = 10
# Headline metrics shown beside the ranking metric in tables, in this order.
SHOWN_METRICS = ("val_acc", "test_acc", "train_acc", "val_loss", "final_sparsity", "total_time")
UNITS = "accuracies in %, sparsity as a fraction of weights (0-1), time in s"


@dataclass
class ReportContext:
    """Everything the report shows; analyze.write_report fills it."""

    sweep_dir: Path
    records: list[dict]
    ranked: list[dict]
    varied: list[str]  # the swept axes: CONFIG_ symbols and choice names (`optimizer`)
    metric: str
    mode: str
    manifest: dict | None = None
    planned: int | None = None
    effects: dict = field(default_factory=dict)
    hyperparameters: list[str] = field(default_factory=list)
    plots: tuple[Path, ...] = ()
    best_model: Path | None = None
    texts: dict = field(default_factory=dict)  # symbol → {value: text as config.txt writes it}
    tie_break: tuple[str, str] = ("val_loss", "min")
    best_ties: list[dict] = field(default_factory=list)
    places: list[str] = field(default_factory=list)  # TOP 10 places, `1=` for ties
    reproduce: str | None = None
    train_command: str | None = None
    warnings: list[str] = field(default_factory=list)
    search: dict = field(default_factory=dict)  # SEARCH/PRUNER sweeps: options, epochs trained and planned
    grouping: object = None  # ksweep.analysis.repeats.Grouping when configs ran with several seeds
    front: object = None  # ksweep.analysis.pareto.Front with two metrics (METRIC=val_acc,total_time)


# --- formatting ---------------------------------------------------------------------


def status_counts(records: list[dict]) -> dict[str, int]:
    """Runs per state, in ksweep.contract.state's order, unknown ones after."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    order = {status: i for i, status in enumerate(STATES)}
    return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def trainer_text(train_command: str | None) -> str:
    return trainer.describe(train_command)


def threads_text(records: list[dict]) -> str | None:
    """`2 per run`, or how the runs differ (`2 in 8 runs, 1 in 4`); None when no run recorded it."""
    counts: dict = {}
    for r in records:
        if is_number(r.get("threads")):
            counts[r["threads"]] = counts.get(r["threads"], 0) + 1
    if not counts:
        return None
    if len(counts) == 1:
        return f"{next(iter(counts))} per run"
    shown = ", ".join(f"{t} in {n} run(s)" for t, n in sorted(counts.items(), reverse=True))
    return f"runs DIFFER in thread count (env.threads): {shown}; results depend on it (JOBS sets it)"


def _wall_seconds(records: list[dict]) -> float | None:
    """First start to last end over the runs that record both (ksweep.run.summary's started_at/ended_at)."""
    spans = [
        (dt.datetime.fromisoformat(r["started_at"]), dt.datetime.fromisoformat(r["ended_at"]))
        for r in records
        if r.get("started_at") and r.get("ended_at")
    ]
    if not spans:
        return None
    return (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds()


# --- sections -----------------------------------------------------------------------


def header_lines(ctx: ReportContext) -> list[str]:
    lines = ["Hyperparameter Sweep Analysis", RULE, "", f"Sweep directory: {ctx.sweep_dir}"]
    manifest = ctx.manifest or {}
    for label, key in (("Range file", "range_file"), ("Created", "created")):
        if manifest.get(key):
            lines.append(f"{label}: {manifest[key]}")
    if manifest.get("git_commit"):
        dirty = f" + uncommitted changes (diff sha256 {manifest.get('git_diff_sha256')})"
        lines.append(f"Git commit: {manifest['git_commit']}" + (dirty if manifest.get("git_dirty") else ""))
    for extension in manifest.get("extended_from") or []:
        lines.append(f"Extended from: {extension.get('range_file') or extension.get('promoted_from')}")
    if manifest.get("promoted_from"):
        lines.append(f"Promoted from: {manifest['promoted_from']}")
    lines.append(f"Trainer: {trainer_text(ctx.train_command)}")
    threads = threads_text(ctx.records)
    if threads:
        lines.append(f"Threads: {threads}")
    finished = [r for r in ctx.records if r["status"] in FINISHED]
    lines.append(f"Total configurations tested: {len(finished)} finished of {len(ctx.records)} run folder(s)")
    counts = ", ".join(f"{status} {n}" for status, n in status_counts(ctx.records).items())
    lines.append(f"By status: {counts}")
    if ctx.planned is not None and ctx.planned > len(ctx.records):
        lines.append(f"Planned: {ctx.planned} ({ctx.planned - len(ctx.records)} not started)")
    times = [r["total_time"] for r in ctx.records if is_number(r.get("total_time"))]
    if times:
        total, wall = sum(times), _wall_seconds(ctx.records)
        wall_text = f"; sweep wall time {format_duration(wall)} (first start to last end)" if wall else ""
        lines.append(
            f"Run time: {format_duration(total)} summed over {len(times)} run(s), "
            f"{total / len(times):.1f} s mean per run{wall_text}"
        )
    peaks = [r for r in ctx.records if is_number(r.get("peak_rss_mb"))]
    if peaks:
        top = max(peaks, key=lambda r: r["peak_rss_mb"])
        middle = sorted(r["peak_rss_mb"] for r in peaks)[len(peaks) // 2]
        lines.append(
            f"Peak memory (resident, per run): {top['peak_rss_mb']:,.0f} MB at most ({top['config_file']}), "
            f"median {middle:,.0f} MB"
        )
    lines += search_lines(ctx.search)
    lines += noise_line(ctx)
    choice = "highest" if ctx.mode == "max" else "lowest"
    why = "the default for this metric" if ctx.mode == default_mode(ctx.metric) else "as asked (MODE)"
    lines.append(f"Ranked by: {ctx.metric} ({ctx.mode}: {choice} wins; {why}), completed runs only")
    lines.append(f"Ties: {tie_rule(ctx)}")
    if ctx.front is not None:
        lines.append(f"Also: {front_text(ctx.front)} (see PARETO FRONT)")
    if ctx.metric.startswith("test_"):
        lines.append(
            f"WARNING: ranked by {ctx.metric}: the test set chose the winner, so its test figures are "
            "optimistic (rank by val_acc to keep the test set out of the choice)."
        )
    else:
        lines.append("Test accuracy is shown beside the ranking, never used to choose (that would leak it).")
    lines.append(f"Units: {UNITS}; config values as config.txt writes them.")
    return lines + [""]


def search_lines(search: dict) -> list[str]:
    if not search:
        return []
    lines = []
    if search["search"] != "grid":
        samples = f", SAMPLES={search['samples']}" if search.get("samples") else ""
        lines.append(
            f"Search: {search['search']} (Optuna, SEARCH_SEED={search.get('search_seed') or 0}{samples})"
        )
    else:
        lines.append("Search: grid (every config)")
    if search["pruner"] != "none":
        rung = (
            f", keeping 1/{search.get('pruner_reduction') or 3} at each rung"
            if search["pruner"] == "asha"
            else ""
        )
        lines.append(f"Pruner: {search['pruner']}, from epoch {search.get('pruner_min_epochs') or 1}{rung}")
    trained, planned = search["trained"], search["planned_epochs"]
    if planned:
        saved = planned - trained
        lines.append(
            f"Epochs: {trained} trained of {planned} had every run gone to its end "
            f"({saved} saved, {100 * saved / planned:.0f}%)"
        )
    return lines


def tie_rule(ctx: ReportContext) -> str:
    second, second_mode = ctx.tie_break
    better = "lower" if second_mode == "min" else "higher"
    return (
        f"equal {ctx.metric} is a tie (marked `=`); within one, the {better} {second} ranks first, "
        "then the lower config number"
    )


def warning_lines(ctx: ReportContext) -> list[str]:
    if not ctx.warnings:
        return []
    return [RULE, "WARNINGS:", SUBRULE, *(f"warning: {w}" for w in ctx.warnings), ""]


def best_lines(ctx: ReportContext) -> list[str]:
    lines = ["BEST CONFIGURATION:", SUBRULE]
    if not ctx.ranked:
        return lines + [f"No completed run has a {ctx.metric} value: nothing to rank.", ""]
    best = ctx.grouping.groups[0].runs[0] if ctx.grouping else ctx.ranked[0]
    lines += group_best_lines(ctx)
    lines += [
        f"Config file: {best['config_file']}{'' if ctx.grouping else _ties_text(ctx)}",
        f"Run directory: {best['run_dir']}",
        f"Ranked by {ctx.metric} ({ctx.mode}): {format_metric(ctx.metric, best.get(ctx.metric))}",
        f"Validation Accuracy: {format_metric('val_acc', best.get('val_acc'))}",
        f"Test Accuracy: {_test_acc(best)}",
        f"Final Sparsity: {format_metric('final_sparsity', best.get('final_sparsity'))}",
        f"Training Time: {format_metric('total_time', best.get('total_time'))}",
        "",
        "Hyperparameters:",
        *(f"  {line}" for line in ctx.hyperparameters or ["(no symbol differs from the defaults)"]),
        "",
        "Reproduce: from any directory"
        + (
            ", with the thread count it ran with (same threads, same metrics)"
            if "KSWEEP_THREADS=" in (ctx.reproduce or "")
            else " (its trainer recorded no thread count)"
        ),
        f"  {ctx.reproduce}",
    ]
    if ctx.best_model:
        lines.append(f"Best model: {ctx.best_model} -> {best['run_dir']}/best_model.pt")
    return lines + [""]


def _interval_text(group) -> str:
    sd = f" ± {group.sd:.2f}" if group.sd is not None else ""
    ci = f", 95% CI {group.interval_text()}" if group.n > 1 else ", no interval (one run)"
    return f"{group.mean:.2f}{sd} (mean ± sd of {group.n} seed{'s' * (group.n != 1)}){ci}"


def _group_name(ctx: ReportContext, group) -> str:
    values = [
        f"{short(a)}={display_value(v, ctx.texts.get(a))}"
        for a, v in zip(ctx.grouping.axes, group.key, strict=True)
    ]
    return " ".join(values) or group.runs[0]["config_file"]


def group_best_lines(ctx: ReportContext) -> list[str]:
    """With repeats: the best config by its mean over seeds, and those it cannot be told from."""
    grouping = ctx.grouping
    if not grouping:
        return []
    best = grouping.groups[0]
    lines = [f"Best config over seeds: {_group_name(ctx, best)}: {ctx.metric} {_interval_text(best)}"]
    tied = [g for g in grouping.groups[1:] if g.ties(best)]
    if tied:
        names = "; ".join(_group_name(ctx, g) for g in tied[:TIES_NAMED])
        lines.append(
            f"Tied with it at the same mean: {len(tied)} config(s): {names} (first by config number)"
        )
    others = [g for g in grouping.best_set if g is not best and g not in tied]
    if others:
        names = "; ".join(_group_name(ctx, g) for g in others[:TIES_NAMED])
        lines.append(
            f"Cannot be told apart from it at 95% (Welch's t-test, p >= 0.05): "
            f"{len(others)} config(s): {names}"
        )
    elif len(grouping.groups) > 1:
        lines.append("Every other config is behind it at 95% (Welch's t-test, p < 0.05).")
    if grouping.separate_top_two:
        lines.append(
            f"About {grouping.separate_top_two} more seeds per config would separate the top two "
            "(t-test at 5%, 80% power, if their difference and spread hold)."
        )
    return lines + ["Its best seed:"]


def groups_lines(ctx: ReportContext) -> list[str]:
    grouping = ctx.grouping
    if not grouping:
        return []
    lines = [RULE, "CONFIGS BY MEAN OVER SEEDS:", SUBRULE]
    lines.append(
        f"{ctx.metric}: mean ± sd over each config's seeds, 95% confidence interval of the mean "
        "(Student's t); `=`: the same mean as another config; `≈`: cannot be told apart from the best "
        "(Welch's t-test, p >= 0.05)."
    )
    headers = ["#", "mean", "sd", "95% CI", "seeds", "p vs best", *(short(a) for a in grouping.axes), "runs"]
    rows = []
    for group in grouping.groups[:TOP_N]:
        rows.append(
            [
                group.place,
                f"{group.mean:.2f}",
                f"{group.sd:.2f}" if group.sd is not None else "-",
                group.interval_text(),
                str(group.n),
                f"{group.p_value:.3f}" if group.p_value is not None else "-",
                *(display_value(v, ctx.texts.get(a)) for a, v in zip(grouping.axes, group.key, strict=True)),
                ", ".join(r["config_file"] for r in group.runs),
            ]
        )
    return lines + ["", tabulate(rows, headers, disable_numparse=True), ""]


def noise_line(ctx: ReportContext) -> list[str]:
    """Without repeats: what one validation example is worth, so that small gaps are read as noise."""
    sizes = {r.get("val_size") for r in ctx.ranked if is_number(r.get("val_size"))}
    if ctx.grouping or len(sizes) != 1 or not ctx.metric.endswith("acc"):
        return []
    size = sizes.pop()
    return [
        f"Noise: the validation split has {size} examples, so one example is {100 / size:.2f} points of "
        f"accuracy: differences under that are noise (REPEATS=k runs each config with k seeds)."
    ]


def _ties_text(ctx: ReportContext) -> str:
    if not ctx.best_ties:
        return ""
    names = [r["config_file"] for r in ctx.best_ties]
    shown = ", ".join(names[:TIES_NAMED]) + (", ..." if len(names) > TIES_NAMED else "")
    score = format_metric(ctx.metric, ctx.ranked[0][ctx.metric], unit=False)
    second, _ = ctx.tie_break
    return f" (tied with {len(names)} other(s) at {score}: {shown}; chosen by {second}, then config number)"


def _test_acc(record: dict) -> str:
    value = record.get("test_acc")
    return format_metric("test_acc", value) if is_number(value) else "n/a (no test split)"


def _metric_columns(ctx: ReportContext) -> list[str]:
    present = [m for m in SHOWN_METRICS if any(is_number(r.get(m)) for r in ctx.ranked)]
    return [ctx.metric] + [m for m in present if m != ctx.metric]


def top_lines(ctx: ReportContext) -> list[str]:
    lines = [RULE, "TOP 10 CONFIGURATIONS:", SUBRULE]
    if not ctx.ranked:
        return lines + ["No ranked runs.", ""]
    metrics = _metric_columns(ctx)
    headers = ["#", "config", *metrics, *(short(s) for s in ctx.varied)]
    places = ctx.places or [str(i) for i in range(1, TOP_N + 1)]
    rows = [
        [place, r["config_file"], *(format_metric(m, r.get(m), unit=False) for m in metrics)]
        + [display_value(r.get(s), ctx.texts.get(s)) for s in ctx.varied]
        for place, r in zip(places, ctx.ranked[:TOP_N], strict=False)
    ]
    align = ["right", "left", *(["right"] * len(metrics)), *(["left"] * len(ctx.varied))]
    note = f"(by {ctx.metric}, {ctx.mode}; `=` marks a tie; {UNITS})"
    tied = sum(1 for p in places[: len(rows)] if p.endswith("="))
    if tied:
        second, _ = ctx.tie_break
        note += f"\n({tied} of these {len(rows)} share a score with another run; by {second}, then config)"
    table = tabulate(rows, headers, colalign=align, disable_numparse=True)
    return lines + ["", note, table, ""]


def front_lines(ctx: ReportContext) -> list[str]:
    """With two metrics: the points of their Pareto front, best first by the first metric."""
    front = ctx.front
    if front is None:
        return []
    metrics = [metric for metric, _ in front.objectives]
    unit = "config (each by its means over seeds)" if front.by_config else "run"
    lines = [RULE, "PARETO FRONT:", SUBRULE]
    lines.append(
        f"{front_text(front)}: no other completed {unit} is at least as good on both and better on one."
    )
    if any(metric.startswith("test_") for metric in metrics[1:]):
        lines.append(f"WARNING: the front uses {metrics[1]}: the test set takes part in the choice.")
    if not front.front:
        return lines + [f"No completed run has both {metrics[0]} and {metrics[1]}.", ""]
    axes = front.axes if front.by_config else ctx.varied
    rows = []
    for number, point in enumerate(front.front, 1):
        values = [format_metric(metric, point[metric], unit=False) for metric in metrics]
        swept = [display_value(point.get(axis), ctx.texts.get(axis)) for axis in axes]
        if front.by_config:
            runs = ", ".join(run["config_file"] for run in point["runs"])
            rows.append([str(number), *values, str(point["n"]), *swept, runs])
        else:
            rows.append([str(number), point["config_file"], *values, *swept])
    names = [short(axis) for axis in axes]
    headers = (
        ["#", *metrics, "seeds", *names, "runs"] if front.by_config else ["#", "config", *metrics, *names]
    )
    swept_align = ["left"] * len(names)
    align = (
        ["right", "right", "right", "right", *swept_align, "left"]
        if front.by_config
        else ["right", "left", "right", "right", *swept_align]
    )
    note = f"(best {metrics[0]} first; {UNITS})"
    return lines + ["", note, tabulate(rows, headers, colalign=align, disable_numparse=True), ""]


def effects_lines(ctx: ReportContext) -> list[str]:
    if not ctx.effects:
        return []
    lines = [RULE, "PARAMETER EFFECTS:", SUBRULE]
    lines.append(
        f"{ctx.metric} per value of each swept axis, over completed "
        + ("configs, each by its mean over seeds" if ctx.grouping else "runs")
        + f" ({ctx.mode} is best);"
        " largest spread of means first ((unset) rows are not counted in the spread)."
    )
    for axis, table in ctx.effects.items():
        rows = [
            [display_value(value, ctx.texts.get(axis)), int(row["runs"]), int(row["ranked"])]
            + [format_metric(ctx.metric, finite(row[c]), unit=False) for c in ("mean", "best", "worst")]
            for value, row in table.iterrows()
        ]
        headers = ["value", effects_unit(ctx), "ranked", "mean", "best", "worst"]
        spread = format_metric(ctx.metric, spread_of_means(table), unit=False)
        lines += ["", f"{short(axis)}  (spread of means: {spread})"]
        lines.append(tabulate(rows, headers, colalign=("left", *["right"] * 5), disable_numparse=True))
    return lines + [""]


def effects_unit(ctx: ReportContext) -> str:
    """What a parameter-effects row counts: runs, or with repeats configs (each by its mean)."""
    return "configs" if ctx.grouping else "runs"


def gap_lines(ctx: ReportContext) -> list[str]:
    top = [r for r in ctx.ranked[:GAP_N] if is_number(r.get("train_acc")) and is_number(r.get("val_acc"))]
    if not top:
        return []
    rows = [
        [
            r["config_file"],
            *(format_metric(k, r.get(k), unit=False) for k in ("train_acc", "val_acc")),
            f"{r['train_acc'] - r['val_acc']:.2f}",
            format_metric("test_acc", r.get("test_acc"), unit=False),
        ]
        for r in top
    ]
    headers = ["config", "train_acc", "val_acc", "gap", "test_acc"]
    return [
        RULE,
        "TRAIN/VAL GAP OF THE BEST RUNS:",
        SUBRULE,
        "Last-epoch train accuracy minus final validation accuracy, in points; a large gap is overfitting.",
        tabulate(rows, headers, colalign=("left", "right", "right", "right", "right"), disable_numparse=True),
        "",
    ]


def failed_lines(ctx: ReportContext) -> list[str]:
    failed = [r for r in ctx.records if r["status"] in FAILURES]
    lines = [RULE, "FAILED TESTS:", SUBRULE]
    if not failed:
        return lines + ["None.", ""]
    lines.append(f"{len(failed)} run(s) did not complete.")
    lines += _reason_counts(failed)
    for r in failed:
        lines += [
            f"{r['config_file']}  {r['status']}  ({r['run_dir']})",
            f"   Reason: {r.get('error') or 'not recorded'}",
            f"   Last log line: {_log_line(ctx.sweep_dir / r['run_dir'], r.get('error'))}",
        ]
    return lines + [""]


def _log_line(run_dir: Path, error: str | None) -> str:
    line = last_log_line(run_dir)
    if line is None:
        return "(no output.log)"
    # Trainers often print the error they record: say so rather than repeat a long line.
    return "(the reason, as above)" if error and error in line else line


def _reason_counts(failed: list[dict]) -> list[str]:
    """How many runs failed for each reason, most common first: a sweep's failures often share one."""
    if len(failed) < 2:
        return []
    counts: dict[str, int] = {}
    for r in failed:
        reason = f"{r['status']}: {r.get('error') or 'not recorded'}"[:100]
        counts[reason] = counts.get(reason, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ["By reason:", *(f"  {n:5d}  {reason}" for reason, n in ranked), ""]


def pruned_lines(ctx: ReportContext) -> list[str]:
    pruned = [r for r in ctx.records if r["status"] == PRUNED]
    if not pruned:
        return []
    lines = [RULE, "PRUNED RUNS (stopped early: finished, never ranked):", SUBRULE]
    for r in pruned:
        lines.append(
            f"{r['config_file']}  pruned after {r['epochs']} epoch(s): "
            f"{r.get('error') or 'no reason recorded'}  ({r['run_dir']})"
        )
    return lines + [""]


def unfinished_lines(ctx: ReportContext) -> list[str]:
    unfinished = [r for r in ctx.records if r["status"] not in FINISHED]
    if not unfinished:
        return []
    lines = [RULE, "UNFINISHED RUNS (counted, not ranked):", SUBRULE]
    for r in unfinished:
        lines += [
            f"{r['config_file']}  {r['status']} after {r['epochs']} epoch(s)  ({r['run_dir']})",
            f"   Last log line: {last_log_line(ctx.sweep_dir / r['run_dir']) or '(no output.log)'}",
        ]
    return lines + [""]


def promote_epochs(ranked: list[dict]) -> int:
    """What the promote hint suggests: three times the epochs the sweep's best runs trained (at least +1)."""
    trained = max((r["epochs"] for r in ranked[:TOP_N] if is_number(r.get("epochs"))), default=0)
    return max(3 * trained, trained + 1)


def files_lines(ctx: ReportContext) -> list[str]:
    summary = SweepPaths(ctx.sweep_dir).summary
    lines = [RULE, "FILES:", SUBRULE, f"Summary: {summary}"]
    if not any(is_number(r.get("test_acc")) for r in ctx.records):
        lines.append(
            "  (no run has test_acc: that column is all null, so pandas reads it as text; "
            "use ksweep.analysis.analyze.load_sweep, or pd.to_numeric(df['test_acc']), before nlargest)"
        )
    lines += [f"Plot: {path}" for path in ctx.plots]
    if ctx.ranked:
        ranking = {} if ctx.metric == "val_acc" else {"metric": ctx.metric}
        if ctx.mode != default_mode(ctx.metric):
            ranking["mode"] = ctx.mode
        epochs = promote_epochs(ctx.ranked)
        sweep = shlex.quote(str(ctx.sweep_dir))
        promote = command_line("sweep-promote", sweep=sweep, top=3, epochs=epochs, **ranking)
        lines.append(f"Train the best runs longer: {promote} && {command_line('sweep-run')}")
    return lines + [""]


def build_report(ctx: ReportContext) -> str:
    """The whole of sweep_analysis.txt."""
    sections = (header_lines, warning_lines, best_lines, groups_lines, top_lines, front_lines, effects_lines)
    sections += (gap_lines,)
    sections += (failed_lines,)
    lines = [
        line for section in (*sections, pruned_lines, unfinished_lines, files_lines) for line in section(ctx)
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
