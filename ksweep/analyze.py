"""The analyze stage: a sweep's runs → ranking, parameter effects, report, plots.

    python scripts/analyze_sweep.py [--sweep DIR] [--metric val_acc] [--mode max]
    make sweep-analyze [SWEEP=dir] [METRIC=val_loss MODE=min]

It reads only what the runner left in the sweep directory (see ksweep.summary for
the run record) and writes beside it:

    sweep_summary.json     a JSON list, one flat record per run (the seed's pandas snippet reads it)
    sweep_analysis.txt     the seed's report (BEST CONFIGURATION, TOP 10, FAILED TESTS) plus
                           header counts, parameter effects, train/val gap, unfinished runs
    learning_curves.png    the metric per epoch of the top 5 runs
    parameter_effects.png  the metric against each swept symbol
    best_model.pt          a relative symlink to the best run's checkpoint, when it kept one

Ranking: runs are ranked by one numeric metric of the records (`val_acc` by default,
`mode` max or min; `val_loss` wants min). Only completed runs with a value are ranked:
a running, interrupted or failed run is counted and listed, never ranked as a zero.
Ties go to the lower config_file, so the order is the same every time. The default
chooses on validation, not test: choosing on the test set would leak it, so test
accuracy is shown beside the ranking, never used for it.

The analyzer knows symbols and metrics, nothing about what they mean. "Swept" symbols
are those whose value differs between runs' config.txt; the best run's other
hyperparameters are those that differ from the Kconfig defaults (as savedefconfig
would write them).

In a notebook:

    >>> from ksweep.analyze import load_sweep
    >>> df = load_sweep("test_matrix_results/sweep_20250101_120000")
    >>> df.groupby("CONFIG_LEARNING_RATE")["val_acc"].mean()

The API: write_report(sweep, metric, mode) -> ReportResult does all of the above;
load_sweep(sweep) -> DataFrame; rank_records and parameter_effects are the pure core.
Across sweeps: ksweep.leaderboard (leaderboard, compare); after a quick sweep:
ksweep.promote (promote). User errors raise AnalyzeError, one line each.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ksweep import report
from ksweep.records import CONFIG_FILE, read_json, write_atomic
from ksweep.summary import (
    ANALYSIS_FILE,
    CONFIG_PREFIX,
    MANIFEST_FILE,
    METRIC_KEYS,
    PLAN_DIR,
    collect_records,
    is_number,
    varied_keys,
    write_summary,
)

if TYPE_CHECKING:  # pandas is imported lazily: the runner's summary path must not pay for it
    import pandas as pd

DEFAULT_METRIC = "val_acc"
DEFAULT_MODE = "max"
MODES = ("max", "min")
BEST_MODEL = "best_model.pt"
NON_METRIC_KEYS = frozenset({"config_file", "run_dir", "status", "success", "error", "config_hash"})


class AnalyzeError(Exception):
    """A problem the user can fix (no sweep, unknown metric, ...): shown as one line."""


@dataclass(frozen=True)
class ReportResult:
    """What write_report wrote: the report's path, the best record (None when nothing ranks)."""

    path: Path
    best: dict | None
    metric: str = DEFAULT_METRIC
    mode: str = DEFAULT_MODE
    plots: tuple[Path, ...] = ()
    best_model: Path | None = None
    records: list[dict] = field(default_factory=list, repr=False)


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
    import pandas as pd

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


# --- ranking ------------------------------------------------------------------------


def available_metrics(records: list[dict]) -> list[str]:
    """The numeric record keys a sweep can be ranked by (CONFIG_ symbols are not metrics)."""
    keys = set(METRIC_KEYS)
    # Only keys beyond the standard ones need a look at the values (a trainer's extra
    # final metrics); the union of keys is one C-level pass over the records.
    extra = set().union(*map(dict.keys, records)) - keys - NON_METRIC_KEYS
    for key in extra:
        if not key.startswith(CONFIG_PREFIX) and any(is_number(r.get(key)) for r in records):
            keys.add(key)
    return sorted(keys)


def check_ranking(records: list[dict], metric: str, mode: str) -> None:
    """Refuse an unknown metric (naming the known ones) or a mode other than min/max."""
    if mode not in MODES:
        raise AnalyzeError(f"bad mode {mode!r}: use max or min")
    known = available_metrics(records)
    if metric not in known:
        raise AnalyzeError(f"unknown metric {metric!r}; available: {', '.join(known)}")


def rank_records(records: list[dict], metric: str = DEFAULT_METRIC, mode: str = DEFAULT_MODE) -> list[dict]:
    """Completed runs that have `metric`, best first; ties broken by config_file, then run_dir."""
    ranked = [r for r in records if r.get("success") and is_number(r.get(metric))]
    sign = -1 if mode == "max" else 1
    return sorted(ranked, key=lambda r: (sign * r[metric], r["config_file"], r["run_dir"]))


# --- parameter effects --------------------------------------------------------------


def value_order(value) -> tuple:
    """Sort key for symbol values: numbers in numeric order, then text, then unset (inactive)."""
    import pandas as pd

    if pd.isna(value):
        return (2, 0, "")
    if is_number(value) or hasattr(value, "item"):
        return (0, float(value), "")
    return (1, 0, str(value))


