"""The analyze stage: a sweep's runs → ranking, parameter effects, report, plots.

    python scripts/analyze_sweep.py [--sweep DIR] [--metric val_acc] [--mode max]
    make sweep-analyze [SWEEP=dir] [METRIC=val_loss]      # a loss ranks lowest first
    make sweep-analyze METRIC=val_acc,total_time          # ranked by val_acc, plus a Pareto front

It reads only what the runner left in the sweep directory (see ksweep.run.summary for
the run record) and writes beside it:

    sweep_summary.json     a JSON list, one flat record per run (the seed's pandas snippet reads it)
    sweep_analysis.txt     the seed's report (BEST CONFIGURATION, TOP 10, FAILED TESTS) plus
                           header counts, parameter effects, train/val gap, unfinished runs
    sweep_report.html      the same as one self-contained page (ksweep.analysis.html_report)
    learning_curves.png    the metric per epoch of the top 5 runs
    parameter_effects.png  the metric against each swept axis
    pareto_front.png       with two metrics: every run against both, the front highlighted
    best_model.pt          a relative symlink to the best run's checkpoint, when it kept one

A plot or link this analysis does not write is removed, so none is left from an
earlier one.

Ranking: runs are ranked by one numeric metric of the records (`val_acc` by default).
The mode is max or min; without one, losses and times rank lowest first and every
other metric highest first (ksweep.run.summary.default_mode). Only completed runs with a
value are ranked: a running, interrupted, pruned or failed run is counted and
listed, never ranked. Ties on the metric are reported as ties ("tied with 7 others")
and broken the same way every time: the lower val_loss (the higher val_acc when
ranking by val_loss), then the lower config number. The default chooses on
validation, not test: choosing on the test set would leak it, so test accuracy is
shown beside the ranking, never used for it.

Two metrics (METRIC=val_acc,total_time, MODE=max,min or each mode by default): the first
ranks, as above, and the report adds their Pareto front (ksweep.analysis.pareto): the
completed runs, or with repeats the configs by their means, that no other beats on both.

The analyzer knows symbols and metrics, nothing about what they mean. Swept axes are
the symbols sweep.json names as axes plus those whose value differs between runs'
config.txt; a choice swept as y|n members (OPTIMIZER_SELECT_SGD, _ADAMW) is one axis
named after the choice (`optimizer`: sgd / adamw). The best run's other
hyperparameters are those that differ from the Kconfig defaults (as savedefconfig
would write them).

In a notebook:

    >>> from ksweep.analysis.analyze import load_sweep
    >>> df = load_sweep("test_matrix_results/sweep_20250101_120000")
    >>> df.groupby("CONFIG_LEARNING_RATE")["val_acc"].mean()

The API: write_report(sweep, metric, mode) -> ReportResult does all of the above;
load_sweep(sweep) -> DataFrame; rank_records, tied_with and parameter_effects are the
pure core. Across sweeps: ksweep.analysis.leaderboard (leaderboard, compare); after a quick
sweep: ksweep.analysis.promote (promote). User errors raise AnalyzeError, one line each.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ksweep.analysis import plots as plotting
from ksweep.analysis import report
from ksweep.analysis.format import display_value, short
from ksweep.analysis.html_report import write_html
from ksweep.analysis.pareto import Front, front_text, pareto_front
from ksweep.analysis.plots import PLOT_FILES
from ksweep.analysis.ranking import (
    AnalyzeError,
    available_metrics,
    competition_ranks,
    objectives_of,
    rank_records,
    spread_of_means,
    tie_break,
    tied_with,
)
from ksweep.analysis.repeats import group_runs, has_repeats
from ksweep.config import trainer
from ksweep.config.kconf import non_default_values
from ksweep.contract.project import PROJECT_ROOT, command_line, display
from ksweep.contract.records import config_values, read_json, write_atomic
from ksweep.contract.sweepdir import SweepPaths
from ksweep.launchers.command import run_argv
from ksweep.run.summary import (
    CONFIG_PREFIX,
    DEFAULT_METRIC,
    METRIC_KEYS,
    MODES,
    collect_records,
    default_mode,
    is_number,
    value_texts,
    varied_keys,
    write_summary,
)

if TYPE_CHECKING:  # pandas is imported lazily: the runner's summary path must not pay for it
    import pandas as pd  # pandas: loaded only when a frame is built (import ksweep stays light)

__all__ = ["DEFAULT_METRIC", "MODES", "default_mode"]  # re-exported: ranking defaults live in summary

_CHOICE_MEMBER = re.compile(r"^CONFIG_([A-Z0-9_]+?)_SELECT_([A-Z0-9_]+)$")

NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # a full disk, a quota, a file-size limit


@dataclass(frozen=True)
class ReportResult:
    """What write_report wrote: the report's path, the best record (None when nothing ranks)."""

    path: Path
    best: dict | None
    metric: str = DEFAULT_METRIC
    mode: str = "max"
    plots: tuple[Path, ...] = ()
    best_model: Path | None = None
    records: list[dict] = field(default_factory=list, repr=False)
    ties: list[dict] = field(default_factory=list, repr=False)
    grouping: object = field(default=None, repr=False)  # with repeats: configs ranked by their mean
    objectives: list[tuple[str, str]] = field(default_factory=list)  # (metric, mode) each; the first ranks
    front: Front | None = field(default=None, repr=False)  # with two metrics: their Pareto front


