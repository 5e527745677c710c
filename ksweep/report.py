"""The text of sweep_analysis.txt, section by section, from what analyze computed.

Pure formatting: every number arrives in a ReportContext, nothing is read here
except the last line of a failed run's output.log. The seed's headings and labels
are kept exactly (`Hyperparameter Sweep Analysis`, `Total configurations tested:`,
`BEST CONFIGURATION:`, `Config file:`, `Test Accuracy:`, `Final Sparsity:`,
`Training Time:`, `Hyperparameters:`, `TOP 10 CONFIGURATIONS:`, `FAILED TESTS:`),
so what users grep for still matches; the other sections are additions:

    header                    sweep dir, range file, counts by status, run time, ranking, units
    BEST CONFIGURATION        ranking metric and value, swept then non-default symbols, rerun command
    TOP 10 CONFIGURATIONS     a table: rank, metrics, swept symbols
    PARAMETER EFFECTS         per swept symbol and value: runs, mean / best / worst of the metric
    TRAIN/VAL GAP             of the best runs (a large gap is overfitting)
    FAILED TESTS              status, reason, last line of output.log
    UNFINISHED RUNS           running or interrupted: counted, never ranked
    FILES                     plots and best model kept

Accuracies are percentages (0-100); sparsity is stored as a fraction and shown in %.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from ksweep.records import FINISHED
from ksweep.records import STATUSES as KNOWN_STATUSES
from ksweep.summary import is_number, last_log_line

RULE = "=" * 60
SUBRULE = "-" * 40
TOP_N = 10
GAP_N = 5
# Headline metrics shown beside the ranking metric in tables, in this order.
SHOWN_METRICS = ("val_acc", "test_acc", "train_acc", "val_loss", "final_sparsity", "total_time")
UNFINISHED = ("running", "interrupted")


@dataclass
class ReportContext:
    """Everything the report shows; analyze.write_report fills it."""

    sweep_dir: Path
    records: list[dict]
    ranked: list[dict]
    varied: list[str]
    metric: str
    mode: str
    manifest: dict | None = None
    planned: int | None = None
    effects: dict = field(default_factory=dict)
    hyperparameters: list[str] = field(default_factory=list)
    plots: tuple[Path, ...] = ()
    best_model: Path | None = None


# --- formatting ---------------------------------------------------------------------


def display_value(value) -> str:
    """A symbol value as a person writes it: 0.001, 64, y, state; `(unset)` when inactive."""
    if hasattr(value, "item"):  # numpy / pandas scalars
        value = value.item()
    if value is None or value != value:
        return "(unset)"
    return str(value)


def format_metric(name: str, value, unit: bool = True) -> str:
    """A metric for people: accuracies `88.51%`, sparsity `70.0%`, times `1842.3s`, else 4 digits."""
    if value is None or not is_number(value) or value != value:
        return "n/a"
    suffix = "%" if unit else ""
    if name.endswith("_acc"):
        return f"{value:.2f}{suffix}"
    if "sparsity" in name:
        return f"{100 * value:.1f}{suffix}"
    if name.endswith("_time") or name.endswith("_seconds"):
        return f"{value:.1f}" + ("s" if unit else "")
    if isinstance(value, int):
        return str(value)
    if "loss" in name:
        return f"{value:.4f}"
    return f"{value:.4g}"


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def short(symbol: str) -> str:
    """A symbol's name without CONFIG_, for table headers."""
    return symbol.removeprefix("CONFIG_")


