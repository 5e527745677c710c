"""Run: every planned config trained once, surviving crashes, hangs and Ctrl-C, resumable.

    make sweep-run                        sweep_configs/ → a new test_matrix_results/sweep_*/
    make sweep-run SWEEP=dir              extend that sweep with the configs it has not run
    make sweep-resume [SWEEP=dir]         continue the newest sweep (or dir) from its own plan
    make sweep-run DRY_RUN=1              what would run, and why the trainer would refuse it
    python scripts/run_test_matrix.py --config-dir sweep_configs --output-dir DIR

The stage, in order: check the request (TRAIN_COMMAND, METRIC) before anything is
written; plan (a new sweep folder appears whole, its options before its plan, see
ksweep.plan; an existing one is extended by config hash); take the sweep's lock; run
what is not finished (ksweep.scheduler, through a launcher, ksweep.launch, with the
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
from dataclasses import dataclass, field
from pathlib import Path

from ksweep import plan as sweep_plan
from ksweep import state, strategy
from ksweep.backends import BackendError, check_backend, make_launcher
from ksweep.launch import CommandError, LauncherError, check_train_command, project_env
from ksweep.lock import LockError, SweepLock
from ksweep.observers import Observers, ProgressBar, SummaryObserver
from ksweep.paths import NotFound, display, find_sweep
from ksweep.pause import pause_point
from ksweep.progress import run_states
from ksweep.scheduler import RunnerOptions, Scheduler, SweepResult
from ksweep.strategy import EPOCH_METRICS, SearchSettings, StrategyError
from ksweep.summary import MetricError
from ksweep.sweepdir import SweepPaths
from ksweep.tracking import TrackerError, TrackingObserver, parse_trackers

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Runner options kept in sweep.json, so a resume runs the sweep the way it was started.
PERSISTED = ("epochs", "jobs", "jobs_per_gpu", "run_timeout", "retries", "train_command")
PERSISTED += ("search", "samples", "search_seed", "pruner", "pruner_min_epochs", "pruner_reduction")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM outside the phase that stops runs itself."""


@dataclass
class RunRequest:
    """What the user asked of the run stage (the flags of scripts/run_test_matrix.py)."""

    config_dir: Path = Path("sweep_configs")
    output_dir: Path = Path("test_matrix_results")
    sweep: Path | None = None
    resume: bool = False
    dry_run: bool = False
    metric: str = "val_acc"
    mode: str | None = None
    show_progress: bool = True
    given: dict = field(default_factory=dict)  # PERSISTED options given on the command line
    retry_failed: bool = False
    stop_on_failure: bool = False
    backend: str = "local"  # where runs execute; not kept: a resume may run elsewhere
    backend_options: dict = field(default_factory=dict)
    trackers: str | None = None  # TRACKER=mlflow,tensorboard: live logging; not kept either


class StopSignals:
    """SIGINT/SIGTERM for the whole stage: raise while planning, only note while runs are stopped."""

    def __init__(self):
        self.received: int | None = None
        self.deferred = False

    def __enter__(self) -> StopSignals:
        self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        first = self.received is None
        self.received = signum
        if not (self.deferred and first):  # a second Ctrl-C means now
            raise Interrupted()

    def requested(self) -> bool:
        return self.received is not None


def run_stage(request: RunRequest) -> int:
    """The whole run stage for one command; returns the exit code."""
    with StopSignals() as signals:
        sweep_dir = None
        try:
            sweep_dir = chosen_sweep(request)
            check_request(request, sweep_dir)
            if request.dry_run:
                from ksweep.dryrun import dry_run

                return dry_run(request, sweep_dir)
            return plan_and_run(request, sweep_dir, signals)
        except (
            NotFound,
            sweep_plan.PlanError,
            LockError,
            CommandError,
            MetricError,
            BackendError,
            StrategyError,
            TrackerError,
        ) as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
        except OSError as err:  # a full disk or a read-only OUTPUT while planning: nothing ran
            print(f"error: {err}", file=sys.stderr)
            return EXIT_FAILED
        except Interrupted:
            where = f"; resume with: {resume_command(sweep_dir)}" if sweep_dir else ""
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