# --- records and frames -------------------------------------------------------------


def load_records(sweep_dir: Path | str) -> list[dict]:
    """The records of a sweep; AnalyzeError when it is not a directory or holds no run."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise AnalyzeError(f"{sweep_dir}: no such sweep directory")
    records = collect_records(sweep_dir)
    if not records:
        raise AnalyzeError(f"{sweep_dir}: empty sweep (no run directory with training_metrics.json)")
    return records


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """A pandas DataFrame of records: one row per run, metrics and varied symbols as columns."""
    import pandas as pd  # pandas: loaded only when a frame is built (import ksweep stays light)

    frame = pd.DataFrame.from_records(records)
    for key in {*METRIC_KEYS, *available_metrics(records)}:
        # An all-null column would be object dtype; numeric keeps nlargest and mean working.
        frame[key] = pd.to_numeric(frame[key], errors="coerce") if key in frame else float("nan")
    for symbol in varied_keys(records):
        # Integer symbols unset in some runs would turn float (32.0); nullable Int64 keeps 32.
        values = [r[symbol] for r in records if r.get(symbol) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            frame[symbol] = frame[symbol].astype("Int64")
    return frame


def load_sweep(sweep_dir: Path | str) -> pd.DataFrame:
    """The one-call notebook API: a DataFrame, one row per run, varied params and final metrics."""
    return runs_frame(load_records(sweep_dir))


# --- swept axes -----------------------------------------------------------------------


def swept_axes(records: list[dict]) -> tuple[list[dict], list[str]]:
    """(records with one key per swept choice, the swept axes in display order).

    A choice swept as y|n members is one axis named after the choice (`optimizer`),
    its value the selected member (`sgd`), where every run selects at most one of the
    varied members; other varied symbols are axes as they are.
    """
    symbols = varied_keys(records)
    groups: dict[str, list[tuple[str, str]]] = {}
    for symbol in symbols:
        match = _CHOICE_MEMBER.match(symbol)
        if match and {r.get(symbol) for r in records} <= {"y", "n", None}:
            groups.setdefault(match.group(1), []).append((symbol, match.group(2)))
    choices = {}
    for choice, members in groups.items():
        picked = [[m for s, m in members if r.get(s) == "y"] for r in records]
        if len(members) > 1 and all(len(p) <= 1 for p in picked):
            choices[choice.lower()] = (members, [p[0].lower() if p else None for p in picked])
    if not choices:
        return records, symbols
    out = [dict(r) for r in records]
    grouped = {s for members, _ in choices.values() for s, _ in members}
    for name, (_, picked) in choices.items():
        for record, value in zip(out, picked, strict=True):
            record[name] = value
    axes = [s for s in symbols if s not in grouped] + list(choices)
    return out, sorted(axes, key=lambda a: short(a).lower())


# --- ranking ------------------------------------------------------------------------


# --- parameter effects --------------------------------------------------------------


def value_order(value) -> tuple:
    """Sort key for symbol values: numbers in numeric order, then text, then unset (inactive)."""
    import pandas as pd  # pandas: loaded only when a frame is built (import ksweep stays light)

    if pd.isna(value):
        return (2, 0, "")
    if is_number(value) or hasattr(value, "item"):
        return (0, float(value), "")
    return (1, 0, str(value))


def _python_value(value):
    """A plain Python value (None for missing) from a pandas index entry: what the summary holds."""
    import pandas as pd  # pandas: loaded only when a frame is built (import ksweep stays light)

    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def parameter_effects(
    records: list[dict], metric: str = DEFAULT_METRIC, mode: str | None = None, axes: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Per swept axis, a DataFrame indexed by value: runs, ranked, mean, best, worst of `metric`.

    `runs` counts every run with that value; the statistics use only ranked runs
    (completed, with the metric). `axes` defaults to swept_axes(records). Axes come
    most influential first: the largest spread_of_means.
    """
    import pandas as pd  # pandas: loaded only when a frame is built (import ksweep stays light)

    mode = mode or default_mode(metric)
    if axes is None:
        records, axes = swept_axes(records)
    frame = runs_frame(records)
    ok = frame[frame["success"].astype(bool) & frame[metric].notna()]
    best, worst = ("max", "min") if mode == "max" else ("min", "max")
    effects = {}
    for axis in axes:
        runs = frame.groupby(axis, dropna=False).size().rename("runs")
        stats = ok.groupby(axis, dropna=False)[metric].agg(["count", "mean", best, worst])
        stats.columns = ["ranked", "mean", "best", "worst"]
        table = pd.concat([runs, stats], axis=1)
        table["ranked"] = table["ranked"].fillna(0).astype(int)
        table = table.loc[sorted(table.index, key=value_order)]
        table.index = pd.Index([_python_value(v) for v in table.index], dtype=object, name=axis)
        effects[axis] = table
    return dict(sorted(effects.items(), key=lambda item: (-(spread_of_means(item[1]) or -1.0), item[0])))


