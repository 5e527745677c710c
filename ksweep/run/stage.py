"""Run: every planned config trained once, surviving crashes, hangs and Ctrl-C, resumable.

    make sweep-run                        sweep_configs/ → a new test_matrix_results/sweep_*/
    make sweep-run SWEEP=dir              extend that sweep with the configs it has not run
    make sweep-resume [SWEEP=dir]         continue the newest sweep (or dir) from its own plan
    make sweep-run DRY_RUN=1              what would run, and why the trainer would refuse it
    python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir DIR

The stage, in order: check the request (TRAIN_COMMAND, LOG_METRICS, METRIC) before anything is
written; plan (a new sweep folder appears whole, its options before its plan, see
ksweep.folder.plan; an existing one is extended by config hash); take the sweep's lock; run
what is not finished (ksweep.run.scheduler, through a launcher, ksweep.launchers.base, with the
progress bar and the summary writer as observers); analyze. Exit codes: 0 when at least
one run of the sweep completed, 1 when none did or the sweep stopped on a failure, a
full disk or a dead launcher, 2 for a request that cannot be run, 130 when interrupted.

Ctrl-C or SIGTERM at any phase ends with the command that resumes, never a
traceback: while runs train, they are stopped and marked interrupted; while planning,
nothing half-made is left behind; during the final analysis, it is finished first.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ksweep.config import options as config_options
from ksweep.config import trainer
from ksweep.config.kconf import KconfigProblem, load_kconfig, read_config, use_kconfig
from ksweep.contract import state, verdict
from ksweep.contract.pause import pause_point
from ksweep.contract.project import NotFound, command_line, display
from ksweep.contract.records import config_hash
from ksweep.contract.sweepdir import SweepPaths
from ksweep.contract.text import plural
from ksweep.folder import plan as sweep_plan
from ksweep.folder.events import Observers
from ksweep.folder.lock import LockError
from ksweep.folder.paths import find_sweep
from ksweep.folder.sweep import SweepFolder
from ksweep.launchers import options as launcher_options
from ksweep.launchers.base import LauncherError, project_env
from ksweep.launchers.command import CommandError, check_train_command, unset_placeholders
from ksweep.launchers.registry import BackendError, check_backend, make_launcher
from ksweep.options import Values, export_environment, resolve
from ksweep.run import logmetrics
from ksweep.run import options as run_options
from ksweep.run.dryrun import dry_run
from ksweep.run.observers import ProgressBar, SummaryObserver
from ksweep.run.progress import run_states
from ksweep.run.scheduler import Scheduler, SweepResult
from ksweep.run.summary import MetricError, check_objectives
from ksweep.search import options as search_options
from ksweep.search import space, strategy
from ksweep.search.strategy import StrategyError
from ksweep.trackers import options as tracker_options
from ksweep.trackers.tracking import TrackerError, TrackingObserver, parse_trackers
from ksweep.trackers.tracking import check_installed as check_trackers_installed

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Every option the stage takes, declared by its owners (ksweep.options).
OPTIONS = (
    *config_options.OPTIONS,
    *run_options.OPTIONS,
    *launcher_options.OPTIONS,
    *search_options.OPTIONS,
    *tracker_options.OPTIONS,
)
OPTIONS = tuple(o for o in OPTIONS if "run" in o.commands or "resume" in o.commands)
KEPT = tuple(o for o in OPTIONS if o.kept)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM outside the phase that stops runs itself."""


@dataclass
class RunRequest:
    """What the user asked of the run stage: the options given (by name, ksweep.options;
    the flags of scripts/run_test_matrix.py), whether to resume, and what reports the result."""

    given: dict = field(default_factory=dict)
    resume: bool = False
    show_progress: bool = True
    report: Callable[[Path, str, str | None], None] | None = None  # the analysis, after the runs
    # What sweep.json names as the configs' folder (make sweep's public one, not its private copy).
    config_dir_shown: Path | None = None
    worked_on: Path | None = None  # set by run_stage: the sweep folder it made or resumed, if any

    def __post_init__(self) -> None:
        self.now = resolve(OPTIONS, self.given)  # the command line's, with defaults
        self.metric = self.now.metric  # a resume's is the sweep's own unless given (check_request)
        self.mode = self.now.mode  # settled by check_request (a loss ranks lowest first)

    @property
    def config_dir(self) -> Path:
        return Path(self.now.config_dir)

    @property
    def output_dir(self) -> Path:
        return Path(self.now.output)

    @property
    def sweep(self) -> Path | None:
        return Path(self.now.sweep) if self.now.sweep else None

    @property
    def dry_run(self) -> bool:
        return bool(self.now.dry_run)


