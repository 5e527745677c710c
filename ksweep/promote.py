"""Promotion: the top runs of a quick sweep become the configs of a full one.

    python scripts/sweep_promote.py [--sweep DIR] --top 3 --epochs 25 [--out sweep_configs]
    make sweep-run                  # then runs them, as it runs any sweep_configs/

The seeds' strategy: sweep many configs for a few epochs, then train the best few
for the full number. promote() takes the top K completed runs of a sweep (ranked as
the report ranks them: METRIC, MODE) and writes

    sweep_configs/config_001 .. config_00K    each the run's exact config.txt, with its
                                              CONFIG_NUM_EPOCHS line replaced by --epochs
    sweep_configs/combinations_summary.txt    which run each config came from, and why

The folder is written into a temp folder beside it and renamed over the old one, so
an existing sweep_configs/ is replaced only when the new one is complete; a failure
(no completed run, a bad argument) leaves it as it was.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ksweep.analyze import (
    DEFAULT_METRIC,
    DEFAULT_MODE,
    AnalyzeError,
    check_ranking,
    load_records,
    rank_records,
)
from ksweep.records import CONFIG_FILE, replace_dir
from ksweep.report import display_value, format_metric
from ksweep.summary import varied_keys

SUMMARY_NAME = "combinations_summary.txt"
EPOCHS_SYMBOL = "CONFIG_NUM_EPOCHS"
_EPOCHS_LINE = re.compile(rf"^{EPOCHS_SYMBOL}=.*$", re.MULTILINE)


@dataclass(frozen=True)
class Promotion:
    """What promote wrote: the folder and, per new config name, the record of its source run."""

    out_dir: Path
    sources: dict[str, dict]


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


def _summary_text(
    sweep_dir: Path, chosen: dict[str, dict], varied: list[str], metric: str, mode: str, epochs: int | None
) -> str:
    lines = [
        f"# Promoted from {sweep_dir}: the top {len(chosen)} completed run(s) by {metric} ({mode})",
        f"# {EPOCHS_SYMBOL}={epochs} in every config" if epochs else "# epochs as in the source runs",
        f"Total combinations: {len(chosen)}",
        f"Varying: {', '.join(varied) if varied else 'nothing'}",
        "",
    ]
    for name, record in chosen.items():
        score = format_metric(metric, record.get(metric))
        lines.append(f"{name}  <- {record['run_dir']}  ({metric} {score})")
        lines += [f"    {symbol}={display_value(record.get(symbol))}" for symbol in varied]
    return "\n".join(lines) + "\n"


def promote(
    sweep_dir: Path | str,
    top: int = 3,
    epochs: int | None = None,
    out_dir: Path | str = "sweep_configs",
    metric: str = DEFAULT_METRIC,
    mode: str = DEFAULT_MODE,
) -> Promotion:
    """Write the top `top` completed runs' configs to `out_dir` (see the module docstring)."""
    _check_arguments(top, epochs)
    sweep_dir, out = Path(sweep_dir), Path(out_dir)
    records = load_records(sweep_dir)
    check_ranking(records, metric, mode)
    ranked = rank_records(records, metric, mode)[:top]
    if not ranked:
        raise AnalyzeError(f"{sweep_dir}: no completed run with {metric} to promote")
    configs = {}
    for i, record in enumerate(ranked, 1):
        path = sweep_dir / record["run_dir"] / CONFIG_FILE
        if not path.is_file():
            raise AnalyzeError(f"{path}: missing, cannot promote {record['config_file']}")
        text = path.read_text(encoding="utf-8")
        header = f"# promoted from {sweep_dir / record['run_dir']} ({metric} {record[metric]})\n"
        configs[f"config_{i:03d}"] = (header + (set_epochs(text, epochs) if epochs else text), record)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    chosen = {name: record for name, (_, record) in configs.items()}
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        # Plain writes: the whole folder appears at once by the rename below.
        for name, (text, _) in configs.items():
            (tmp / name).write_text(text, encoding="utf-8")
        summary = _summary_text(sweep_dir, chosen, varied_keys(records), metric, mode, epochs)
        (tmp / SUMMARY_NAME).write_text(summary, encoding="utf-8")
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Promotion(out, chosen)