# --- the best run's hyperparameters and its rerun command ---------------------------


def hyperparameter_lines(sweep_dir: Path, best: dict, varied: list[str], texts: dict) -> list[str]:
    """The best run's swept symbols, then its other symbols that differ from the defaults.

    When the project's Kconfig cannot be read the second part is replaced by a line
    saying why (and a warning on stderr): never silently dropped."""

    swept, members = [], set()
    for name in varied:
        value = display_value(best.get(name), texts.get(name))
        if name.startswith(CONFIG_PREFIX):
            swept.append(f"{name}={value}")
        else:  # a choice axis: the member symbol that selects it, as a .config line
            prefix = f"{CONFIG_PREFIX}{name.upper()}_SELECT_"
            members.add(prefix)
            swept.append(
                f"{prefix}{value.upper()}=y  # {name}: {value}" if best.get(name) else f"# {name}: {value}"
            )
    config = SweepPaths(sweep_dir).run(best["run_dir"]).config
    try:
        differing = non_default_values(config)
    except Exception as error:  # kconfiglib raises its own errors and OSError; say which, go on
        message = f"could not compare {config} with the Kconfig defaults: {error}".splitlines()[0]
        print(f"warning: {message}", file=sys.stderr)
        fixed = [f"# ({message})"]
    else:
        fixed = [
            f"{name}={value}"
            for name, value in differing.items()
            if name not in varied and not name.startswith(tuple(members))
        ]
        fixed = ["# fixed, different from the Kconfig default:", *fixed] if fixed else []
    return (["# swept in this sweep:", *swept] if swept else []) + fixed