class StopSignals:
    """SIGINT/SIGTERM for the whole stage, by phase.

    planning   raise Interrupted: nothing half-made is kept (a new folder is not published)
    running    note the request: the scheduler stops the runs (TERM, then KILL after a
               grace) and marks them interrupted; a second, distinct request stops them
               at once (KILL). Runs are never left behind, whatever arrives when.
    analysis   note the first request (the analysis is finished first); a second one raises.

    A signal of the same kind within ECHO_SECONDS of the one before is that one again:
    `make`, when SIGTERM reaches it, sends each of its children a TERM of its own, so a TERM
    to the whole process group arrives twice.
    """

    ECHO_SECONDS = 1.0

    def __init__(self):
        self.received: int | None = None
        self.at = 0.0
        self.phase = "planning"
        self.urgent = False  # a second request while runs were stopping: kill them now
        self.sweep_dir: Path | None = None  # once a sweep folder exists: what a resume continues

    def __enter__(self) -> StopSignals:
        self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        again = self.received is not None and not (
            signum == self.received and now - self.at < self.ECHO_SECONDS
        )
        self.received, self.at = signum, now
        if self.phase == "planning" or (self.phase == "analysis" and again):
            raise Interrupted()
        if self.phase == "running" and again:
            self.urgent = True

    def requested(self) -> bool:
        return self.received is not None

    def stop_now(self) -> bool:
        return self.urgent


USAGE_ERRORS = (NotFound, sweep_plan.PlanError, LockError, CommandError, MetricError)
USAGE_ERRORS += (BackendError, StrategyError, TrackerError, logmetrics.LogMetricsError)  # one line, exit 2
USAGE_ERRORS += (KconfigProblem,)  # the Kconfig is not there, does not parse, or not the trainer's


def preflight(request: RunRequest) -> int | None:
    """What can be refused before configs are even generated (make sweep asks this first, so a
    bad TRACKER, METRIC, TRAIN_COMMAND, BACKEND, SEARCH or PRUNER leaves sweep_configs/ as it was): the exit
    code of the refusal, said in one line, or None."""
    try:
        request.mode = check_objectives(request.metric, request.mode)
        check_usable(request.now)
        strategy.check_settings(request.now.replace(mode=request.mode), new_sweep=True)
    except USAGE_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    return None


def run_stage(request: RunRequest) -> int:
    """The whole run stage for one command; returns the exit code."""
    with StopSignals() as signals:
        sweep_dir = None
        try:
            sweep_dir = chosen_sweep(request)
            folder = SweepFolder(sweep_dir) if sweep_dir else None  # opened once, handed through
            options, kept = check_request(request, folder)
            if request.dry_run:
                return dry_run(request, folder, options, kept)
            request.worked_on = sweep_dir
            code = plan_and_run(request, folder, options, kept, signals)
            request.worked_on = signals.sweep_dir or sweep_dir
            return code
        except USAGE_ERRORS as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
        except OSError as err:  # a full disk or a read-only OUTPUT while planning: nothing ran
            print(f"error: {err}", file=sys.stderr)
            return EXIT_FAILED
        except Interrupted:
            sweep_dir = request.worked_on = signals.sweep_dir or sweep_dir
            where = f"; nothing was lost. Resume with: {resume_command(sweep_dir)}" if sweep_dir else ""
            print(f"  STOP    interrupted{where}", file=sys.stderr)
            return EXIT_INTERRUPTED


def chosen_sweep(request: RunRequest) -> Path | None:
    """The sweep to work on: SWEEP=, the newest one for a resume, or None for a new one."""
    if request.sweep is None and not request.resume:
        return None
    sweep_plan.discard_unpublished(request.output_dir)
    sweep_dir = find_sweep(request.sweep, request.output_dir)
    if not SweepPaths(sweep_dir).plan.is_file():
        raise NotFound(f"{sweep_dir}: not a sweep folder made by ksweep's runner (no {SweepPaths.PLAN})")
    return sweep_dir