def status_counts(records: list[dict]) -> dict[str, int]:
    """Runs per status, known statuses in their schema order, unknown ones after."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    order = {status: i for i, status in enumerate(KNOWN_STATUSES)}
    return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


# --- sections -----------------------------------------------------------------------


def header_lines(ctx: ReportContext) -> list[str]:
    lines = ["Hyperparameter Sweep Analysis", RULE, "", f"Sweep directory: {ctx.sweep_dir}"]
    manifest = ctx.manifest or {}
    for label, key in (("Range file", "range_file"), ("Created", "created"), ("Git commit", "git_commit")):
        if manifest.get(key):
            lines.append(f"{label}: {manifest[key]}")
    lines.append(f"Total configurations tested: {len(ctx.records)}")
    counts = ", ".join(f"{status} {n}" for status, n in status_counts(ctx.records).items())
    lines.append(f"By status: {counts}")
    if ctx.planned is not None and ctx.planned > len(ctx.records):
        lines.append(f"Planned: {ctx.planned} ({ctx.planned - len(ctx.records)} not started)")
    times = [r["total_time"] for r in ctx.records if is_number(r.get("total_time"))]
    if times:
        total = sum(times)
        lines.append(
            f"Run time: {format_duration(total)} in total ({total:.1f}s), "
            f"{total / len(times):.1f}s mean per run"
        )
    choice = "highest" if ctx.mode == "max" else "lowest"
    lines.append(f"Ranked by: {ctx.metric} ({ctx.mode}: {choice} wins), completed runs only")
    if ctx.metric != "test_acc":
        lines.append("Test accuracy is shown beside the ranking, never used to choose (that would leak it).")
    lines.append("Units: accuracies in percent (0-100), sparsity in percent of weights, times in seconds.")
    return lines + [""]


def best_lines(ctx: ReportContext) -> list[str]:
    lines = ["BEST CONFIGURATION:", SUBRULE]
    if not ctx.ranked:
        return lines + [f"No completed run has a {ctx.metric} value: nothing to rank.", ""]
    best = ctx.ranked[0]
    lines += [
        f"Config file: {best['config_file']}",
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
        "Reproduce:",
        f"  {venv_python()} -m models.train --config {ctx.sweep_dir / best['run_dir'] / 'config.txt'} "
        f"--output-dir rerun_{ctx.sweep_dir.name}_{best['config_file']}",
    ]
    if ctx.best_model:
        lines.append(f"Best model: {ctx.best_model} -> {best['run_dir']}/best_model.pt")
    return lines + [""]


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
    rows = [
        [i, r["config_file"], *(format_metric(m, r.get(m), unit=False) for m in metrics)]
        + [display_value(r.get(s)) for s in ctx.varied]
        for i, r in enumerate(ctx.ranked[:TOP_N], 1)
    ]
    align = ["right", "left", *(["right"] * len(metrics)), *(["left"] * len(ctx.varied))]
    note = f"(by {ctx.metric}, {ctx.mode}; accuracies and sparsity in %, time in s)"
    table = tabulate(rows, headers, colalign=align, disable_numparse=True)
    return lines + ["", note, table, ""]


def effects_lines(ctx: ReportContext) -> list[str]:
    if not ctx.effects:
        return []
    best, worst = ("best", "worst")
    lines = [RULE, "PARAMETER EFFECTS:", SUBRULE]
    lines.append(
        f"{ctx.metric} per value of each swept symbol, over completed runs ({ctx.mode} is best);"
        " largest spread of means first."
    )
    for symbol, table in ctx.effects.items():
        rows = [
            [display_value(value), int(row["runs"]), int(row["ranked"])]
            + [format_metric(ctx.metric, _float(row[c]), unit=False) for c in ("mean", best, worst)]
            for value, row in table.iterrows()
        ]
        headers = ["value", "runs", "ranked", "mean", best, worst]
        spread = format_metric(ctx.metric, _spread(table), unit=False)
        lines += ["", f"{symbol}  (spread of means: {spread})"]
        lines.append(tabulate(rows, headers, colalign=("left", *["right"] * 5), disable_numparse=True))
    return lines + [""]


def _spread(table) -> float | None:
    means = table["mean"].dropna()
    return float(means.max() - means.min()) if len(means) else None


def _float(value) -> float | None:
    return None if value is None or value != value else float(value)


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
    failed = [r for r in ctx.records if r["status"] in FINISHED and not r["success"]]
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


def files_lines(ctx: ReportContext) -> list[str]:
    lines = [RULE, "FILES:", SUBRULE, f"Summary: {ctx.sweep_dir / 'sweep_summary.json'}"]
    lines += [f"Plot: {path}" for path in ctx.plots]
    if ctx.ranked:
        ranking = (
            "" if (ctx.metric, ctx.mode) == ("val_acc", "max") else f" METRIC={ctx.metric} MODE={ctx.mode}"
        )
        promote = f"make sweep-promote SWEEP={ctx.sweep_dir} TOP=3 EPOCHS=25{ranking}"
        lines.append(f"Train the best runs longer: {promote} && make sweep-run")
    return lines + [""]


def venv_python() -> str:
    """This interpreter (the project's .venv) as a user can type it: relative when below here."""
    relative = os.path.relpath(sys.executable)
    return sys.executable if relative.startswith("..") else relative


def build_report(ctx: ReportContext) -> str:
    """The whole of sweep_analysis.txt."""
    sections = (header_lines, best_lines, top_lines, effects_lines, gap_lines, failed_lines)
    lines = [line for section in (*sections, unfinished_lines, files_lines) for line in section(ctx)]
    return "\n".join(lines).rstrip("\n") + "\n"