def check_request(request: RunRequest, sweep_dir: Path | None) -> None:
    """Refuse what cannot work before anything is written or trained."""
    command = options_for(request, saved_options(sweep_dir), sweep_dir)[1]["train_command"]
    if command:
        check_train_command(command)
    check_backend(request.backend, request.backend_options)
    from ksweep.summary import check_metric

    request.mode = check_metric(request.metric, request.mode)
    parse_trackers(request.trackers)
    check_search(options_for(request, saved_options(sweep_dir), sweep_dir)[0].search, request, sweep_dir)


def check_search(settings: SearchSettings, request: RunRequest, sweep_dir: Path | None) -> None:
    if not settings.uses_optuna:
        return
    strategy.optuna_module()  # installed, or one line saying how
    if settings.search != "grid" and not settings.samples and sweep_dir is None:
        raise StrategyError(f"SEARCH={settings.search} needs SAMPLES=N (the number of runs)")
    if settings.pruner != "none" and settings.metric not in EPOCH_METRICS:
        raise StrategyError(
            f"PRUNER={settings.pruner} follows METRIC epoch by epoch: METRIC={settings.metric} is not "
            f"in a run's per-epoch record (one of {', '.join(EPOCH_METRICS)})"
        )
    if settings.search != "grid" and sweep_dir is not None and not request.resume:
        if not SweepPaths(sweep_dir).space.exists():
            raise StrategyError(f"{display(sweep_dir)} is a grid sweep: SEARCH= applies to a new sweep")
        raise StrategyError("a search sweep grows by its own proposals: resume it, or start a new one")


def saved_options(sweep_dir: Path | None) -> dict:
    return sweep_plan.read_manifest(sweep_dir).get("options", {}) if sweep_dir else {}


def options_for(request: RunRequest, saved: dict, sweep_dir: Path | None) -> tuple[RunnerOptions, dict]:
    """Options from the command line, else as the sweep was started, else as its configs were made."""
    source = {} if request.resume else sweep_plan.config_source(request.config_dir)
    chosen = {}
    for name in PERSISTED:
        given = request.given.get(name)
        chosen[name] = given if given is not None else saved.get(name, source.get(name))
    options = RunnerOptions(
        jobs=chosen["jobs"],
        jobs_per_gpu=chosen["jobs_per_gpu"] or 1,
        run_timeout=chosen["run_timeout"],
        retries=chosen["retries"] or 0,
        retry_failed=request.retry_failed,
        stop_on_failure=request.stop_on_failure,
        train_command=chosen["train_command"],
        backend=request.backend,
        backend_options=request.backend_options,
        search=SearchSettings(
            search=chosen["search"] or "grid",
            samples=chosen["samples"],
            seed=chosen["search_seed"] or 0,
            pruner=chosen["pruner"] or "none",
            min_epochs=chosen["pruner_min_epochs"] or 1,
            reduction=chosen["pruner_reduction"] or 3,
            metric=request.metric,
            maximize=request.mode != "min",
        ),
    )
    return options, chosen


def plan_and_run(request: RunRequest, sweep_dir: Path | None, signals: StopSignals) -> int:
    configs = [] if request.resume else sweep_plan.read_config_dir(request.config_dir)
    options, chosen = options_for(request, saved_options(sweep_dir), sweep_dir)
    if configs and not options.train_command:
        check_builtin_trainer_accepts(configs, chosen["epochs"])
    if sweep_dir is not None:
        with SweepLock(sweep_dir):
            plan, added, options = extend(request, sweep_dir, configs)
            return run_locked(request, sweep_dir, plan, added, options, signals)
    sweep_plan.discard_unpublished(request.output_dir)
    building = sweep_plan.new_sweep_dir(request.output_dir)
    try:
        with SweepLock(building):
            sweep_plan.write_manifest(building, request.config_dir, len(configs), chosen)
            pause_point("manifest-written")
            if options.search.search != "grid":  # the grid is what a search proposes from
                strategy.write_space(building, search_params(request.config_dir), [t for _, t in configs])
                configs = []
            plan, _ = sweep_plan.extend_plan(building, configs, chosen["epochs"])
            sweep_plan.write_manifest(building, request.config_dir, len(plan), chosen)
            pause_point("planned")
            sweep_dir = sweep_plan.publish_sweep_dir(building)
            plan, added, options = extend(request, sweep_dir, [])
            return run_locked(request, sweep_dir, plan, added, options, signals)
    finally:
        shutil.rmtree(building, ignore_errors=True)  # gone already once published