def reproduce_command(sweep_dir: Path, best: dict, train_command: str | None, cwd: str | None = None) -> str:
    """The command that reruns `best` as it ran, typed from any directory: the project root (a
    TRAIN_COMMAND's: `cwd`, where the sweep was started), the thread count it had
    (KSWEEP_THREADS=env.threads), the sweep's trainer with its arguments (run_argv), absolute paths."""
    config = SweepPaths(sweep_dir.resolve()).run(best["run_dir"]).config
    output = Path("/tmp") / "ksweep_rerun" / f"{sweep_dir.resolve().name}_{best['config_file']}"
    try:
        command = shlex.split(train_command) if train_command else trainer.command()
        argv = shlex.join(run_argv(command, str(config), str(output)))
    except (ValueError, OSError):  # a record edited by hand, a config gone: the command as given
        argv = f"{train_command} --config {shlex.quote(str(config))} --output-dir {shlex.quote(str(output))}"
    threads = f"KSWEEP_THREADS={best['threads']} " if is_number(best.get("threads")) else ""
    # A trainer may expect its output folder to exist, as the runner makes it for a run.
    where = shlex.quote(str(cwd if train_command and cwd else PROJECT_ROOT))
    return f"cd {where} && mkdir -p {shlex.quote(str(output))} && {threads}{argv}"


# --- checks of what trainers wrote ----------------------------------------------------


def metric_checks(records: list[dict]) -> list[str]:
    """Warnings about the sweep's metrics: accuracies outside 0-100, accuracies that look like
    fractions (every run <= 1), strings or NaN where a trainer should write numbers."""
    warnings = []
    finished = [r for r in records if r.get("success")]
    for key in sorted({k for r in finished for k in r if k.endswith("_acc")}):
        values = [(r["config_file"], r[key]) for r in finished if is_number(r.get(key))]
        outside = [(c, v) for c, v in values if not 0 <= v <= 100]
        if outside:
            shown = ", ".join(f"{c} {v:g}" for c, v in outside[:5])
            warnings.append(
                f"{key} lies outside 0-100 in {len(outside)} run(s) ({shown}): accuracies are percent"
            )
        elif values and all(v <= 1 for _, v in values):
            warnings.append(
                f"{key} is at most 1 in every run ({len(values)}): looks like a fraction; "
                "accuracies are percent (0-100)"
            )
    bad = [(r["config_file"], r["metric_warnings"]) for r in records if r.get("metric_warnings")]
    for config, problem in bad[:10]:
        warnings.append(f"{config}: {problem} (not used)")
    if len(bad) > 10:
        warnings.append(f"... and {len(bad) - 10} more run(s) with metrics that are no numbers")
    return warnings


# --- files beside the report --------------------------------------------------------


def keep_best_model(sweep_dir: Path | str, best: dict | None) -> Path | None:
    """Point <sweep>/best_model.pt at the best run's checkpoint (relative symlink, else a copy).

    A stale link from an earlier analysis is removed when nothing ranks or the best run
    kept no checkpoint; a regular file the user put there is never touched.
    """
    paths = SweepPaths(Path(sweep_dir))
    target = paths.best_checkpoint
    source = paths.run(best["run_dir"]).checkpoint if best else None
    if source is None or not source.is_file():
        if target.is_symlink():
            target.unlink()
        return None
    if target.exists() and not target.is_symlink():
        return None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.symlink_to(Path(best["run_dir"]) / target.name)
    except OSError:  # filesystems without symlinks
        shutil.copy2(source, tmp)
    os.replace(tmp, target)  # atomic: a reader sees the old best or the new one
    return target