def check_request(request: RunRequest, folder: SweepFolder | None) -> tuple[Values, dict]:
    """Refuse what cannot work before anything is written or trained; the options to run with
    and those the sweep keeps (options_for)."""
    saved = folder.options if folder else {}
    if request.given.get("metric") is None and saved.get("metric"):  # what the sweep searched
        request.metric, request.mode = saved["metric"], request.given.get("mode") or saved.get("mode")
    request.mode = check_objectives(request.metric, request.mode)
    options, kept = options_for(request, folder)
    check_usable(options)
    check_search(options, request, folder)
    return options, kept


def check_usable(options: Values) -> None:
    """The Kconfig parses (and its trainer can read it), the trainer command runs here (its
    placeholders name symbols), LOG_METRICS can read its output, the backend is installed and
    answers, the search's and the trackers' packages are there."""
    export_environment(OPTIONS, options)
    kconfig = use_kconfig(options.kconfig)
    if options.train_command:
        check_train_command(options.train_command)
    elif problem := trainer.unreadable(load_kconfig(kconfig), display(kconfig)):
        raise KconfigProblem(problem)
    logmetrics.check_options(options)
    check_backend(options)
    strategy.check_installed(options)
    check_trackers_installed(parse_trackers(options.tracker))


def check_search(options: Values, request: RunRequest, folder: SweepFolder | None) -> None:
    strategy.check_settings(options, new_sweep=folder is None)
    if options.search != "grid" and folder is not None and not request.resume:
        if not folder.paths.space.exists():
            raise StrategyError(f"{display(folder.path)} is a grid sweep: SEARCH= applies to a new sweep")
        raise StrategyError("a search sweep grows by its own proposals: resume it, or start a new one")


def options_for(request: RunRequest, folder: SweepFolder | None) -> tuple[Values, dict]:
    """The options to run with, and those the sweep keeps (sweep.json): each kept one from the
    command line, else as the sweep was started, else as its configs were made (generate.json)."""
    source = {} if request.resume else sweep_plan.config_source(request.config_dir)
    saved = folder.options if folder else {}
    sources = (request.given, saved, source)
    kept = {o.name: next((s[o.name] for s in sources if s.get(o.name) is not None), None) for o in KEPT}
    options = resolve(OPTIONS, kept, request.given).replace(mode=request.mode)
    return options, kept


def plan_and_run(
    request: RunRequest, folder: SweepFolder | None, options: Values, kept: dict, signals
) -> int:
    searching = options.search != "grid" and not request.resume  # configs are proposed, not listed
    configs = [] if request.resume or searching else sweep_plan.read_config_dir(request.config_dir)
    check_edited_configs(request.config_dir, configs)
    if configs and not options.train_command:
        check_builtin_trainer_accepts(configs, kept["epochs"])
    for note in unset_placeholders(options.train_command, configs):
        print(f"  NOTE    {note}")
    if folder is not None:
        with folder.locked():
            added = extend(request, folder, configs, kept)
            return run_locked(request, folder, added, options, signals)
    sweep_plan.discard_unpublished(request.output_dir)
    building = sweep_plan.new_sweep_dir(request.output_dir)
    try:
        with SweepFolder(building).locked() as folder:
            folder.record(request.config_dir, kept, shown_as=request.config_dir_shown, count=len(configs))
            pause_point("manifest-written")
            if searching:
                search_space(request.config_dir).save(building)
            folder.extend(configs, kept["epochs"])
            folder.record(request.config_dir, kept, shown_as=request.config_dir_shown)
            pause_point("planned")
            folder.moved_to(sweep_plan.publish_sweep_dir(building))
            signals.sweep_dir = folder.path  # from now on, an interrupted command says how to resume
            return run_locked(request, folder, 0, options, signals)
    finally:
        shutil.rmtree(building, ignore_errors=True)  # gone already once published


def search_space(config_dir: Path) -> space.Space:
    """The space a search proposes from: the range file sweep_configs/ was generated from."""
    found = space.of_generated(config_dir)
    if found is None:
        generate = command_line("sweep-generate")
        raise StrategyError(f"SEARCH= needs {config_dir}/ generated from a range file ({generate})")
    return found