def _python_value(value):
    """A plain Python value (None for missing) from a pandas index entry: what the summary holds."""
    import pandas as pd

    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def parameter_effects(
    records: list[dict], metric: str = DEFAULT_METRIC, mode: str = DEFAULT_MODE
) -> dict[str, pd.DataFrame]:
    """Per varied symbol, a DataFrame indexed by value: runs, ranked, mean, best, worst of `metric`.

    `runs` counts every run with that value; the statistics use only ranked runs
    (completed, with the metric). Symbols come most influential first: the largest
    spread between the best and the worst value's mean.
    """
    import pandas as pd

    frame = runs_frame(records)
    ok = frame[frame["success"].astype(bool) & frame[metric].notna()]
    best, worst = ("max", "min") if mode == "max" else ("min", "max")
    effects = {}
    for symbol in varied_keys(records):
        runs = frame.groupby(symbol, dropna=False).size().rename("runs")
        stats = ok.groupby(symbol, dropna=False)[metric].agg(["count", "mean", best, worst])
        stats.columns = ["ranked", "mean", "best", "worst"]
        table = pd.concat([runs, stats], axis=1)
        table["ranked"] = table["ranked"].fillna(0).astype(int)
        table = table.loc[sorted(table.index, key=value_order)]
        table.index = pd.Index([_python_value(v) for v in table.index], dtype=object, name=symbol)
        effects[symbol] = table
    return dict(sorted(effects.items(), key=lambda item: (-_spread(item[1]), item[0])))


def _spread(table) -> float:
    means = table["mean"].dropna()
    return float(means.max() - means.min()) if len(means) > 1 else 0.0


# --- the best run's hyperparameters -------------------------------------------------


def non_default_values(config_path: Path | str) -> dict[str, str]:
    """The config's values that differ from the Kconfig defaults (ksweep.kconf.non_default_values);
    empty when the project's Kconfig cannot be loaded: the report then shows the swept
    symbols only, rather than failing the whole analysis."""
    import kconfiglib

    from ksweep.kconf import non_default_values as differing

    try:
        return differing(config_path)
    except (kconfiglib.KconfigError, OSError):
        return {}


def hyperparameter_lines(sweep_dir: Path, best: dict, varied: list[str]) -> list[str]:
    """The best run's swept symbols, then its other symbols that differ from the defaults."""
    swept = [f"{name}={report.display_value(best.get(name))}" for name in varied]
    config = Path(sweep_dir) / best["run_dir"] / CONFIG_FILE
    others = {k: v for k, v in non_default_values(config).items() if k not in varied}
    fixed = [f"{name}={value}" for name, value in others.items()]
    lines = []
    if swept:
        lines += ["# swept in this sweep:", *swept]
    if fixed:
        lines += ["# fixed, different from the Kconfig default:", *fixed]
    return lines


# --- files beside the report --------------------------------------------------------


def keep_best_model(sweep_dir: Path | str, best: dict | None) -> Path | None:
    """Point <sweep>/best_model.pt at the best run's checkpoint (relative symlink, else a copy).

    A stale link from an earlier analysis is removed when the best run kept no
    checkpoint; a regular file the user put there is never touched.
    """
    target = Path(sweep_dir) / BEST_MODEL
    source = Path(sweep_dir) / best["run_dir"] / BEST_MODEL if best else None
    if source is None or not source.is_file():
        if target.is_symlink():
            target.unlink()
        return None
    if target.exists() and not target.is_symlink():
        return None
    tmp = target.with_name(f".{BEST_MODEL}.{os.getpid()}.tmp")
    try:
        tmp.symlink_to(Path(best["run_dir"]) / BEST_MODEL)
    except OSError:  # filesystems without symlinks
        shutil.copy2(source, tmp)
    os.replace(tmp, target)  # atomic: a reader sees the old best or the new one
    return target


def planned_count(sweep_dir: Path, manifest: dict | None) -> int | None:
    """How many runs the sweep planned: the manifest's count, else the plan/ copies."""
    if manifest and isinstance(manifest.get("count"), int):
        return manifest["count"]
    plan = sweep_dir / PLAN_DIR
    if plan.is_dir():
        return sum(1 for p in plan.iterdir() if p.name.startswith("config_"))
    return None


def write_report(
    sweep_dir: Path | str,
    metric: str = DEFAULT_METRIC,
    mode: str = DEFAULT_MODE,
    plots: bool = True,
) -> ReportResult:
    """Write sweep_summary.json, sweep_analysis.txt, the plots and best_model.pt; return what was written."""
    sweep_dir = Path(sweep_dir)
    records = load_records(sweep_dir)
    check_ranking(records, metric, mode)
    write_summary(sweep_dir, records)
    ranked = rank_records(records, metric, mode)
    best = ranked[0] if ranked else None
    varied = varied_keys(records)
    effects = parameter_effects(records, metric, mode) if varied else {}
    pngs: tuple[Path, ...] = ()
    if plots and ranked:
        from ksweep import plots as plotting  # matplotlib only when plotting

        pngs = plotting.write_plots(sweep_dir, records, ranked, metric, mode, list(effects))
    best_model = keep_best_model(sweep_dir, best)
    manifest = read_json(sweep_dir / MANIFEST_FILE)
    manifest = manifest if isinstance(manifest, dict) else None
    context = report.ReportContext(
        sweep_dir=sweep_dir,
        records=records,
        ranked=ranked,
        varied=varied,
        metric=metric,
        mode=mode,
        manifest=manifest,
        planned=planned_count(sweep_dir, manifest),
        effects=effects,
        hyperparameters=hyperparameter_lines(sweep_dir, best, varied) if best else [],
        plots=pngs,
        best_model=best_model,
    )
    path = sweep_dir / ANALYSIS_FILE
    write_atomic(path, report.build_report(context))
    return ReportResult(path, best, metric, mode, pngs, best_model, records)


# --- finding sweeps -----------------------------------------------------------------
