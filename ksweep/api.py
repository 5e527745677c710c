"""The Python API: start, open and resume sweeps from a notebook or a script, as Make does.

    import ksweep
    s = ksweep.sweep("mlp-digits-search-range", jobs=2, epochs=1, search="tpe", samples=8)
    s.path    # test_matrix_results/sweep_20261206_140000
    s.runs    # a pandas DataFrame, one row per run (as ksweep.load_sweep gives it)
    s.best    # the best run's record; with repeats the best config: its mean, sd, interval, n, runs
    ksweep.load(s.path).best
    ksweep.resume(s.path, samples=12)

Options are the Make variables in lower case (`jobs=2`, `repeats=3`, `train_command="..."`,
`output="results"`, the folder the sweep goes under, as OUTPUT= is). One that is unknown,
or a value the command would refuse, raises ValueError with the one line the command
prints; nothing is started. The configs are generated into a folder of the call's own,
never the shared sweep_configs/. A Ctrl-C (KeyboardInterrupt) stops the sweep as in a
terminal: its runs are stopped and marked interrupted, and KeyboardInterrupt is raised
once it is safe; `ksweep.resume(path)` continues it. Call it from the main thread (the
runner handles SIGINT and SIGTERM there).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from ksweep.analysis.analyze import best_run, load_records, load_sweep, ranking_of, report_after_run
from ksweep.analysis.ranking import objectives_of
from ksweep.cli.catalog import CATALOG
from ksweep.cli.sweep import run_sweep
from ksweep.config.defconfigs import QUICK_RANGE
from ksweep.contract.sweepdir import SweepPaths
from ksweep.run.stage import EXIT_INTERRUPTED, EXIT_USAGE, RunRequest, run_stage


@dataclass(frozen=True)
class Sweep:
    """A sweep folder, read when asked (its runs may still be training)."""

    path: Path
    metric: str = "val_acc"
    mode: str | None = None

    @property
    def runs(self):
        """One row per run, its varied symbols and final metrics (a pandas DataFrame)."""
        return load_sweep(self.path)

    @property
    def best(self) -> dict | None:
        """The best run's summary record (run_dir, config_file, its metrics, its CONFIG_ values);
        with repeats, the best config: its swept values, `mean`, `sd`, `interval`, `n` and `runs`.
        None when no run completed."""
        records = load_records(self.path)
        metric, mode = objectives_of(records, self.metric, self.mode)[0]
        records, _, ranked, grouping = ranking_of(records, metric, mode)
        if grouping is None:
            return best_run(ranked, grouping)
        group = grouping.groups[0]
        return {
            **dict(zip(grouping.axes, group.key, strict=True)),
            "metric": metric,
            "mean": group.mean,
            "sd": group.sd,
            "interval": tuple(float(x) for x in group.interval) if group.interval else None,
            "n": group.n,
            "runs": group.runs,
        }


def sweep(range_config: str | Path = QUICK_RANGE, *, progress: bool = True, **options) -> Sweep:
    """Generate, run and analyze `range_config` (a path or a name under defconfigs/), as
    `make sweep RANGE_CONFIG=...` does with `options`; the sweep it made."""
    given = _given("sweep", options)
    code, made, said = _call(lambda: run_sweep(str(range_config), given, progress, publish_configs=False))
    return _outcome(code, made, said, given)


def resume(path: str | Path, *, progress: bool = True, **options) -> Sweep:
    """Continue the sweep at `path` (`make sweep-resume SWEEP=path`): runs not finished are run,
    none is redone; `options` as for sweep (`samples=` grows a search)."""
    given = {**_given("resume", options), "sweep": str(path)}
    request = RunRequest(given=given, resume=True, show_progress=progress, report=report_after_run)
    code, made, said = _call(lambda: (run_stage(request), request.worked_on))
    return _outcome(code, made, said, given)


def load(path: str | Path, metric: str = "val_acc", mode: str | None = None) -> Sweep:
    """An existing sweep folder (ValueError when `path` is none)."""
    path = Path(path)
    if not SweepPaths(path).plan.is_file():
        raise ValueError(f"{path}: not a sweep folder made by ksweep (no {SweepPaths.PLAN})")
    return Sweep(path, metric, mode)


def _given(command: str, options: dict) -> dict:
    """The options by name, each one the command takes and each value one it takes: else
    ValueError (an unknown name with the closest, a bad value with the command's line)."""
    known = {option.name: option for option in CATALOG.for_command(command)}
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name.lower(), list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"{name}={options[name]!r}: unknown option for ksweep.{command}{hint}")
    # Each value as the command's flag would take it: JOBS=0 is refused here as there.
    return {
        known[name].target: known[name].parse(value) for name, value in options.items() if value is not None
    }


class _Tee(io.TextIOBase):
    """stderr as it is, and a copy: the one-line message a refusal printed."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def _call(run) -> tuple[int, Path | None, str]:
    tee = _Tee(sys.stderr)
    with contextlib.redirect_stderr(tee):
        code, made = run()
    return code, made, tee.copy.getvalue()


def _outcome(code: int, made: Path | None, said: str, given: dict) -> Sweep:
    if code == EXIT_INTERRUPTED:
        where = f"; resume with ksweep.resume({str(made)!r})" if made else ""
        raise KeyboardInterrupt(f"the sweep was stopped{where}")
    if made is None or code == EXIT_USAGE:
        lines = [line for line in said.splitlines() if line.strip()]
        raise ValueError(
            lines[-1].removeprefix("error: ") if lines else f"the sweep did not start (exit {code})"
        )
    return Sweep(Path(made), given.get("metric") or "val_acc", given.get("mode"))