def check_edited_configs(config_dir: Path, configs: list[tuple[str, str]]) -> None:
    """Configs changed by hand after the generator wrote them (their hash is not generate.json's)
    are checked as `make defconfig` checks a file, each problem with its file:line; a sweep
    with a bad one is refused, the others run as edited, and the runner says which."""
    hashes = sweep_plan.config_source(config_dir).get("hashes")
    if not hashes:
        return  # not the generator's folder (promoted configs, a hand-made one): nothing to compare
    edited = [(name, text) for name, text in configs if hashes.get(name) != config_hash(text)]
    if not edited:
        return
    kconf = load_kconfig()
    problems = [err for name, text in edited for err in read_config(kconf, config_dir / name, text).errors]
    names = ", ".join(name for name, _ in edited[:5]) + (", ..." if len(edited) > 5 else "")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise sweep_plan.PlanError(f"{shown} (edited after generation: {names}); nothing was started")
    print(f"  NOTE    {plural(len(edited), 'config')} edited after generation ({names}): they run as edited")


def check_builtin_trainer_accepts(configs: list[tuple[str, str]], epochs: int | None) -> None:
    """Refuse a sweep the built-in trainer would refuse run by run (each at once): say why, once."""
    cross_checks = trainer.checks().cross_checks  # torch-free: the trainer's own rules, dataset sizes known

    refused = {name: problems for name, text in configs if (problems := cross_checks(text, epochs, name))}
    if len(refused) == len(configs):
        first = next(iter(refused.values()))[0]
        raise sweep_plan.PlanError(
            f"all {plural(len(configs), 'config')} would be refused by the built-in trainer, "
            f"e.g. {first}; nothing was started"
        )
    if refused:
        names = ", ".join(list(refused)[:3]) + (", ..." if len(refused) > 3 else "")
        print(f"  NOTE    {len(refused)} of {len(configs)} configs will be refused by the trainer ({names})")
    for note in trainer.data_notes([text for _, text in configs]):
        print(f"  NOTE    {note}")


def extend(request: RunRequest, folder: SweepFolder, configs: list, kept: dict) -> int:
    """Extend the sweep's plan by `configs` (none on resume); how many runs that added.
    `kept` is what sweep.json keeps (options_for)."""
    saved = folder.options
    if request.resume and request.given.get("epochs") not in (None, saved.get("epochs")):
        raise sweep_plan.PlanError(
            f"EPOCHS applies when a sweep is planned; {folder.path} was planned with "
            + (
                f"EPOCHS={saved['epochs']}"
                if saved.get("epochs")
                else "no EPOCHS (each config's own NUM_EPOCHS)"
            )
            + ": start a new sweep for other epochs"
        )
    if saved.get("jobs") and kept["jobs"] != saved["jobs"]:
        print(
            f"  NOTE    JOBS={kept['jobs']} where this sweep ran JOBS={saved['jobs']}: its new runs get "
            "another CPU thread count, and PyTorch's CPU results depend on it (the report says which differ)"
        )
    if not configs:
        return 0
    # Options (and where the new configs came from) are durable before the plan grows.
    folder.record(request.config_dir, kept, shown_as=request.config_dir_shown)
    added = folder.extend(configs, kept["epochs"])
    folder.record(request.config_dir, kept, shown_as=request.config_dir_shown)
    return added


def runs_to_do(sweep_dir: Path, plan: list, retry_failed: bool) -> list:
    """The runs not finished yet (no runner is working on them: the caller holds the lock)."""
    rows = run_states(sweep_dir, plan, alive=False)
    return [run for run, run_state, _ in rows if state.needs_run(run_state, retry_failed)]