def search_params(config_dir: Path) -> list:
    """The search's parameters, from the range file sweep_configs/ was generated from."""
    from ksweep.kconf import load_kconfig
    from ksweep.rangefile import parse_range_text
    from ksweep.space import params_of

    source = sweep_plan.config_source(config_dir)
    if not source.get("range_text"):
        raise StrategyError(f"SEARCH= needs {config_dir}/ generated from a range file (make sweep-generate)")
    axes = parse_range_text(source["range_text"], source.get("range_file") or "<range>")
    kconf = load_kconfig()
    choice_of = {}
    for axis in axes:
        sym = kconf.syms.get(axis.name)
        if axis.is_swept and sym is not None and sym.choice is not None and set(axis.values) <= {"y", "n"}:
            choice_of[axis.symbol] = f"CONFIG_{sym.choice.name}" if sym.choice.name else axis.symbol
    return params_of(axes, choice_of)


def check_builtin_trainer_accepts(configs: list[tuple[str, str]], epochs: int | None) -> None:
    """Refuse a sweep the built-in trainer would refuse run by run (each at once): say why, once."""
    from models.config import cross_checks  # torch-free: the trainer's own rules, dataset sizes known

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


def extend(request: RunRequest, sweep_dir: Path, configs: list) -> tuple[list, int, RunnerOptions]:
    """The sweep's plan, extended by `configs` (none on resume), with the options to run it."""
    saved = saved_options(sweep_dir)
    if request.resume and request.given.get("epochs") not in (None, saved.get("epochs")):
        raise sweep_plan.PlanError(
            f"EPOCHS applies when a sweep is planned; {sweep_dir} was planned with "
            + (
                f"EPOCHS={saved['epochs']}"
                if saved.get("epochs")
                else "no EPOCHS (each config's own NUM_EPOCHS)"
            )
            + ": start a new sweep for other epochs"
        )
    options, chosen = options_for(request, saved, sweep_dir)
    if saved.get("jobs") and chosen["jobs"] != saved["jobs"]:
        print(
            f"  NOTE    JOBS={chosen['jobs']} where this sweep ran JOBS={saved['jobs']}: its new runs get "
            "another CPU thread count, and PyTorch's CPU results depend on it (the report says which differ)"
        )
    if not configs:
        return sweep_plan.load_plan(sweep_dir), 0, options
    # Options (and where the new configs came from) are durable before the plan grows.
    sweep_plan.write_manifest(sweep_dir, request.config_dir, len(sweep_plan.load_plan(sweep_dir)), chosen)
    plan, added = sweep_plan.extend_plan(sweep_dir, configs, chosen["epochs"])
    sweep_plan.write_manifest(sweep_dir, request.config_dir, len(plan), chosen)
    return plan, added, options


def runs_to_do(sweep_dir: Path, plan: list, retry_failed: bool) -> list:
    """The runs not finished yet (no runner is working on them: the caller holds the lock)."""
    rows = run_states(sweep_dir, plan, alive=False)
    return [run for run, run_state, _ in rows if state.needs_run(run_state, retry_failed)]


