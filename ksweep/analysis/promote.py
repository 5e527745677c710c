"""Promotion: the top runs of a quick sweep become the configs of a full one.

    python scripts/sweep_promote.py [--sweep DIR] --top 3 [--epochs 9] [--out sweep_configs]
    make sweep-run                  # then runs them, with the source sweep's trainer

The seeds' strategy: sweep many configs for a few epochs, then train the best few
for the full number. promote() takes the top K completed runs of a sweep (ranked as
the report ranks them: METRIC, MODE; with repeats, every seed of the top K configs by
their mean over seeds, ksweep.analysis.repeats) and writes

    sweep_configs/config_001 .. config_00K    each the run's exact config.txt, with its
                                              CONFIG_NUM_EPOCHS line replaced by --epochs
                                              (without --epochs: as in the source runs)
    sweep_configs/combinations_summary.txt    which run each config came from, and why
    sweep_configs/generate.json               provenance for the runner: promoted_from,
                                              runs, train_command (the source sweep's
                                              TRAIN_COMMAND or null), log_metrics (its
                                              LOG_METRICS or null), epochs, created, count

`make sweep-run` with no TRAIN_COMMAND trains the promoted configs with the
train_command (and log_metrics) generate.json names, so a custom trainer's sweep stays on
its trainer and reads its metrics as it did.
When the TOP cut falls inside a tie (the K-th run shares its score with runs left
out), Promotion.tie_note says how the tie was broken (the report's rule: the lower
val_loss, then the lower config number).

The folder is written into a temp folder beside it and renamed over the old one, so
an existing sweep_configs/ is replaced only when the new one is complete; a failure
(no completed run, a bad argument) leaves it as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ksweep.analysis.analyze import DEFAULT_METRIC, load_records, swept_axes
from ksweep.analysis.format import display_value, format_metric
from ksweep.analysis.leaderboard import sweep_option
from ksweep.analysis.leaderboard import train_command as sweep_train_command
from ksweep.analysis.ranking import AnalyzeError, objectives_of, rank_records, same_score, tie_break
from ksweep.analysis.repeats import group_runs, has_repeats
from ksweep.config import trainer
from ksweep.contract.records import replace_dir
from ksweep.contract.sweepdir import ConfigDirPaths, SweepPaths
from ksweep.run.summary import value_texts, varied_keys

EPOCHS_SYMBOL = "CONFIG_NUM_EPOCHS"
_EPOCHS_LINE = re.compile(rf"^{EPOCHS_SYMBOL}=.*$", re.MULTILINE)


@dataclass(frozen=True)
class Promotion:
    """What promote wrote: the folder and, per new config name, the record of its source run."""

    out_dir: Path
    sources: dict[str, dict]
    train_command: str | None = None
    log_metrics: str | None = None  # the source sweep's LOG_METRICS
    epochs: int | None = None  # None: as in the source runs
    source_epochs: tuple[int, ...] = ()  # the epochs the promoted runs trained
    tie_note: str | None = None  # how a tie across the TOP cut was broken
    metric: str = DEFAULT_METRIC  # what ranked them (the first of two metrics)


def set_epochs(config: str, epochs: int) -> str:
    """The config text with CONFIG_NUM_EPOCHS set to `epochs` (appended when it had no such line)."""
    line = f"{EPOCHS_SYMBOL}={epochs}"
    if _EPOCHS_LINE.search(config):
        return _EPOCHS_LINE.sub(line, config, count=1)
    return config.rstrip("\n") + f"\n{line}\n"


def _check_arguments(top: int, epochs: int | None) -> None:
    if top < 1:
        raise AnalyzeError(f"--top must be 1 or more, not {top}")
    if epochs is not None and epochs < 1:
        raise AnalyzeError(f"--epochs must be 1 or more, not {epochs}")


def epochs_text(epochs: int | None, source_epochs: tuple[int, ...]) -> str:
    """`CONFIG_NUM_EPOCHS=9 in every config`, or `epochs as in the source runs (3)`."""
    if epochs:
        return f"{EPOCHS_SYMBOL}={epochs} in every config"
    trained = ", ".join(str(e) for e in sorted(set(source_epochs))) or "unknown"
    return f"epochs as in the source runs ({trained}): pass EPOCHS=N to train them longer"


def tie_note(ranked: list[dict], top: int, metric: str) -> str | None:
    """How the TOP cut was made when it falls inside a tie on `metric`, else None."""
    if len(ranked) <= top or not same_score(ranked[top - 1][metric], ranked[top][metric]):
        return None
    score = ranked[top - 1][metric]
    tied = [r for r in ranked if same_score(r[metric], score)]
    kept = [r["config_file"] for r in tied if r in ranked[:top]]
    left = [r["config_file"] for r in tied if r not in ranked[:top]]
    second, second_mode = tie_break(metric)
    better = "lower" if second_mode == "min" else "higher"
    shown = ", ".join(left[:10]) + (", ..." if len(left) > 10 else "")
    return (
        f"the TOP={top} cut falls inside a tie: {len(tied)} runs share {metric} "
        f"{format_metric(metric, score, unit=False)}; kept {', '.join(kept)} by {better} {second}, "
        f"then lower config number; left out {shown}"
    )


def _summary_text(sweep_dir: Path, promotion: Promotion, varied: list[str], texts: dict, ranking: str) -> str:
    chosen = promotion.sources
    lines = [
        f"# Promoted from {sweep_dir}: the top {len(chosen)} completed run(s) by {ranking}",
        f"# {epochs_text(promotion.epochs, promotion.source_epochs)}",
        f"# trainer: {promotion.train_command or trainer.DESCRIPTION}",
        *([f"# {promotion.tie_note}"] if promotion.tie_note else []),
        f"Total combinations: {len(chosen)}",
        f"Varying: {', '.join(varied) if varied else 'nothing'}",
        "",
    ]
    metric = ranking.split()[0]
    for name, record in chosen.items():
        score = format_metric(metric, record.get(metric))
        lines.append(f"{name}  <- {record['run_dir']}  ({metric} {score})")
        lines += [f"    {symbol}={display_value(record.get(symbol), texts.get(symbol))}" for symbol in varied]
    return "\n".join(lines) + "\n"


def provenance(sweep_dir: Path, promotion: Promotion) -> dict:
    """generate.json of the promoted folder: what the runner needs to run it as the source ran."""
    return {
        "promoted_from": str(sweep_dir.resolve()),
        "runs": [str((sweep_dir / r["run_dir"]).resolve()) for r in promotion.sources.values()],
        "train_command": promotion.train_command,
        "log_metrics": promotion.log_metrics,
        "epochs": promotion.epochs,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "count": len(promotion.sources),
        "range_file": None,
        "range_text": None,
        "axes": {},
    }


def top_runs(ranked: list[dict], axes: list[str], top: int, metric: str, mode: str) -> list[dict]:
    """The top `top` runs; with repeats, every run (seed) of the top `top` configs by their mean,
    so that the promoted sweep has the same repeats and a lucky seed promotes nothing."""
    if not has_repeats(ranked, axes):
        return ranked[:top]
    groups = group_runs(ranked, axes, metric, mode == "max").groups[:top]
    return [run for group in groups for run in sorted(group.runs, key=lambda r: r["config_file"])]


def promote(
    sweep_dir: Path | str,
    top: int = 3,
    epochs: int | None = None,
    out_dir: Path | str = "sweep_configs",
    metric: str = DEFAULT_METRIC,
    mode: str | None = None,
) -> Promotion:
    """Write the top `top` completed runs' configs to `out_dir` (see the module docstring)."""
    _check_arguments(top, epochs)
    sweep_dir, out = Path(sweep_dir), Path(out_dir)
    records = load_records(sweep_dir)
    metric, mode = objectives_of(records, metric, mode)[0]  # with two metrics the first ranks
    records, axes = swept_axes(records)
    everything = rank_records(records, metric, mode)
    ranked = top_runs(everything, axes, top, metric, mode)
    if not ranked:
        raise AnalyzeError(f"{sweep_dir}: no completed run with {metric} to promote")
    configs = {}
    for i, record in enumerate(ranked, 1):
        path = SweepPaths(sweep_dir).run(record["run_dir"]).config
        if not path.is_file():
            raise AnalyzeError(f"{path}: missing, cannot promote {record['config_file']}")
        text = path.read_text(encoding="utf-8")
        header = f"# promoted from {sweep_dir / record['run_dir']} ({metric} {record[metric]})\n"
        configs[f"config_{i:03d}"] = (header + (set_epochs(text, epochs) if epochs else text), record)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    promotion = Promotion(
        out,
        {name: record for name, (_, record) in configs.items()},
        train_command=sweep_train_command(sweep_dir),
        log_metrics=sweep_option(sweep_dir, "log_metrics"),
        epochs=epochs,
        source_epochs=tuple(r["epochs"] for r in ranked if isinstance(r.get("epochs"), int)),
        tie_note=None if has_repeats(everything, axes) else tie_note(everything, top, metric),
        metric=metric,
    )
    varied = varied_keys(records)
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        # Plain writes: the whole folder appears at once by the rename below.
        for name, (text, _) in configs.items():
            (tmp / name).write_text(text, encoding="utf-8")
        paths = ConfigDirPaths(tmp)
        summary = _summary_text(
            sweep_dir, promotion, varied, value_texts(sweep_dir, varied), f"{metric} ({mode})"
        )
        paths.combinations.write_text(summary, encoding="utf-8")
        paths.provenance.write_text(
            json.dumps(provenance(sweep_dir, promotion), indent=2) + "\n", encoding="utf-8"
        )
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return promotion
