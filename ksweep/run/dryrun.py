"""DRY_RUN=1: each run the command would do, its state, what it changes, and an estimate; writes nothing.

The runs are planned exactly as the real command plans them (ksweep.folder.plan.plan_additions:
an extended sweep's new points get the numbers the real run gives them), and each is
checked with the built-in trainer's own config rules when the sweep uses it.
"""

from __future__ import annotations

import tempfile

from ksweep.config import trainer
from ksweep.config.kconf import load_kconfig, non_default_values
from ksweep.contract import state
from ksweep.contract.records import config_values
from ksweep.contract.text import plural
from ksweep.folder import plan as sweep_plan
from ksweep.folder.paths import seconds_per_epoch
from ksweep.folder.sweep import SweepFolder
from ksweep.options import Values
from ksweep.run.progress import run_states
from ksweep.run.summary import format_duration
from ksweep.search import space as search_space


def dry_run(request, folder: SweepFolder | None, options: Values, chosen: dict) -> int:
    """Print what the command would do; `options` to run with, `chosen` what the sweep keeps."""
    entries = planned_entries(request, folder, chosen["epochs"], searching=options.search != "grid")
    refusal = None if options.train_command else builtin_trainer_check()
    kconf = load_kconfig()
    todo = refused = 0
    for run, text, run_state in entries:
        needed = state.needs_run(run_state, options.retry_failed)
        todo += needed
        changes = _changes(text, kconf)
        print(f"  {run.run_dir:40} {run_state:11} " + " ".join(f"{k}={v}" for k, v in changes.items()))
        reason = refusal(text) if refusal and needed else None
        if reason:
            refused += 1
            print(f"  {'':40} would be refused by the trainer: {reason}")
    if refused:
        print(f"{plural(refused, 'run')} would be refused at once by the trainer (see above)")
    if not options.train_command:
        for note in trainer.data_notes(
            [text for _, text, run_state in entries if state.needs_run(run_state, options.retry_failed)]
        ):
            print(f"NOTE: {note}")
    manifest = folder.manifest if folder else {}
    source = (manifest or sweep_plan.config_source(request.config_dir)).get("range_file")
    jobs = options.jobs or 1
    when = estimate(request, source, entries, todo, jobs, chosen)
    total = len(entries)
    if options.search != "grid":
        added = search_line(request, folder, options)
        todo, total = todo + added, total + added
    if options.pruner != "none":
        print(f"PRUNER={options.pruner} stops runs that fall behind: fewer epochs than the estimate")
    print(f"{todo} of {plural(total, 'run')} to do, {jobs} at a time; {when}")
    return 0


def planned_entries(request, folder: SweepFolder | None, epochs: int | None, searching: bool) -> list[tuple]:
    """(run, config text, state) of every run the command would consider, numbered as it would
    (a search's are proposed as it goes: only those planned already)."""
    plan = folder.plan if folder else []
    rows = run_states(folder.path, plan) if folder else []
    entries = [(run, folder.text(run), run_state) for run, run_state, _ in rows]
    if not request.resume and not searching:
        configs = sweep_plan.read_config_dir(request.config_dir)
        entries += [
            (run, text, state.PENDING) for run, text in sweep_plan.plan_additions(plan, configs, epochs)
        ]
    return entries


def search_line(request, folder: SweepFolder | None, options: Values) -> int:
    """What a search would propose (its space's size, or continuous); the runs that adds."""
    found = search_space.load(folder.path) if folder else search_space.of_generated(request.config_dir)
    if found is None:
        print(f"SEARCH={options.search} needs {request.config_dir}/ generated from a range file")
        return 0
    planned = len(folder.plan) // max(1, len(found.seeds)) if folder else 0
    samples = options.samples or found.count or 0
    if found.count is not None:
        samples = min(samples, found.count)
    seeds = f", each with {len(found.seeds)} seeds" if found.seeds else ""
    proposes = f"proposes {plural(samples, 'config')}"
    print(
        f"SEARCH={options.search} (SEARCH_SEED={options.search_seed}) {proposes} of "
        f"{found.describe()}{seeds}, one at a time: which ones depends on the results"
    )
    return max(0, samples - planned) * max(1, len(found.seeds))


def _changes(text: str, kconf) -> dict[str, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".config") as config:
        config.write(text)
        config.flush()
        return non_default_values(config.name, kconf)


def builtin_trainer_check():
    """The built-in trainer's own config checks, torch-free (models.config.cross_checks)."""
    cross_checks = trainer.checks().cross_checks

    def refusal(text: str) -> str | None:
        return "; ".join(cross_checks(text)) or None

    return refusal


def estimate(request, source: str | None, entries: list[tuple], todo: int, jobs: int, chosen: dict) -> str:
    """How long the runs to do take: seconds per epoch from the newest earlier sweep of the
    same range file and trainer, times each run's epochs (EPOCHS, else its NUM_EPOCHS)."""
    per_epoch = seconds_per_epoch(request.output_dir, source, chosen.get("train_command"))
    if not per_epoch:
        earlier = f"no finished earlier sweep of {source or 'these configs'} with this trainer"
        return f"{earlier} to estimate the time from"
    epochs = [chosen.get("epochs") or _num_epochs(text) for _, text, _ in entries] or [0]
    per_run = per_epoch * sum(epochs) / len(epochs)
    return (
        f"about {format_duration(todo * per_run / jobs)} at {per_run:.1f} s per run "
        f"({per_epoch:.2f} s per epoch in the newest earlier sweep of {source} with this trainer)"
    )


def _num_epochs(text: str) -> int:
    value = config_values(text).get("CONFIG_NUM_EPOCHS", "")
    return int(value) if value.isdigit() else 1