def run_locked(request, sweep_dir: Path, plan: list, added: int, options: RunnerOptions, signals) -> int:
    todo = runs_to_do(sweep_dir, plan, options.retry_failed)
    extended = f", {added} new" if request.sweep is not None and not request.resume else ""
    search = options.search
    total = len(plan)
    if search.search != "grid":
        points = strategy.space_size(sweep_dir)
        total = max(len(plan), min(search.samples or points, points))
        print(
            f"  SEARCH  {search.search} (SEARCH_SEED={search.seed}): {total} of a {points}-point grid, "
            f"{len(plan)} proposed so far"
        )
    if search.pruner != "none":
        print(
            f"  PRUNER  {search.pruner} on {search.metric}, from epoch {search.min_epochs}"
            + (f", keeping 1/{search.reduction} at each rung" if search.pruner == "asha" else "")
        )
    todo_count = len(todo) + total - len(plan)
    print(f"  SWEEP   {display(sweep_dir)}: {plural(total, 'run')}{extended}, {todo_count} to do")
    if not todo_count:
        print(no_work_hint(sweep_dir, plan, options.retry_failed))
    observers = [ProgressBar(request.show_progress), SummaryObserver(sweep_dir)]
    trackers = parse_trackers(request.trackers)
    if trackers:
        observers.append(TrackingObserver(sweep_dir, trackers))
    result = train(sweep_dir, todo, total, options, Observers(observers), signals)
    plan = sweep_plan.load_plan(sweep_dir)  # a search has grown it
    signals.deferred = True  # a Ctrl-C now waits for the analysis (a second one does not)
    resume = resume_command(sweep_dir)
    if result.disk_full:
        print(f"error: no space left ({result.disk_full}); free some and run: {resume}", file=sys.stderr)
        return EXIT_FAILED
    pause_point("analysis")
    analyze(sweep_dir, request.metric, request.mode)
    if result.launcher_error:
        print(
            f"error: {result.launcher_error}; finished runs are kept. Resume with: {resume}", file=sys.stderr
        )
        return EXIT_FAILED
    if result.interrupted or signals.requested():
        print(f"  STOP    interrupted; finished runs are kept. Resume with: {resume}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.stopped_on_failure:
        print(f"  STOP    a run failed and STOP_ON_FAILURE=1; resume with: {resume}", file=sys.stderr)
        return EXIT_FAILED
    if not any_completed(sweep_dir, plan):
        print(f"error: no run of {display(sweep_dir)} completed; see its sweep_analysis.txt", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def train(sweep_dir, todo, total: int, options: RunnerOptions, observers: Observers, signals) -> SweepResult:
    """Run `todo` (and what the strategy proposes, up to `total` runs) with the scheduler,
    telling `observers`; stop requests stop the runs instead of raising."""
    plan_size = len(sweep_plan.load_plan(sweep_dir))
    observers.sweep_started(total, plan_size - len(todo))
    signals.deferred = True
    launcher = None
    try:
        if todo or total > plan_size:
            chosen = strategy.make_strategy(sweep_dir, options.search, saved_options(sweep_dir).get("epochs"))
            try:
                launcher = make_launcher(options, len(todo))
            except LauncherError as err:  # e.g. the cluster refused the driver: nothing was started
                return SweepResult(launcher_error=str(err))
            pause_point("warming-up")
            git = sweep_plan.read_manifest(sweep_dir).get("git_commit") or ""
            base_env = {**project_env(), "KSWEEP_GIT_COMMIT": git}
            scheduler = Scheduler(
                sweep_dir, todo, options, launcher, observers, base_env, signals.requested, chosen
            )
            result = scheduler.run()
        else:
            result = SweepResult()
    finally:
        if launcher is not None:
            launcher.close()
        observers.sweep_finished(None)
    return result


def any_completed(sweep_dir: Path, plan: list) -> bool:
    return any(run_state == state.COMPLETED for _, run_state, _ in run_states(sweep_dir, plan, alive=False))


def no_work_hint(sweep_dir: Path, plan: list, retry_failed: bool) -> str:
    rows = run_states(sweep_dir, plan, alive=False)
    failures = [run for run, run_state, _ in rows if run_state in state.RETRYABLE]
    if failures and not retry_failed:
        return (
            f"  NOTE    every run is finished; {plural(len(failures), 'run')} failed or timed out: "
            f"rerun them with RETRY_FAILED=1 ({resume_command(sweep_dir)} RETRY_FAILED=1)"
        )
    return "  NOTE    every run is finished: nothing to do"


def analyze(sweep_dir: Path, metric: str, mode: str | None) -> None:
    from ksweep.analyze import AnalyzeError, write_report

    try:
        result = write_report(sweep_dir, metric=metric, mode=mode)
    except AnalyzeError as err:
        print(f"  ANALYZE {display(sweep_dir)}: {err}")
        return
    best = result.best
    if best is None:
        print(f"  REPORT  {display(result.path)} (no completed run to rank)")
        return
    value = best.get(metric)
    shown = f"{metric} {value:.2f}" if isinstance(value, (int, float)) else f"{metric} {value}"
    print(f"  BEST    {best['run_dir']} ({shown}) → {display(result.path)}")


def resume_command(sweep_dir: Path) -> str:
    return f"make sweep-resume SWEEP={shlex.quote(display(sweep_dir))}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