def planned_count(sweep_dir: Path, manifest: dict | None) -> int | None:
    """How many runs the sweep planned: the manifest's count, else the plan/ copies."""
    if manifest and isinstance(manifest.get("count"), int):
        return manifest["count"]
    plan = SweepPaths(sweep_dir).plan_dir
    if plan.is_dir():
        return sum(1 for p in plan.iterdir() if p.name.startswith("config_"))
    return None


def group_means(grouping) -> list[dict]:
    """One record per group: its first run's values, the metric its mean (for parameter effects)."""
    return [{**g.runs[0], grouping.metric: g.mean, "success": True} for g in grouping.groups]


def search_facts(sweep_dir: Path, records: list[dict], manifest: dict | None) -> dict:
    """For a SEARCH or PRUNER sweep: how it chose runs, and the epochs it trained against the
    epochs every run would have trained to its end (each config's NUM_EPOCHS); {} for a grid."""
    options = (manifest or {}).get("options") or {}
    search, pruner = options.get("search") or "grid", options.get("pruner") or "none"
    if search == "grid" and pruner == "none":
        return {}
    planned = 0
    for record in records:  # a completed run went to its end; the others would have run NUM_EPOCHS
        text = read_text_or_none(SweepPaths(sweep_dir).run(record["run_dir"]).config)
        epochs = config_values(text or "").get("CONFIG_NUM_EPOCHS", "")
        to_end = record["status"] != "completed" and epochs.isdigit()
        planned += int(epochs) if to_end else (record.get("epochs") or 0)
    trained = sum(record.get("epochs") or 0 for record in records)
    return {**options, "search": search, "pruner": pruner, "trained": trained, "planned_epochs": planned}


def read_text_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _write_plots(
    sweep_dir: Path,
    records,
    ranked,
    metric,
    mode,
    axes,
    texts,
    plots: bool,
    search: bool = False,
    grouping=None,
    front: Front | None = None,
) -> tuple[Path, ...]:
    """The plots this analysis has something for; the others are removed (never left stale)."""

    pngs: tuple[Path, ...] = ()
    if plots and ranked:
        pngs = plotting.write_plots(
            sweep_dir, records, ranked, metric, mode, axes, texts, search, grouping, front
        )
    for name in PLOT_FILES:
        stale = sweep_dir / name
        if stale not in pngs and stale.is_file():
            stale.unlink()
    return pngs