def run_locked(request, folder: SweepFolder, added: int, options: Values, signals) -> int:
    sweep_dir, plan = folder.path, folder.plan
    todo = runs_to_do(sweep_dir, plan, options.retry_failed)
    extended = f", {added} new" if request.sweep is not None and not request.resume else ""
    total = len(plan)
    if options.search != "grid":
        configs, seeds = strategy.space_size(sweep_dir)
        samples = options.samples if configs is None else min(options.samples or configs, configs)
        total = max(len(plan), samples * seeds)
        each = f", {seeds} seeds each" if seeds > 1 else ""
        space_shown = "continuous space" if configs is None else f"{configs}-point space"
        proposed = plural(total // seeds, "config")
        print(
            f"  SEARCH  {options.search} (SEARCH_SEED={options.search_seed}): {proposed} of a "
            f"{space_shown}{each}, {len(plan) // seeds} proposed so far"
        )
    if options.pruner != "none":
        print(
            f"  PRUNER  {options.pruner} on {options.metric}, from epoch {options.pruner_min_epochs}"
            + (f", keeping 1/{options.pruner_reduction} at each rung" if options.pruner == "asha" else "")
        )
    todo_count = len(todo) + total - len(plan)
    print(f"  SWEEP   {display(sweep_dir)}: {plural(total, 'run')}{extended}, {todo_count} to do")
    if not todo_count:
        print(no_work_hint(sweep_dir, plan, options.retry_failed))
    observers = [ProgressBar(request.show_progress), SummaryObserver(sweep_dir)]
    trackers = parse_trackers(options.tracker)
    if trackers:
        observers.append(TrackingObserver(sweep_dir, trackers))
    result = train(folder, todo, total, options, Observers(observers), signals)
    plan = folder.plan  # a search has grown it
    signals.phase = "analysis"  # a Ctrl-C now waits for the analysis (a second one does not)
    resume = resume_command(sweep_dir)
    if result.disk_full:
        print(f"error: no space left ({result.disk_full}); free some and run: {resume}", file=sys.stderr)
        return EXIT_FAILED
    pause_point("analysis")
    if request.report is not None:
        request.report(sweep_dir, request.metric, request.mode)
    if result.launcher_error:
        print(
            f"error: {result.launcher_error}; finished runs are kept. Resume with: {resume}", file=sys.stderr
        )
        return EXIT_FAILED
    if result.interrupted or signals.requested():
        print(f"  STOP    interrupted; finished runs are kept. Resume with: {resume}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.stopped_on_failure:
        print(f"  STOP    a run failed and STOP_ON_FAILURE=1. Resume with: {resume}", file=sys.stderr)
        return EXIT_FAILED
    if not any_completed(sweep_dir, plan):
        print(f"error: no run of {display(sweep_dir)} completed; see its sweep_analysis.txt", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def train(
    folder: SweepFolder, todo, total: int, options: Values, observers: Observers, signals
) -> SweepResult:
    """Run `todo` (and what the strategy proposes, up to `total` runs) with the scheduler,
    telling `observers`; stop requests stop the runs instead of raising."""
    plan_size = len(folder.plan)
    observers.sweep_started(total, plan_size - len(todo))
    signals.phase = "running"  # from here on, a stop request stops runs: it never abandons them
    launcher = None
    try:
        if todo or total > plan_size:
            epochs = folder.options.get("epochs")
            chosen = strategy.make_strategy(folder, options, epochs, trainer_refuses(options, epochs))
            try:
                launcher = make_launcher(options, len(todo))
            except LauncherError as err:  # e.g. the cluster refused the driver: nothing was started
                return SweepResult(launcher_error=str(err))
            pause_point("warming-up")
            git = folder.manifest.get("git_commit") or ""
            base_env = {**project_env(), "KSWEEP_GIT_COMMIT": git}
            if chosen.watches_epochs:  # each epoch waits for its verdict: the same pruning on any machine
                base_env[verdict.ENV] = "1"
            scheduler = Scheduler(
                folder,
                todo,
                options,
                launcher,
                observers,
                base_env,
                signals.requested,
                chosen,
                stop_now=signals.stop_now,
            )
            result = scheduler.run()
        else:
            result = SweepResult()
    finally:
        if launcher is not None:
            launcher.close()
        observers.sweep_finished(None)
    return result


def trainer_refuses(options: Values, epochs: int | None):
    """Why the built-in trainer would refuse a proposed config (a custom one: never known)."""
    if options.train_command:
        return lambda text: []
    cross_checks = trainer.checks().cross_checks
    return lambda text: cross_checks(text, epochs, "proposal")


def any_completed(sweep_dir: Path, plan: list) -> bool:
    return any(run_state == state.COMPLETED for _, run_state, _ in run_states(sweep_dir, plan, alive=False))


def no_work_hint(sweep_dir: Path, plan: list, retry_failed: bool) -> str:
    rows = run_states(sweep_dir, plan, alive=False)
    failures = [run for run, run_state, _ in rows if run_state in state.RETRYABLE]
    if failures and not retry_failed:
        return (
            f"  NOTE    every run is finished; {plural(len(failures), 'run')} failed or timed out: "
            f"rerun them with RETRY_FAILED=1 ({resume_command(sweep_dir, retry_failed=1)})"
        )
    return "  NOTE    every run is finished: nothing to do"


def resume_command(sweep_dir: Path, **more) -> str:
    return command_line("sweep-resume", sweep=shlex.quote(display(sweep_dir)), **more)