def write_report(
    sweep_dir: Path | str,
    metric: str = DEFAULT_METRIC,
    mode: str | None = None,
    plots: bool = True,
) -> ReportResult:
    """Write sweep_summary.json, sweep_analysis.txt, the plots and best_model.pt; return what was written.

    `metric` may name two metrics and `mode` one mode each (`val_acc,total_time`, `max,min`):
    the first ranks, and the report adds their Pareto front."""
    sweep_dir = Path(sweep_dir)
    paths = SweepPaths(sweep_dir)
    records = load_records(sweep_dir)
    objectives = objectives_of(records, metric, mode)
    metric, mode = objectives[0]
    try:
        write_summary(sweep_dir, records)
    except OSError as err:
        if err.errno not in NO_SPACE:
            raise
        raise AnalyzeError(
            f"no space left ({paths.summary}): nothing was written; free some and run: "
            + command_line("sweep-analyze", sweep=display(sweep_dir))
        ) from None
    texts = value_texts(sweep_dir, varied_keys(records))
    records, axes, ranked, grouping = ranking_of(records, metric, mode)
    best = best_run(ranked, grouping)
    if grouping:  # configs rank by their mean, effects use means
        effects = (
            parameter_effects(group_means(grouping), metric, mode, grouping.axes) if grouping.axes else {}
        )
    else:
        effects = parameter_effects(records, metric, mode, axes) if axes else {}
    front = pareto_front(records, objectives, grouping.axes if grouping else None) if objectives[1:] else None
    manifest = read_json(paths.manifest)
    manifest = manifest if isinstance(manifest, dict) else None
    search = search_facts(sweep_dir, records, manifest)
    train_command = ((manifest or {}).get("options") or {}).get("train_command") or None
    context = report.ReportContext(
        sweep_dir=sweep_dir,
        records=records,
        ranked=ranked,
        varied=axes,
        metric=metric,
        mode=mode,
        manifest=manifest,
        planned=planned_count(sweep_dir, manifest),
        effects=effects,
        hyperparameters=hyperparameter_lines(sweep_dir, best, axes, texts) if best else [],
        plots=[],
        best_model=None,
        texts=texts,
        tie_break=tie_break(metric),
        best_ties=tied_with(ranked, 0, metric) if best else [],
        places=competition_ranks(ranked, metric)[: report.TOP_N],
        reproduce=reproduce_command(sweep_dir, best, train_command, (manifest or {}).get("cwd"))
        if best
        else None,
        train_command=train_command,
        warnings=metric_checks(records),
        search=search,
        grouping=grouping,
        front=front,
    )
    # The text first: on a full disk it is what must be there (a few KB), the plots are not.
    write_atomic(paths.analysis, report.build_report(context))
    try:
        context.plots = _write_plots(
            sweep_dir, records, ranked, metric, mode, list(effects), texts, plots, bool(search), grouping,
            front,
        )  # fmt: skip
        context.best_model = keep_best_model(sweep_dir, best)
        write_atomic(paths.analysis, report.build_report(context))
        write_html(context)
    except OSError as err:
        if err.errno not in NO_SPACE:
            raise
        where = f" ({err.filename})" if err.filename else ""
        raise AnalyzeError(
            f"no space left{where}: {paths.analysis.name} is written, the plots or the HTML report are not; "
            "free some and run: " + command_line("sweep-analyze", sweep=display(sweep_dir))
        ) from None
    pngs, best_model = context.plots, context.best_model
    return ReportResult(
        paths.analysis, best, metric, mode, pngs, best_model, records, context.best_ties, grouping,
        objectives, front,
    )  # fmt: skip


def ranking_of(records: list[dict], metric: str, mode: str):
    """(records with their swept axes, the axes, the ranked runs, and with repeats the configs
    ranked by their mean: a Grouping, else None). Seeds are repeats, judged on every run, so
    configs pruned or failed whole still count."""
    records, axes = swept_axes(records)
    ranked = rank_records(records, metric, mode)
    grouping = (
        group_runs(ranked, axes, metric, mode == "max") if ranked and has_repeats(records, axes) else None
    )
    return records, axes, ranked, grouping


def best_run(ranked: list[dict], grouping) -> dict | None:
    """The best run: with repeats, the best config's best seed (what the report shows and keeps)."""
    if grouping:
        return grouping.groups[0].runs[0]
    return ranked[0] if ranked else None


def report_after_run(sweep_dir: Path, metric: str, mode: str | None) -> None:
    """The analysis a run command ends with, in one line: the best run and where the report is
    (and a second with two metrics: their Pareto front)."""
    try:
        result = write_report(sweep_dir, metric=metric, mode=mode)
    except AnalyzeError as err:
        print(f"  ANALYZE {display(sweep_dir)}: {err}")
        return
    best, metric = result.best, result.metric  # the ranking metric: the first of two
    if best is None:
        print(f"  REPORT  {display(result.path)} (no completed run to rank)")
        return
    if result.grouping:  # with repeats the best is a config, by its mean: not its luckiest seed
        group = result.grouping.groups[0]
        values = " ".join(f"{short(a)}={v}" for a, v in zip(result.grouping.axes, group.key, strict=True))
        shown = f"{metric} {group.mean:.2f}, mean of {group.n} seeds"
        print(f"  BEST    {values} ({shown}) → {display(result.path)}")
    else:
        value = best.get(metric)
        shown = f"{metric} {value:.2f}" if isinstance(value, (int, float)) else f"{metric} {value}"
        print(f"  BEST    {best['run_dir']} ({shown}) → {display(result.path)}")
    if result.front is not None:
        print(f"  PARETO  {front_text(result.front)} → {display(result.path)}")
